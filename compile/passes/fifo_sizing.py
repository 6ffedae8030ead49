"""SizeFIFOs: the smallest StreamFIFO depths that keep the design at its best initiation interval.

FINN (InsertAndSetFIFODepths) stitches the design with deep FIFOs, runs an RTL simulation of two frames and
keeps each FIFO's observed maximum count, rounded up. We do the same on the cycle-level simulator
(sim/cycle.py), which models the RTL blocks' handshakes exactly and takes milliseconds per run, and then go
further: every FIFO is shrunk by bisection, one at a time, as long as the steady-state interval stays at the
target, and FIFOs that are not needed at all are removed. Depths are therefore minimal one at a time
(shrinking any single FIFO further would cost throughput), not only "what a simulation happened to fill".

Branching graphs (DuplicateStreams ... AddStreams): the branch that reaches the join first must buffer what
the other one holds back (a sliding window's rows, a matrix unit's folds); too little and the duplicate
stalls the long branch, which then never delivers: a deadlock. The deep-FIFO schedule gives each branch FIFO
the most words it holds at the target rate; shrinking stops where the interval would rise or the schedule
would deadlock (the event solver proves a deadlock once an event passes its bound, sim/cycle_engine.py). The
sized design is then solved once more, with the full sweep budget, and must settle at the target interval:
that run is the proof that the chosen depths neither deadlock nor slow the design (``stats["proof"]``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from candle_hw.compile.ir import DataflowGraph, StreamFIFO
from candle_hw.compile.passes.stitch import DEFAULT_FIFO_DEPTH, Stitch
from candle_hw.errors import UserError
from candle_hw.hw_templates import FIFO_MIN_DEPTH
from candle_hw.sim.cycle import SimulationError, simulate_cycle

SIZING_FRAMES = 3
# A trial whose schedule has not settled after this many solver sweeps is stalling heavily, i.e. the FIFO is
# too small; counting it as a miss can only leave a FIFO larger than needed, never too small.
TRIAL_SWEEPS = 400
MIN_DEPTH = FIFO_MIN_DEPTH


def insert_fifos(graph: DataflowGraph, depth: int = DEFAULT_FIFO_DEPTH) -> DataflowGraph:
    """The pipeline's stitch step with FIFOs of ``depth``: width converters where words differ, then a StreamFIFO
    at every stream position without one (input, between nodes, output)."""
    return Stitch(default_depth=depth)(graph)


def _interval(graph: DataflowGraph, frames: int, max_sweeps: int) -> int | None:
    try:
        return simulate_cycle(graph, frames, max_sweeps=max_sweeps, explain=False).interval_cycles
    except SimulationError:
        return None


def _set_depth(graph: DataflowGraph, name: str, depth: int) -> DataflowGraph:
    return graph.with_node(replace(graph.node(name), depth=depth))


@dataclass(frozen=True)
class SizeFIFOs:
    """Inserts and sizes StreamFIFOs.

    Reads: every node's timing (through the cycle simulator). Writes: a StreamFIFO between any two adjacent
    nodes without one, and every StreamFIFO's depth; FIFOs that do not affect the interval are removed when
    ``remove_unneeded``. Target: the interval reached with every FIFO at ``deep`` x its stream's words per frame
    (or ``target_interval`` if given; UserError with both numbers when not reachable). Idempotent: a sized
    graph is returned with the same depths. ``stats`` (wall time, simulator runs) is filled in when a
    dict is passed.
    """

    target_interval: int | None = None
    remove_unneeded: bool = True
    deep: int = 2
    frames: int = SIZING_FRAMES
    stats: dict | None = field(default=None, compare=False, hash=False)

    def __call__(self, graph: DataflowGraph) -> DataflowGraph:
        t0 = time.perf_counter()
        runs = 0
        g = insert_fifos(graph)
        fifos = [n.name for n in g.nodes if isinstance(n, StreamFIFO)]
        big = g
        for name in fifos:
            big = _set_depth(big, name, max(MIN_DEPTH, self.deep * big.node(name).stream.words_per_frame))
        try:
            res = simulate_cycle(big, self.frames)
        except SimulationError as exc:
            raise UserError(f"SizeFIFOs: even with FIFOs of {self.deep} frames the design does not settle: {exc}") \
                from None
        runs += 1
        best = res.interval_cycles
        target = self.target_interval if self.target_interval is not None else best
        if best > target:
            raise UserError(
                f"SizeFIFOs: even with deep FIFOs the design's interval is {best} cycles, above the target "
                f"{target} cycles"
            )
        # start from the observed maximum counts: they reproduce the deep-FIFO schedule exactly
        g = big
        for name in fifos:
            g = _set_depth(g, name, max(MIN_DEPTH, res.fifo_max_occupancy[name]))
        if self.remove_unneeded:
            for name in fifos:
                trial = g.without_node(name)
                runs += 1
                ii = _interval(trial, self.frames, TRIAL_SWEEPS)
                if ii is not None and ii <= target:
                    g = trial
        for name in [f for f in fifos if any(n.name == f for n in g.nodes)]:
            hi = g.node(name).depth
            lo = MIN_DEPTH - 1  # depth lo fails, depth hi works
            while hi - lo > 1:
                mid = (lo + hi) // 2
                runs += 1
                ii = _interval(_set_depth(g, name, mid), self.frames, TRIAL_SWEEPS)
                if ii is not None and ii <= target:
                    hi = mid
                else:
                    lo = mid
            g = _set_depth(g, name, hi)
        runs += 1
        proof = _prove(g, self.frames, target)
        if self.stats is not None:
            self.stats.update(runs=runs, seconds=time.perf_counter() - t0, interval=target, proof=proof,
                              depths={n.name: n.depth for n in g.nodes if isinstance(n, StreamFIFO)})
        return g


def _prove(graph: DataflowGraph, frames: int, target: int) -> dict:
    """Solve the sized design with the full sweep budget: it must settle (no deadlock) at the target interval.
    Returns the run's interval, latency and sweeps."""
    try:
        res = simulate_cycle(graph, frames)
    except SimulationError as exc:
        raise UserError(f"SizeFIFOs: the sized design does not settle: {exc}") from None
    if res.interval_cycles > target:
        raise UserError(f"SizeFIFOs: the sized design runs at {res.interval_cycles} cycles per frame, above the "
                        f"target {target}")
    return {"interval": res.interval_cycles, "latency": res.latency_cycles, "sweeps": res.sweeps}
