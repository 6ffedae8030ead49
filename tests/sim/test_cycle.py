"""Cycle-level simulator: values equal the functional simulator; the solver matches an independent sequential
recurrence; periodic extrapolation is exact; FIFO occupancy respects depths; deadlocks are reported."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from candle_hw.compile.estimate import node_cycles
from candle_hw.compile.ir import DataflowGraph, MatrixVectorUnit, SlidingWindow, StreamFIFO
from candle_hw.compile.passes.stitch import Stitch
from fixtures.handbuilt_graphs import cnv_graph, mlp_graph, random_frames
from candle_hw.sim.cycle import simulate_cycle, simulate_schedule
from candle_hw.sim.cycle_engine import EventSystem, SimulationError
from candle_hw.sim.cycle_models import mvu_timing, swg_frame_cycles
from fixtures.reference_graphs import tfc_graph
from candle_hw.sim.functional import run_dataflow
from candle_hw.types import BIPOLAR, IntType


@pytest.mark.parametrize("make", [lambda: mlp_graph(seed=3, k=3), lambda: cnv_graph(seed=5), lambda: tfc_graph(seed=1)])
def test_outputs_equal_functional(make) -> None:
    g = Stitch()(make())
    x = random_frames(g, 7, seed=2)
    res = simulate_cycle(g, x)
    assert res.mismatch is None
    np.testing.assert_array_equal(res.outputs, run_dataflow(g, x))
    assert res.frame_done_cycles.shape == (7,)
    assert np.all(np.diff(res.frame_done_cycles) > 0)


@pytest.mark.parametrize("capacity,free,latency,gap", [(1, 1, 1, 3), (2, 0, 3, 2), (3, 1, 2, 5), (1, 0, 1, 1)])
def test_solver_matches_sequential_recurrence(capacity: int, free: int, latency: int, gap: int) -> None:
    """Producer (one word per cycle at best) -> consumer (one word per ``gap`` cycles), finite capacity."""
    n = 200
    sys = EventSystem()
    p = sys.add_process("p", np.ones(n, dtype=np.int64))
    c = sys.add_process("c", np.full(n, gap, dtype=np.int64))
    k = np.arange(n)
    sys.add_constraint(c, k, p, k, latency)
    sys.add_constraint(p, k[capacity:], c, k[:-capacity], free)
    (tp, tc), _ = sys.solve()
    ep, ec = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for i in range(n):
        ep[i] = max(ep[i - 1] + 1 if i else 0, ec[i - capacity] + free if i >= capacity else 0)
        ec[i] = max(ec[i - 1] + gap if i else 0, ep[i] + latency)
    np.testing.assert_array_equal(tp, ep)
    np.testing.assert_array_equal(tc, ec)


def test_cyclic_wait_is_reported() -> None:
    sys = EventSystem()
    a = sys.add_process("a", np.ones(1, dtype=np.int64))
    b = sys.add_process("b", np.ones(1, dtype=np.int64))
    sys.add_constraint(a, [0], b, [0], 1)
    sys.add_constraint(b, [0], a, [0], 1)
    with pytest.raises(SimulationError, match="deadlock"):
        sys.solve(max_sweeps=50)


def test_periodic_extrapolation_is_exact() -> None:
    g = Stitch()(cnv_graph(seed=5))
    res = simulate_cycle(g, 40)
    assert res.sim_frames < 40
    full = simulate_schedule(g, 40)
    done = full.out_times[g.nodes[-1].name].reshape(40, -1)[:, -1] - full.in_times[g.nodes[0].name][0]
    np.testing.assert_array_equal(res.frame_done_cycles, done)
    assert res.interval_cycles == done[-1] - done[-2]


def _single_mvu(sf: int, nf: int, vectors: int) -> DataflowGraph:
    simd, pe = 4, 2
    mw, mh = sf * simd, nf * pe
    acc = IntType.for_range(0, mw)
    m = MatrixVectorUnit("m", mw, mh, pe, simd, BIPOLAR, acc, BIPOLAR, True, num_vectors=(vectors,))
    rng = np.random.default_rng(0)
    params = {"m.weights": rng.choice(np.array([-1, 1], dtype=np.int8), size=(mw, mh)),
              "m.thresholds": np.full((mh, 1), mw // 2, dtype=np.int64)}
    return DataflowGraph((m,), params)


@pytest.mark.parametrize("sf,nf,vectors", [(3, 4, 5), (8, 1, 3), (1, 6, 2), (5, 5, 1)])
def test_single_mvu_timing(sf: int, nf: int, vectors: int) -> None:
    """mvu.sv header: SF*NF cycles per vector with no bubble; the first output LAT cycles after the last word
    of the first fold (plus one cycle through each default FIFO around it)."""
    g = Stitch()(_single_mvu(sf, nf, vectors))
    res = simulate_cycle(g, 6)
    assert res.interval_cycles == sf * nf * vectors
    st = res.per_node["m"]
    assert st.first_out - (st.first_in + sf - 1) == mvu_timing(g.node("m")).latency


def test_fifo_occupancy_within_depth() -> None:
    g = Stitch()(tfc_graph())
    res = simulate_cycle(g, 10)
    fifos = [n for n in g.nodes if isinstance(n, StreamFIFO)]
    assert fifos and set(res.fifo_max_occupancy) == {f.name for f in fifos}
    for f in fifos:
        assert 1 <= res.fifo_max_occupancy[f.name] <= f.depth


@pytest.mark.slow
def test_output_period_extrapolation_on_cnv() -> None:
    """CNV-W1A1 with sized FIFOs, fifo_swg3 at twice its size: the convolutions run slightly faster than the FC
    bottleneck and that FIFO lets them run ahead, so the front never repeats within a few frames (at its sized
    depth the FIFO throttles the front into a period); completions extrapolated from 4 frames equal a 12-frame
    solve."""
    from candle_hw.compile.passes.fifo_sizing import SizeFIFOs
    from fixtures.reference_graphs import cnv_graph

    g = SizeFIFOs()(cnv_graph())
    g = g.with_node(replace(g.node("fifo_swg3"), depth=2 * g.node("fifo_swg3").depth))
    res = simulate_cycle(g, 12)
    assert res.sim_frames == 4 and not res.fully_periodic
    full = simulate_schedule(g, 12)
    done = full.out_times[g.nodes[-1].name].reshape(12, -1)[:, -1] - full.in_times[g.nodes[0].name][0]
    np.testing.assert_array_equal(res.frame_done_cycles, done)
    assert res.interval_cycles == 32768


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), kernel=st.integers(1, 5), stride=st.integers(1, 4),
       pad=st.integers(0, 2), cf=st.integers(1, 3), simd=st.sampled_from([1, 2]))
def test_swg_frame_cycles_equal_the_event_model(h, w, kernel, stride, pad, cf, simd) -> None:
    """The estimate's sliding-window cycles (row-level steady state of swg.sv) equal the interval of the
    word-level event model on the window alone, once periodic: output words plus the frame-start waits."""
    assume(pad < kernel and h + 2 * pad >= kernel and w + 2 * pad >= kernel)
    n = SlidingWindow("swg0", (h, w), cf * simd, kernel, stride, pad, -1 if pad else 0, BIPOLAR, simd)
    res = simulate_cycle(Stitch()(DataflowGraph((n,), {})), random_frames(DataflowGraph((n,), {}), 10, seed=h))
    steady = np.diff(res.frame_done_cycles)[-4:]
    assert steady.min() == steady.max() == swg_frame_cycles(n)
    assert swg_frame_cycles(n) >= n.out_stream().words_per_frame


def test_swg_frame_start_wait() -> None:
    """7x7, k3 s1 p0 (the first window of residual fuzz seed 6): while output row 4 reads rows 4..6 the
    4-row ring holds one row of the next frame, so the next frame's first output row waits for 2 more input
    rows of 7 words: 225 + 14 cycles."""
    n = SlidingWindow("swg0", (7, 7), 2, 3, 1, 0, 0, BIPOLAR, 2)
    assert n.out_stream().words_per_frame == 225
    assert swg_frame_cycles(n) == node_cycles(n) == 239
