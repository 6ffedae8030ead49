"""Max-plus event solver behind the cycle-level simulator (sim/cycle.py).

Hardware blocks are modelled as *processes*: each a fixed sequence of events (one word accepted, one word
emitted, or both), where event e fires no earlier than ``gap[e]`` cycles after event e-1 of the same process.
Everything else is a *constraint* between two processes, ``S_dst[i] >= S_src[j] + offset``:
- data: a consumer's event accepting word w fires no earlier than the producer's event that made w, plus the
  producer's output latency;
- space: a producer's event making word k fires no earlier than the consumer accepted word k - capacity (the
  producer's output register/FIFO slots), plus the cycle the slot needs to free.
Because no block's timing depends on data values, the hardware's as-soon-as-possible schedule is the *least*
solution of this system. We compute it by Kleene iteration from below: every sweep recomputes each process
from the current times of the others, in closed form (S = G + cummax(lb - G), G the gap prefix sums), so one
sweep costs a few numpy passes per process and never loops over cycles. Sweeps alternate direction, so data
dependencies (downstream) and back-pressure (upstream) both propagate in one sweep each.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NEG = np.int64(-(1 << 60))


class SimulationError(RuntimeError):
    """The event system did not settle: a deadlock (a block waits on itself through full buffers)."""


class DeadlockError(SimulationError):
    """Some event is later than any schedule without a deadlock can be: a block waits on itself."""


@dataclass
class Constraint:
    dst: int
    dst_idx: np.ndarray
    src: int
    src_idx: np.ndarray
    offset: np.ndarray | int


@dataclass
class EventSystem:
    names: list[str] = field(default_factory=list)
    gaps: list[np.ndarray] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)

    def add_process(self, name: str, gaps: np.ndarray) -> int:
        g = np.asarray(gaps, dtype=np.int64)
        if g.ndim != 1 or g.size == 0:
            raise ValueError(f"{name}: a process needs at least one event")
        self.names.append(name)
        self.gaps.append(g)
        return len(self.names) - 1

    def add_constraint(self, dst: int, dst_idx: np.ndarray, src: int, src_idx: np.ndarray,
                       offset: np.ndarray | int) -> None:
        """S[dst][dst_idx[i]] >= S[src][src_idx[i]] + offset[i]; dst_idx must not repeat within one call."""
        dst_idx = np.asarray(dst_idx, dtype=np.int64)
        src_idx = np.asarray(src_idx, dtype=np.int64)
        if dst_idx.size == 0:
            return
        if dst_idx.shape != src_idx.shape:
            raise ValueError("constraint index arrays differ in shape")
        self.constraints.append(Constraint(dst, dst_idx, src, src_idx, offset))

    def time_bound(self) -> int:
        """An upper bound on every event of the least solution, if there is one: an event's time is the
        longest path to it from time 0 (edges: gaps within a process, constraints across), and a path visits
        an event at most once, each arrival costing at most the larger of its gap and the largest offset.
        Exceeding it proves a positive cycle (a deadlock), long before the sweep limit."""
        top = max((int(np.max(c.offset)) for c in self.constraints), default=0)
        return sum(int(g.sum()) + g.size * max(top, 0) for g in self.gaps)

    def solve(self, max_sweeps: int = 20000) -> tuple[list[np.ndarray], int]:
        """Least solution (event cycle per process) and the number of sweeps it took."""
        base = [np.cumsum(g) - g[0] for g in self.gaps]
        times = [b.copy() for b in base]
        incoming: list[list[Constraint]] = [[] for _ in self.names]
        for c in self.constraints:
            incoming[c.dst].append(c)
        order = list(range(len(self.names)))
        dependents: list[set[int]] = [set() for _ in self.names]
        for c in self.constraints:
            dependents[c.src].add(c.dst)
        dirty = [bool(incoming[p]) for p in order]
        bound = self.time_bound()
        for sweep in range(max_sweeps):
            changed = False
            for p in (order if sweep % 2 == 0 else order[::-1]):
                if not dirty[p]:
                    continue
                dirty[p] = False
                lb = np.full(base[p].shape, NEG, dtype=np.int64)
                lb[0] = 0
                for c in incoming[p]:
                    vals = times[c.src][c.src_idx] + c.offset
                    np.maximum(lb[c.dst_idx], vals, out=vals)
                    lb[c.dst_idx] = vals
                lb -= base[p]
                np.maximum.accumulate(lb, out=lb)
                lb += base[p]
                if not np.array_equal(lb, times[p]):
                    times[p] = lb
                    changed = True
                    if lb[-1] > bound:
                        raise DeadlockError(
                            f"deadlock: process {self.names[p]} waits past cycle {bound}, later than any "
                            f"schedule without a deadlock (after {sweep + 1} sweeps)")
                    for d in dependents[p]:
                        dirty[d] = True
            if not changed:
                return times, sweep + 1
        worst = max(range(len(self.names)), key=lambda p: int(times[p][-1]))
        raise SimulationError(
            f"no steady schedule after {max_sweeps} sweeps (deadlock?); process {self.names[worst]} reached "
            f"cycle {int(times[worst][-1])}"
        )
