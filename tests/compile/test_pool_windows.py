"""The pool_windows step (compile/passes/pool_windows.py): an overlapping max-pool becomes a sliding window and
the max-pool block as window reduction, equal to sim/golden.py maxpool at the functional and cycle levels, folded
consistently, and compiled to RTL instead of refused."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from candle_hw.cli import main
from candle_hw.compile.ir import DataflowGraph, MatrixVectorUnit, MaxPool, SlidingWindow
from candle_hw.compile.passes.fold import FoldForThroughput, finn_set_folding
from candle_hw.compile.passes.folding import ApplyFolding
from candle_hw.compile.passes.pool_windows import PoolWindows
from candle_hw.compile.passes.stitch import Stitch
from candle_hw.sim import golden
from candle_hw.sim.cycle import simulate_cycle
from candle_hw.sim.functional import run_dataflow
from candle_hw.types import BIPOLAR, IntType, sint, uint


def _values(rng: np.random.Generator, t: IntType, shape: tuple[int, ...]) -> np.ndarray:
    if t.bipolar:
        return 2 * rng.integers(0, 2, size=shape) - 1
    return rng.integers(t.min, t.max + 1, size=shape)


@settings(max_examples=12, deadline=None)
@given(h=st.integers(3, 7), w=st.integers(3, 7), ks=st.sampled_from([(2, 1), (3, 1), (3, 2)]),
       cpe=st.sampled_from([(2, 1), (4, 2), (3, 3), (6, 2)]), t=st.sampled_from([BIPOLAR, uint(2), sint(3)]),
       seed=st.integers(0, 99))
def test_lowered_pool_equals_golden_at_functional_and_cycle_level(h, w, ks, cpe, t, seed):
    (kernel, stride), (channels, pe) = ks, cpe
    pool = MaxPool("pool0", (h, w), channels, kernel, stride, t, pe)
    graph = PoolWindows()(DataflowGraph((pool,)))
    win, red = graph.nodes
    assert isinstance(win, SlidingWindow) and win.name == "pool0_win" and (win.kernel, win.stride, win.pad) == (kernel, stride, 0)
    assert isinstance(red, MaxPool) and red.name == "pool0" and red.kernel == red.stride == kernel
    assert PoolWindows()(graph) == graph  # idempotent
    x = _values(np.random.default_rng(seed), t, (3, h, w, channels))
    expected = golden.maxpool(x, kernel, stride)
    np.testing.assert_array_equal(run_dataflow(graph, x).reshape(expected.shape), expected)
    res = simulate_cycle(Stitch()(graph), x)
    assert res.mismatch is None
    np.testing.assert_array_equal(np.asarray(res.outputs).reshape(expected.shape), expected)


def test_non_overlapping_pools_are_left_alone():
    g = DataflowGraph((MaxPool("p", (6, 6), 4, 2, 2, BIPOLAR, 2), MaxPool("q", (3, 3), 4, 1, 3, BIPOLAR, 2)))
    assert PoolWindows()(g) is g


def _conv_pool_fc() -> DataflowGraph:
    """swg -> conv (6x6x8 ±1) -> max-pool 3x3 stride 1 -> fc, lowered."""
    acc = IntType.for_range(0, 18)
    nodes = (SlidingWindow("swg0", (8, 8), 2, 3, 1, 0, 0, BIPOLAR),
             MatrixVectorUnit("conv0", 18, 8, 1, 1, BIPOLAR, acc, BIPOLAR, True, num_vectors=(6, 6)),
             MaxPool("pool0", (6, 6), 8, 3, 1, BIPOLAR),
             MatrixVectorUnit("fc0", 128, 4, 1, 1, BIPOLAR, IntType.for_range(0, 128), IntType.for_range(0, 128),
                              True, n_thresholds=0))
    return PoolWindows()(DataflowGraph(nodes))


def _pool_pair(graph: DataflowGraph) -> tuple[SlidingWindow, MaxPool]:
    return graph.node("pool0_win"), graph.node("pool0")


def test_folding_keeps_the_window_and_its_reduction_on_one_word_size():
    g = ApplyFolding((("conv0", 4, 2, None), ("fc0", 2, 8, None)))(_conv_pool_fc())
    win, red = _pool_pair(g)
    assert (win.simd, red.pe) == (4, 4)  # the window follows the conv's pe, the reduction the window
    for folded in (FoldForThroughput("max", "xc7z020")(_conv_pool_fc()), finn_set_folding(_conv_pool_fc(), 300)):
        win, red = _pool_pair(folded)
        assert win.simd == red.pe
        names = [n.name for n in Stitch()(folded).nodes]
        assert names[names.index("pool0_win"):names.index("pool0")] == ["pool0_win", "fifo_pool0_win"]


def test_overlapping_pool_compiles_to_rtl(capsys, tmp_path):
    """Formerly refused right after lowering (no RTL block): now lowered by the pool_windows step and emitted."""
    from fixtures.fuzzing import export_qonnx_model
    from fixtures.random_nets import build_net, random_spec

    spec = random_spec(8)  # the generator's network with a MaxPool(3, stride 1) after two convs
    assert "M3s1" in spec.describe()
    model = export_qonnx_model(build_net(spec), tmp_path / "ovl.onnx")
    out = tmp_path / "build"
    assert main(["compile", str(model), "-o", str(out), "-q", "--dump-after", "pool_windows"]) == 0
    lowered = DataflowGraph.load(out / "dump" / "pool_windows")
    assert [n.name for n in lowered.nodes if "pool0" in n.name] == ["pool0_win", "pool0"]
    top = (out / "rtl" / "top.sv").read_text()
    assert "swg" in top and "pool0_win" in top and "maxpool" in top
