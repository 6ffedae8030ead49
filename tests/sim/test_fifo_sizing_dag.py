"""SizeFIFOs on a residual graph: the shortcut branch buffers what the long branch (a 3x3 window, more than a
frame row) holds back; its depth comes from the schedule, is minimal, and the sized design is proven to settle
at the target interval. A branch FIFO too small, or taken out, is a deadlock naming that branch."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from candle_hw.compile.ir import StreamFIFO
from candle_hw.compile.passes.fifo_sizing import SizeFIFOs
from candle_hw.compile.passes.stitch import Stitch
from candle_hw.sim.cycle import DeadlockError, simulate_cycle, simulate_schedule
from candle_hw.sim.functional import run_dataflow
from fixtures.handbuilt_graphs import random_frames, residual_graph

ROW_WORDS = 8 * 8 // 4  # one row of the 8x8x8 map at 4 elements per word


@pytest.fixture(scope="module")
def sized():
    stats: dict = {}
    return SizeFIFOs(stats=stats)(residual_graph(seed=1)), stats


def _shortcut_fifo(g) -> StreamFIFO:
    e = g.in_edges("add")[1]
    f = g.node(e.src)
    assert isinstance(f, StreamFIFO), "no FIFO on the shortcut"
    return f


def test_long_branch_holds_back_more_than_a_row() -> None:
    g = Stitch(default_depth=4 * ROW_WORDS * 8)(residual_graph(seed=1))
    s = simulate_schedule(g, 2)
    long_first = s.in_times[g.in_edges("add")[0].src][0]  # conv1's first word reaches its FIFO
    short_sent = s.edge_times[g.out_edges("dup")[1]]
    assert np.sum(short_sent < long_first) > ROW_WORDS


def test_shortcut_fifo_sized_from_the_schedule_and_proven(sized) -> None:
    g, stats = sized
    f = _shortcut_fifo(g)
    assert f.depth > ROW_WORDS
    deep = simulate_cycle(Stitch(default_depth=2 * 64 * 27)(residual_graph(seed=1)), 3).interval_cycles
    assert stats["interval"] == deep
    assert stats["proof"]["interval"] == deep
    x = random_frames(g, 4, seed=2)
    res = simulate_cycle(g, x)
    assert res.interval_cycles == deep and res.mismatch is None
    np.testing.assert_array_equal(res.outputs, run_dataflow(g, x))


def test_shortcut_fifo_is_minimal(sized) -> None:
    g, stats = sized
    f = _shortcut_fifo(g)
    try:
        slower = simulate_cycle(g.with_node(replace(f, depth=f.depth - 1)), 3).interval_cycles
    except DeadlockError:
        slower = None
    assert slower is None or slower > stats["interval"]


def test_too_small_branch_fifo_is_a_deadlock_naming_it(sized) -> None:
    g, _ = sized
    f = _shortcut_fifo(g)
    with pytest.raises(DeadlockError, match=rf"the branch {f.name} -> add:1 into add \({f.name} of depth 2\)"):
        simulate_cycle(g.with_node(replace(f, depth=2)), 3)
    with pytest.raises(DeadlockError, match=r"the branch dup:1 -> add:1 into add \(no FIFO\)"):
        simulate_cycle(g.without_node(f.name), 3)
