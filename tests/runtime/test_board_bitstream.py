"""`candle-hw bitstream BUILD --board`: the fit is checked from the shell's synthesis plus the network's estimate
before anything is placed; a real iCEBreaker image has the shell on the board's UART pins (slow: P&R)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from candle_hw.cli import main as cli_main
from candle_hw.compile.board import board_constraints, get_board
from candle_hw.compile.emit import emit_rtl
from candle_hw.compile.ir import DataflowGraph, MatrixVectorUnit
from candle_hw.compile.pipeline import CompileOptions, compile_model
from candle_hw.types import BIPOLAR, IntType

pytestmark = pytest.mark.rtl
FINN_TFC_FOLDING = [{"pe": 16, "simd": 49}, {"pe": 8, "simd": 8}, {"pe": 8, "simd": 8}, {"pe": 10, "simd": 8}]


def test_too_big_for_the_up5k_is_refused_before_place_and_route(tmp_path, tfc_path, capsys):
    build = tmp_path / "tfc"
    compile_model(tfc_path, build, CompileOptions(folding=FINN_TFC_FOLDING))  # ~6,900 LUT4 estimated
    assert cli_main(["bitstream", str(build), "--board", "icebreaker"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not fit ice40-up5k" in err[0] and "before place and route" in err[0], err
    assert "LUT" in err[0]
    assert not (build / "bitstream" / "icebreaker.bin").exists()
    assert not (build / "reports" / "board_icebreaker.json").exists()


@pytest.mark.slow
def test_icebreaker_image_with_the_shell_on_the_uart_pins(tmp_path, capsys):
    rng = np.random.default_rng(0)
    acc = IntType.for_range(0, 8)
    g = DataflowGraph((MatrixVectorUnit("fc0", 8, 16, 4, 8, BIPOLAR, acc, acc, True, n_thresholds=0),),
                      {"fc0.weights": (2 * rng.integers(0, 2, size=(8, 16)) - 1).astype(np.int8)})
    build = tmp_path / "small"
    g.save(build)
    emit_rtl(g, build / "rtl")
    assert cli_main(["bitstream", str(build), "--board", "icebreaker"]) == 0
    out = capsys.readouterr().out
    assert "shell (synthesis)" in out and "network (estimate)" in out and "iceprog" in out
    r = json.loads((build / "reports" / "board_icebreaker.json").read_text())
    assert (build / "bitstream" / "icebreaker.bin").stat().st_size == r["size_bytes"] == 104_090
    assert r["shell"]["resources_synth"]["LUT"] <= 800
    assert r["timing_met"] and r["fmax_mhz"] >= 12.0
    assert (build / "bitstream" / "icebreaker.pcf").read_text() == board_constraints(get_board("icebreaker"), "pcf", 12.0)
    assert r["pins"] == {"clk": "35", "rst_in": "10", "uart_rx": "6", "uart_tx": "9"}
