"""``candle-hw bitstream BUILD --board pynq-z1``: a Vivado block design (Zynq PS + AXI DMA + AXI GPIO + the network
as an AXI-Stream IP, hw_templates/vivado/pynq_bd.tcl.j2 and hw_templates/board/axis_wrap.sv) in
BUILD/vivado_pynq/. Vivado is not available here: nothing is run, and the report says so. The host side is
candle_hw/runtime/pynq.py (beats laid out by sim/packing.py pack_dma)."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from candle_hw.compile.board import shell_source_text
from candle_hw.compile.synth import check_build, rtl_sources, _write_json_atomic
from candle_hw.devices import get_device
from candle_hw.sim.packing import dma_bytes


def pynq_project(build: Path, board: dict[str, Any]) -> dict[str, Any]:
    import jinja2
    from importlib import resources

    from candle_hw.compile.ir import DataflowGraph

    build = Path(build)
    rtl = check_build(build)
    device = get_device(board["device"])
    g = DataflowGraph.load(build)
    sin, sout = g.input_stream, g.output_stream
    name = "candle_hw_" + board["name"].replace("-", "_")
    ctx = {"title": board["title"], "part": device.part, "board": board["name"], "name": name,
           "sources": [p.name for p in rtl_sources(rtl)], "s_w": sin.width_bits, "m_w": sout.width_bits,
           "dma_in_w": 8 * dma_bytes(sin.width_bits), "dma_out_w": 8 * dma_bytes(sout.width_bits),
           "out_words": sout.words_per_frame, "fclk_mhz": f"{board['fclk_mhz']:g}"}
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    tpl = resources.files("candle_hw.hw_templates").joinpath("vivado", "pynq_bd.tcl.j2").read_text()
    out = build / "vivado_pynq"
    tmp = Path(tempfile.mkdtemp(prefix=".vivado_pynq-", dir=build))
    try:
        (tmp / "pynq_bd.tcl").write_text(env.from_string(tpl).render(**ctx))
        (tmp / "axis_wrap.sv").write_text(shell_source_text("axis_wrap.sv"))
        tmp.chmod(0o755)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report = {"board": board["name"], "title": board["title"], "part": device.part, "run": False,
              "vivado_dir": "vivado_pynq", "scripts": ["pynq_bd.tcl", "axis_wrap.sv"],
              "dma": {"in_bits": ctx["dma_in_w"], "out_bits": ctx["dma_out_w"]}, "overlay": f"{name}.bit/.hwh",
              "how_to_run": ["cd BUILD/vivado_pynq", "vivado -mode batch -source pynq_bd.tcl"],
              "note": "Vivado block design emitted, NOT run: no Vivado here."}
    (build / "reports").mkdir(exist_ok=True)
    _write_json_atomic(build / "reports" / f"board_{board['name']}.json", report)
    return report
