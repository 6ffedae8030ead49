"""The cycle level on branching graphs: values carried through reconvergent paths (sim/golden.py, never the
functional simulator), the first differing block named, DuplicateStreams/AddStreams handshakes, and a branch
FIFO too small for what the other branch holds back reported as a deadlock naming that branch."""
from __future__ import annotations

import numpy as np
import pytest

from candle_hw.compile.ir import AddStreams, DataflowGraph
from candle_hw.compile.passes.stitch import Stitch
from candle_hw.sim import cycle_streams, functional
from candle_hw.sim.cycle import DeadlockError, simulate_cycle, simulate_schedule
from fixtures.dag_graphs import uneven_branches
from fixtures.handbuilt_graphs import random_frames, residual_graph


@pytest.fixture(scope="module", params=["identity", "conv"])
def deep(request) -> DataflowGraph:
    return Stitch(default_depth=2 * 8 * 8 * 27)(residual_graph(seed=2, shortcut=request.param))


def test_values_through_reconvergent_paths(deep, monkeypatch) -> None:
    x = random_frames(deep, 5, seed=1)
    want = functional.run_dataflow(deep, x)
    res = simulate_cycle(deep, x)
    assert res.mismatch is None
    np.testing.assert_array_equal(res.outputs, want)

    def forbidden(*a, **k):
        raise AssertionError("the cycle level asked the functional simulator")

    monkeypatch.setattr(functional, "run_node", forbidden)
    monkeypatch.setattr(functional, "run_dataflow", forbidden)
    np.testing.assert_array_equal(simulate_cycle(deep, x, check=False).outputs, want)


def test_a_wrong_word_on_a_branch_is_named_at_the_join(deep, monkeypatch) -> None:
    """Two words of the add's port-1 operand swapped: the add's words differ first (the blocks before it are
    right), at a word the swap changes."""
    x = random_frames(deep, 3, seed=4)
    model = cycle_streams.MODELS[AddStreams]

    def swapped_operand(graph, node, words, frames):
        a, b = words
        b = b.copy()
        k = next(i for i in range(len(b) - 1) if not np.array_equal(b[i], b[i + 1]))
        b[[k, k + 1]] = b[[k + 1, k]]
        return model(graph, node, (a, b), frames)

    monkeypatch.setitem(cycle_streams.MODELS, AddStreams, swapped_operand)
    res = simulate_cycle(deep, x)
    assert res.mismatch is not None and res.mismatch.node == "add"
    assert res.mismatch.cycle is not None and res.mismatch.got != res.mismatch.expected


def test_duplicate_waits_for_every_output_and_add_for_both_inputs() -> None:
    g = uneven_branches()
    s = simulate_schedule(g, 2)
    outs = [s.edge_times[e] for e in g.out_edges("dup")]
    # a word leaves the duplicate's input in the cycle its last output takes it; the outputs take it in
    # different cycles (taken flags, no lock-step), never word w+1 before every output had word w
    np.testing.assert_array_equal(s.in_times["dup"], np.maximum(*outs))
    assert np.any(outs[0] != outs[1])
    for o in outs:
        assert np.all(o[1:] > s.in_times["dup"][:-1])
    a, b = (s.edge_times[e] for e in g.in_edges("add"))
    np.testing.assert_array_equal(a, b)  # one word from each input in the same cycle
    assert np.all(s.out_times["add"] >= a + 1)  # registered output: offered the cycle after
    x = random_frames(g, 3, seed=2)
    res = simulate_cycle(g, x)
    assert res.mismatch is None
    np.testing.assert_array_equal(res.outputs, functional.run_dataflow(g, x))


def test_branch_fifo_too_small_is_a_deadlock_naming_it() -> None:
    g = Stitch(default_depth=2)(residual_graph(seed=2))
    with pytest.raises(DeadlockError, match=r"deadlock: .*the branch fifo_dup_p1 -> add:1 into add "
                                            r"\(fifo_dup_p1 of depth 2\) cannot buffer what the other branch holds back"):
        simulate_cycle(g, 2)


def test_branch_without_fifo_is_a_deadlock_naming_the_edge() -> None:
    with pytest.raises(DeadlockError, match=r"the branch dup:1 -> add:1 into add \(no FIFO\)"):
        simulate_cycle(residual_graph(seed=2), 2)
