"""Yosys synthesis reports on a design whose resource counts can be reasoned about.

The design (tests/compile/synth_design/) is a stitched `top` with two block instances:
- ``par``: 4 registered parities of 6 inputs each. On xc7 each is exactly one LUT6 and one flip-flop; a LUT4
  cannot see 6 inputs, so iCE40 needs 2 or 3 LUT4s per parity (a 4-input LUT and a 3-input one, or a tree);
- ``mem``: a 1024 x 18 ROM read through a register and loaded by $readmemh: one RAMB18 on xc7/xcup, one DP16KD
  (1024 x 18 mode) on ECP5, five iCE40 EBRs (1024 x 4 mode, 18/4 rounded up);
and one flip-flop plus one LUT of glue in top (m_tvalid <= rst_n && s_tvalid).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from candle_hw.cli import main as cli_main
from candle_hw.compile.ir import DataflowGraph, MatrixVectorUnit
from candle_hw.compile.synth import base_module, classify_cells, flat_cells, submodule_parts, synthesize
from candle_hw.sim.packing import write_memh
from candle_hw.types import BIPOLAR

HERE = Path(__file__).parent
pytestmark = pytest.mark.rtl


def make_build(root: Path) -> Path:
    build = root / "build"
    shutil.copytree(HERE / "synth_design", build / "rtl")
    rng = np.random.default_rng(0)
    write_memh(build / "rtl" / "rom.mem", [int(v) for v in rng.integers(0, 1 << 18, 1024)], 18)
    return build


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    return make_build(tmp_path_factory.mktemp("synth"))


@pytest.fixture(scope="module")
def xc7(build) -> dict:
    return synthesize(build, "xc7z020")


def test_xc7_counts(xc7, build):
    par, mem = xc7["blocks"]["par"], xc7["blocks"]["mem"]
    assert (par["module"], mem["module"]) == ("parity6", "rom")
    assert par["cells"] == {"LUT6": 4, "FDRE": 4}
    assert (par["LUT"], par["FF"], par["BRAM_18K"], par["Carry"]) == (4, 4, 0, 0)
    assert (mem["BRAM_18K"], mem["RAMB18"], mem["BRAM_36K"], mem["LUT"]) == (1, 1, 0, 0)
    assert "parts" not in par and "parts" not in mem  # leaves: no submodules to break down
    assert (xc7["total"]["LUT"], xc7["total"]["FF"], xc7["total"]["BRAM_18K"]) == (5, 5, 1)
    assert (xc7["top_glue"]["LUT"], xc7["top_glue"]["FF"]) == (1, 1)
    assert xc7["utilisation"]["BRAM_18K"] == {"used": 1, "available": 280, "percent": round(100 / 280, 2)}
    assert xc7["fits"] and xc7["out_of_context"]
    on_disk = json.loads((build / "reports" / "synth.json").read_text())
    assert on_disk["total"] == xc7["total"]
    assert (build / "reports" / "synth_xc7z020.json").exists()
    assert not list((build / "reports").glob(".synth-*")), "work directory left behind"


def test_ultrascale_uses_its_own_primitives(build):
    r = synthesize(build, "xczu3eg")
    assert r["blocks"]["mem"]["cells"] == {"RAMB18E2": 1}
    assert r["blocks"]["par"]["LUT"] == 4


def test_ice40_counts(build):
    r = synthesize(build, "ice40-up5k")
    par, mem = r["blocks"]["par"], r["blocks"]["mem"]
    assert 8 <= par["LUT"] <= 12 and par["FF"] == 4
    assert mem["EBR"] == 5 and mem["LUT"] == 0
    assert r["utilisation"]["EBR"]["available"] == 30
    assert "-noflatten" in r["synth_command"]


def test_ecp5_counts(build):
    r = synthesize(build, "ecp5-25k")
    assert r["blocks"]["mem"]["cells"] == {"DP16KD": 1}
    assert r["blocks"]["par"]["FF"] == 4 and r["blocks"]["par"]["LUT"] >= 8


def test_mvu_lanes_come_from_the_graph(tmp_path):
    """With a dataflow.json beside rtl/, a block named after a matrix-vector unit gets LUT per lane."""
    build = make_build(tmp_path)
    mvu = MatrixVectorUnit("par", mw=24, mh=4, pe=2, simd=12, in_type=BIPOLAR, acc_type=BIPOLAR,
                           out_type=BIPOLAR, binary_xnor=True)
    DataflowGraph(nodes=(mvu,)).save(build)
    r = synthesize(build, "xc7z020")
    par = r["blocks"]["par"]
    assert (par["kind"], par["lanes"], par["LUT_per_lane"]) == ("MatrixVectorUnit", 24, round(4 / 24, 3))
    assert r["mvu_lanes"] == 24


def test_cli_synth(build, capsys):
    assert cli_main(["synth", str(build), "--target", "ecp5-25k"]) == 0
    out = capsys.readouterr().out
    assert "par" in out and "mem" in out and "EBR" in out
    assert json.loads((build / "reports" / "synth.json").read_text())["target"] == "ecp5-25k"


def test_cli_refuses_unknown_target_and_missing_rtl(tmp_path, capsys):
    assert cli_main(["synth", str(tmp_path), "--target", "nosuchfpga"]) == 2
    assert cli_main(["synth", str(tmp_path), "--target", "xc7z020"]) == 2
    assert "rtl/top.sv" in capsys.readouterr().err


# -- pure helpers (no tools) --------------------------------------------------------------------------
@pytest.mark.parametrize("derived, base", [("$paramod$0123abcd\\mvu", "mvu"), ("$paramod\\fifo\\DEPTH=s32'1", "fifo"),
                                           ("\\top", "top"), ("swg", "swg")])
def test_base_module(derived, base):
    assert base_module(derived) == base


def test_flat_cells_multiplies_through_the_hierarchy():
    modules = {"top": {"a": 2, "LUT6": 1}, "a": {"b": 3, "FDRE": 1}, "b": {"LUT2": 2, "$scopeinfo": 1}}
    assert flat_cells(modules, "top") == {"LUT6": 1, "FDRE": 2, "LUT2": 12}


def test_submodule_parts_show_where_a_block_spends():
    modules = {"m": {"LUT6": 3, "FDRE": 1, "$paramod$ab\\pop": 2, "$paramod$cd\\pop": 1},
               "$paramod$ab\\pop": {"LUT6": 5}, "$paramod$cd\\pop": {"LUT6": 7, "FDRE": 2}}
    parts = submodule_parts(modules, "m", "xc7")
    assert parts == {"(own logic)": {"count": 1, "LUT": 3, "FF": 1}, "pop": {"count": 3, "LUT": 17, "FF": 2}}
    assert submodule_parts({"leaf": {"LUT6": 1}}, "leaf", "xc7") == {}


def test_classify_xilinx_memories_and_lutram():
    r = classify_cells({"LUT6": 10, "RAM64M": 2, "SRLC32E": 3, "RAMB36E1": 2, "RAMB18E1": 1, "CARRY4": 4,
                        "DSP48E1": 1, "FDCE": 7, "INV": 1}, "xc7")
    assert (r["LUT"], r["LUT_logic"], r["LUTRAM"], r["SRL"]) == (22, 11, 8, 3)
    assert (r["BRAM_18K"], r["BRAM_36K"], r["Carry"], r["DSP"], r["FF"]) == (5, 2, 4, 1, 7)


def test_classify_ecp5_counts_luts_inside_carry_cells():
    r = classify_cells({"LUT4": 10, "CCU2C": 3, "TRELLIS_DPR16X4": 1, "TRELLIS_FF": 5, "DP16KD": 2}, "ecp5")
    assert (r["LUT"], r["Carry"], r["LUTRAM"], r["EBR"], r["FF"]) == (20, 3, 4, 2, 5)
