"""SizeFIFOs against the depths, simulator runs and proof run recorded from the event solver before it read
its index ranges as strided views (code at f682652): the solver's arithmetic must not change, so neither may
any trial's outcome. Full trial budgets, and trials cut at 2 sweeps (every cut-short trial a miss)."""
from __future__ import annotations

import pytest

import candle_hw.compile.passes.fifo_sizing as fs
from candle_hw.compile.passes.fifo_sizing import SizeFIFOs
from fixtures.handbuilt_graphs import residual_graph
from fixtures.reference_graphs import tfc_graph

SHORT = {"fifo_input": 130, "fifo_swg0": 864, "fifo_conv0": 2, "fifo_dup": 2, "fifo_swg1": 1728, "fifo_conv1": 2,
         "fifo_dup_p1": 209, "fifo_add": 2, "fifo_thr": 2, "fifo_pool": 2, "fifo_fc": 2, "fifo_top": 2}
# graph, trial sweeps (None: the pass's own), runs, interval, proof latency, proof sweeps, depths. tfc re-recorded
# when dwc.sv's whole-multiple narrowing became one held word (BUF 16 where the ring held 32): dwc_fc0 no longer
# absorbs fc0's next 16-element word while fc1 is busy with later folds, so a 2-word fifo_dwc_fc0 takes that slack
# (was 16 runs, latency 210, no fifo_dwc_fc0; the interval stays 64).
RECORDED = {
    "tfc": (tfc_graph, None, 19, 64, 211, 3, {"fifo_dwc_fc0": 2, "fifo_fc1": 6}),
    "residual": (lambda: residual_graph(seed=1), None, 16, 2304, 2663, 4, {"fifo_dup_p1": 32}),
    "residual_short_trials": (lambda: residual_graph(seed=1), 2, 21, 2304, 2680, 3, SHORT),
}


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_sizing_equals_the_recorded_one(name, monkeypatch) -> None:
    make, sweeps, runs, interval, latency, proof_sweeps, depths = RECORDED[name]
    if sweeps is not None:
        monkeypatch.setattr(fs, "MIN_TRIAL_SWEEPS", sweeps)
        monkeypatch.setattr(fs, "TRIAL_EVENT_SWEEPS", 1)
    stats: dict = {}
    SizeFIFOs(stats=stats)(make())
    assert stats["depths"] == depths
    assert stats["runs"] == runs and stats["interval"] == interval
    assert stats["proof"] == {"interval": interval, "latency": latency, "sweeps": proof_sweeps}
