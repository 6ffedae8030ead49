"""SizeFIFOs' shortcuts for large designs: chain FIFOs (on no reconvergent path) are tried out together, trials
get fewer solver sweeps on designs with many events (a miss only leaves a FIFO larger; the proof run still has
the full budget), and every phase and sized FIFO is reported through ``log`` (the compile's progress)."""
from __future__ import annotations

import pytest

import candle_hw.compile.passes.fifo_sizing as fs
from candle_hw.compile.ir import StreamFIFO
from candle_hw.compile.passes.fifo_sizing import SizeFIFOs, chain_fifos, insert_fifos, trial_sweeps
from candle_hw.compile.pipeline import CompileOptions, run_passes
from candle_hw.sim.cycle import simulate_cycle
from fixtures.handbuilt_graphs import residual_graph
from fixtures.reference_graphs import tfc_graph

BRANCH = {"fifo_dup", "fifo_swg1", "fifo_conv1", "fifo_dup_p1"}  # between the duplicate and the add


def _fifos(g) -> list[str]:
    return [n.name for n in g.nodes if isinstance(n, StreamFIFO)]


def test_chain_fifos_are_those_outside_the_branches() -> None:
    g = insert_fifos(residual_graph(seed=1))
    fifos = _fifos(g)
    assert BRANCH <= set(fifos)
    assert set(chain_fifos(g, fifos)) == set(fifos) - BRANCH
    chain = insert_fifos(tfc_graph())
    assert chain_fifos(chain, _fifos(chain)) == _fifos(chain)


def test_trial_sweeps_fall_with_events_within_bounds() -> None:
    assert trial_sweeps(1) == fs.TRIAL_SWEEPS
    assert trial_sweeps(10 ** 12) == fs.MIN_TRIAL_SWEEPS
    budgets = [trial_sweeps(10 ** k) for k in range(3, 10)]
    assert budgets == sorted(budgets, reverse=True) and len(set(budgets)) > 2


def test_short_trials_still_end_proven_at_the_target(monkeypatch) -> None:
    full_stats: dict = {}
    full = SizeFIFOs(stats=full_stats)(residual_graph(seed=1))
    monkeypatch.setattr(fs, "MIN_TRIAL_SWEEPS", 2)
    monkeypatch.setattr(fs, "TRIAL_EVENT_SWEEPS", 1)
    stats: dict = {}
    g = SizeFIFOs(stats=stats)(residual_graph(seed=1))
    assert stats["trial_sweeps"] == 2 and full_stats["trial_sweeps"] == fs.TRIAL_SWEEPS
    assert stats["proof"]["interval"] == stats["interval"] == full_stats["interval"]
    assert simulate_cycle(g, 5).interval_cycles == stats["interval"]
    # trials cut short count as misses: FIFOs only stay or grow against the full-budget sizing
    for name, depth in full_stats["depths"].items():
        assert stats["depths"].get(name, 0) >= depth, name
    assert full.node("fifo_dup_p1").depth == full_stats["depths"]["fifo_dup_p1"]


@pytest.mark.parametrize("graph", [residual_graph(seed=1), tfc_graph()], ids=["residual", "tfc"])
def test_compile_reports_fifo_sizing_progress(graph) -> None:
    lines: list[str] = []
    g = run_passes(graph, CompileOptions(), lines.append, steps=("stitch", "size_fifos"))
    sized = [s for s in lines if s.startswith("size_fifos: fifo_")]
    kept = {n.name: n.depth for n in g.nodes if isinstance(n, StreamFIFO)}
    assert len(sized) == len(kept)
    for name, depth in kept.items():
        assert any(s.startswith(f"size_fifos: {name} depth {depth} ") for s in sized), (name, sized)
    proof = [s for s in lines if "proof run settles" in s]
    assert len(proof) == 1 and f"{len(kept)} FIFOs kept" in proof[0]
