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

Large designs (the unfolded resnet_w1a1: ~10^7 events a run, about a second a solver sweep) need few trials
and short ones: the chain FIFOs (on no reconvergent path) and then the branch FIFOs that do not feed a join
are first tried out together (one trial each, one at a time only if that fails); the kept FIFOs start from
their count in the design without the removed ones; the search gallops down from there before it bisects;
and a trial gets fewer sweeps the more events it has (a miss only leaves a FIFO larger, never too small).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Callable

from candle_hw.compile.ir import DataflowGraph, StreamFIFO
from candle_hw.compile.passes.stitch import DEFAULT_FIFO_DEPTH, Stitch
from candle_hw.errors import UserError
from candle_hw.hw_templates import FIFO_MIN_DEPTH
from candle_hw.sim.cycle import SimulationError, simulate_cycle

SIZING_FRAMES = 3
# A trial whose schedule has not settled after this many solver sweeps is stalling heavily, i.e. the FIFO is
# too small; counting it as a miss can only leave a FIFO larger than needed, never too small (the proof run
# has the full budget). Large designs get fewer trial sweeps: a sweep costs time in proportion to the events
# (the unfolded resnet_w1a1 has ~10^7 per run, ~1 s a sweep, and a deadlocking trial would use all of them),
# while a trial that settles does so in a handful of sweeps.
TRIAL_SWEEPS = 400
MIN_TRIAL_SWEEPS = 16
TRIAL_EVENT_SWEEPS = 10 ** 8
MIN_DEPTH = FIFO_MIN_DEPTH
GALLOP_WORDS = 8


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


def trial_sweeps(events: int) -> int:
    """Solver sweeps a trial gets before it counts as a miss, for a run of ``events`` words moved."""
    return max(MIN_TRIAL_SWEEPS, min(TRIAL_SWEEPS, TRIAL_EVENT_SWEEPS // max(events, 1)))


def chain_fifos(graph: DataflowGraph, fifos: list[str]) -> list[str]:
    """The FIFOs on no reconvergent path (without one, its producer and consumer are disconnected): such a FIFO
    only decouples a producer from its consumer and cannot take part in a branch's deadlock."""
    nbrs: dict[str, set[str]] = {n.name: set() for n in graph.nodes}
    for e in graph.edges:
        nbrs[e.src].add(e.dst)
        nbrs[e.dst].add(e.src)
    out = []
    for f in fifos:
        ends = sorted(nbrs[f])
        seen, todo = {f, ends[0]} if ends else {f}, ends[:1]
        while todo:
            for m in nbrs[todo.pop()] - seen:
                seen.add(m)
                todo.append(m)
        if len(ends) < 2 or not set(ends) <= seen:  # the input and output FIFOs have one neighbour
            out.append(f)
    return out


@dataclass(frozen=True)
class SizeFIFOs:
    """Inserts and sizes StreamFIFOs.

    Reads: every node's timing (through the cycle simulator). Writes: a StreamFIFO between any two adjacent
    nodes without one, and every StreamFIFO's depth; FIFOs that do not affect the interval are removed when
    ``remove_unneeded``. Target: the interval reached with every FIFO at ``deep`` x its stream's words per frame
    (or ``target_interval`` if given; UserError with both numbers when not reachable). Idempotent: a sized
    graph is returned with the same depths. ``stats`` (wall time, simulator runs) is filled in when a
    dict is passed; ``log`` sees one line per phase and per FIFO sized.
    """

    target_interval: int | None = None
    remove_unneeded: bool = True
    deep: int = 2
    frames: int = SIZING_FRAMES
    stats: dict | None = field(default=None, compare=False, hash=False)
    log: Callable[[str], None] | None = field(default=None, compare=False, hash=False)

    def __call__(self, graph: DataflowGraph) -> DataflowGraph:
        t0 = time.perf_counter()
        say = self.log or (lambda s: None)
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
        best = res.interval_cycles
        target = self.target_interval if self.target_interval is not None else best
        if best > target:
            raise UserError(
                f"SizeFIFOs: even with deep FIFOs the design's interval is {best} cycles, above the target "
                f"{target} cycles"
            )
        events = self.frames * sum(s.in_words + s.out_words for s in res.per_node.values())
        trial = _Trials(self.frames, target, trial_sweeps(events))
        say(f"size_fifos: {len(fifos)} FIFOs, interval {target} cycles with deep FIFOs "
            f"({res.sweeps} sweeps, {time.perf_counter() - t0:.1f} s); trials get {trial.sweeps} sweeps")
        # start from the observed maximum counts: they reproduce the deep-FIFO schedule exactly
        g = big
        for name in fifos:
            g = _set_depth(g, name, max(MIN_DEPTH, res.fifo_max_occupancy[name]))
        if self.remove_unneeded:
            g = _remove(g, fifos, trial, say)
        left = {n.name for n in g.nodes}
        kept = [f for f in fifos if f in left]
        if kept:  # the design without the removed FIFOs holds fewer words: tighter starting depths
            occ = trial.occupancy(g)
            for name in kept:
                g = _set_depth(g, name, max(MIN_DEPTH, min(g.node(name).depth, occ[name])))
        for name in kept:
            hi = g.node(name).depth
            g = _set_depth(g, name, _shrink(g, name, hi, trial))
            say(f"size_fifos: {name} depth {g.node(name).depth} (from {hi}; {trial.runs} trials, "
                f"{time.perf_counter() - t0:.0f} s)")
        proof = _prove(g, self.frames, target)
        say(f"size_fifos: proof run settles at {proof['interval']} cycles ({proof['sweeps']} sweeps); "
            f"{len(kept)} FIFOs kept, {trial.runs + 2} simulator runs, {time.perf_counter() - t0:.0f} s")
        if self.stats is not None:
            self.stats.update(runs=trial.runs + 2, seconds=time.perf_counter() - t0, interval=target,
                              proof=proof, trial_sweeps=trial.sweeps,
                              depths={n.name: n.depth for n in g.nodes if isinstance(n, StreamFIFO)})
        return g


@dataclass
class _Trials:
    """Trial solves at the target interval, counted."""

    frames: int
    target: int
    sweeps: int
    runs: int = 0

    def ok(self, graph: DataflowGraph) -> bool:
        self.runs += 1
        ii = _interval(graph, self.frames, self.sweeps)
        return ii is not None and ii <= self.target

    def occupancy(self, graph: DataflowGraph) -> dict[str, int]:
        self.runs += 1
        return simulate_cycle(graph, self.frames, explain=False).fifo_max_occupancy


def _remove(g: DataflowGraph, fifos: list[str], trial: _Trials, say: Callable[[str], None]) -> DataflowGraph:
    """Removes the FIFOs the interval does not need, one at a time, after two group trials that usually take
    most of them at once: the chain FIFOs, then the branch FIFOs other than those feeding a join (where a
    branch must buffer what the other holds back)."""
    chain = chain_fifos(g, fifos)
    guards = {e.src for n in g.nodes if n.n_in > 1 for e in g.in_edges(n.name)}
    branch = [f for f in fifos if f not in chain and f not in guards]
    gone: set[str] = set()
    for what, group in (("chain", chain), ("branch", branch)):
        if len(group) > 1:
            without = g
            for name in group:
                without = without.without_node(name)
            if trial.ok(without):
                say(f"size_fifos: {len(group)} {what} FIFOs removed together")
                g = without
                gone.update(group)
    for name in (f for f in fifos if f not in gone):
        without = g.without_node(name)
        if trial.ok(without):
            g = without
    left = {n.name for n in g.nodes}
    say(f"size_fifos: {sum(f not in left for f in fifos)} FIFOs removed, {trial.runs} trials")
    return g


def _shrink(g: DataflowGraph, name: str, hi: int, trial: _Trials) -> int:
    """The least depth <= hi (which works) at which the design still reaches the target, one FIFO at a time.
    The count observed at the target is often the least or close to it (a branch FIFO holds what the other
    branch holds back), so the search first gallops down from hi (1, 2, 4, ... GALLOP_WORDS words less), then
    bisects: a few trials where a bisection from MIN_DEPTH takes log2(hi), at most 4 more where it does not."""
    lo = MIN_DEPTH - 1  # depth lo fails, depth hi works
    step = 1
    while hi - lo > 1:
        mid = hi - step if step <= GALLOP_WORDS and step < (hi - lo) // 2 else (lo + hi) // 2
        if trial.ok(_set_depth(g, name, mid)):
            hi = mid
            step *= 2
        else:
            lo = mid
            step = hi  # past the gallop: bisect the rest
    return hi


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
