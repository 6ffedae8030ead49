"""Yosys on blocks alone (compile/synth.py synthesize_block): the residual blocks, on counts that follow from
the RTL, and how a block gets its string parameters."""
from __future__ import annotations

import numpy as np
import pytest

from candle_hw.compile.emit import hdl_params
from candle_hw.compile.ir import AddStreams, DataflowGraph, DuplicateStreams, MatrixVectorUnit
from candle_hw.compile.synth import synthesize_block
from candle_hw.sim.packing import write_memh
from candle_hw.types import BIPOLAR, sint, uint

pytestmark = pytest.mark.rtl


def test_add_streams_registers_only_the_bits_that_vary(tmp_path) -> None:
    """±1 + ±1 is -2, 0 or 2: bit 0 of the INT3 sum is constant and its register disappears, so PE lanes keep
    2 flip-flops each, plus the output valid."""
    pe = 4
    node = AddStreams("add", (1, 2, 2, 8), (BIPOLAR, BIPOLAR), sint(3), pe)
    r = synthesize_block("add_streams", hdl_params(node, None).params, "xc7z020", tmp_path / "add")
    assert r["FF"] == 2 * pe + 1 and 0 < r["LUT"] <= 4 * pe
    assert r["synth_command"].startswith("synth_xilinx")


def test_duplicate_streams_is_its_taken_flags(tmp_path) -> None:
    """No data register: the only flip-flops are one taken flag per output."""
    node = DuplicateStreams("dup", (1, 4, 4, 8), sint(4), 8, n_out=3)
    r = synthesize_block("duplicate_streams", hdl_params(node, None).params, "xc7z020", tmp_path / "dup")
    assert r["FF"] == 3 and r["LUT"] <= 3 * 3 and r["BRAM_18K"] == 0


def test_build_report_gives_residual_blocks_their_pe() -> None:
    """In a build's report an add or duplicate block carries its elements per word and LUT per element (what
    its cost scales with), without being counted among the matrix units' lanes."""
    from fixtures.handbuilt_graphs import residual_graph

    from candle_hw.compile.synth import _block_entry
    from candle_hw.devices import get_device

    g = residual_graph(pe=4)
    modules = {"$paramod\\add_streams\\PE=4": {"LUT3": 8, "LUT2": 4, "FDRE": 9}}
    e = _block_entry("add", "$paramod\\add_streams\\PE=4", modules, get_device("xc7z020"), g, None)
    assert e["kind"] == "AddStreams" and e["pe"] == 4 and e["LUT"] == 12 and e["LUT_per_elem"] == 3.0
    assert "lanes" not in e


def test_block_string_parameter_reaches_the_hdl(tmp_path) -> None:
    """A string parameter (a memory style, a .mem file name) goes to Yosys as the bit constant of the string:
    `hierarchy -chparam` refuses a quoted string. RAM_STYLE "block" on a 32-deep FIFO (which "auto" would put
    in LUT RAM) must come out as block RAM."""
    from candle_hw.compile.synth import chparam_value

    assert chparam_value("block") == "40'h626c6f636b" and chparam_value(7) == "7" and chparam_value(True) == "1"
    assert chparam_value("32'h00c0ffee") == "32'h00c0ffee"  # a sized literal (the board shell's BUILD_HASH) as given
    r = synthesize_block("fifo", {"WIDTH": 8, "DEPTH": 32, "RAM_STYLE": "block"}, "xc7z020", tmp_path / "fifo")
    assert r["BRAM_18K"] >= 1 and r["LUTRAM"] == 0


def test_kbit_matrix_unit_synthesises_alone(tmp_path) -> None:
    """A k-bit weight matrix unit as the top of its own synthesis: Yosys must derive it with its parameters even
    though its dot-product submodule is derived only afterwards (`hierarchy -chparam` asserted there in Yosys
    0.70, so no W2A2 layer could be measured alone). Its 16-bit x 4-word weight ROM in the "block" style is one
    RAMB18: the parameters reached the HDL."""
    mw, mh, pe, simd = 8, 4, 2, 4
    acc = sint(8)  # |sum| <= mw * 3 * 2 = 48
    node = MatrixVectorUnit("fc", mw, mh, pe, simd, uint(2), acc, acc, False, n_thresholds=0,
                            weight_type=sint(2), weight_style="block")
    w = np.random.default_rng(0).integers(-2, 2, size=(mw, mh)).astype(np.int8)
    inst = hdl_params(node, DataflowGraph((node,), params={"fc.weights": w}))
    work = tmp_path / "mvu"
    work.mkdir()
    for fname, (words, width) in inst.mems.items():
        write_memh(work / fname, words, width)
    r = synthesize_block("mvu", inst.params, "xc7z020", work)
    assert r["BRAM_18K"] == 1 and r["DSP"] == 0 and r["LUT"] > 0
