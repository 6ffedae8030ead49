"""SizeFIFOs: TFC_1W1A at FINN's test folding reaches II 64 (the contract's requirement), depths are minimal one
FIFO at a time, the pass is idempotent, refuses unreachable targets, and sizes a CNV-class build quickly."""
from __future__ import annotations

import time
from dataclasses import replace

import pytest

from candle_hw.compile.ir import StreamFIFO
from candle_hw.compile.passes.fifo_sizing import MIN_DEPTH, SizeFIFOs
from candle_hw.compile.passes.stitch import Stitch
from candle_hw.errors import UserError
from candle_hw.sim.cycle import simulate_cycle
from fixtures.reference_graphs import cnv_graph, tfc_graph


@pytest.fixture(scope="module")
def tfc_sized():
    stats: dict = {}
    return SizeFIFOs(stats=stats)(tfc_graph()), stats


def test_tfc_reaches_ii_64(tfc_sized) -> None:
    g, stats = tfc_sized
    assert stats["interval"] == 64
    assert simulate_cycle(g, 12).interval_cycles == 64
    assert simulate_cycle(Stitch()(tfc_graph()), 12).interval_cycles > 64  # the default FIFOs alone do not


def test_depths_are_minimal_one_at_a_time(tfc_sized) -> None:
    g, _ = tfc_sized
    fifos = [n for n in g.nodes if isinstance(n, StreamFIFO)]
    assert fifos
    for f in fifos:
        if f.depth > MIN_DEPTH:
            smaller = g.with_node(replace(f, depth=f.depth - 1))
            assert simulate_cycle(smaller, 12).interval_cycles > 64, f.name
        if len(fifos) > 1:
            without = g.replace(nodes=tuple(n for n in g.nodes if n.name != f.name))
            assert simulate_cycle(without, 12).interval_cycles > 64, f.name


def test_idempotent(tfc_sized) -> None:
    g, _ = tfc_sized
    assert SizeFIFOs()(g) == g


def test_unreachable_target_is_refused() -> None:
    with pytest.raises(UserError, match="64 cycles, above the target 50"):
        SizeFIFOs(target_interval=50)(tfc_graph())


@pytest.mark.slow
def test_cnv_sizing_fast_and_at_bottleneck() -> None:
    stats: dict = {}
    t0 = time.perf_counter()
    g = SizeFIFOs(stats=stats)(cnv_graph())
    assert time.perf_counter() - t0 < 30  # measured ~4-8 s on a loaded 2-core machine
    assert stats["interval"] == 32768  # the two FC layers at (1, 4) and (1, 8): 32768 cycles each
    assert simulate_cycle(g, 6).interval_cycles == 32768
