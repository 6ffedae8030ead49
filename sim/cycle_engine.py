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
from numpy.lib.stride_tricks import as_strided

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
        plans = {id(c): _plan(c) for c in self.constraints}
        for sweep in range(max_sweeps):
            changed = False
            for p in (order if sweep % 2 == 0 else order[::-1]):
                if not dirty[p]:
                    continue
                dirty[p] = False
                lb = np.full(base[p].shape, NEG, dtype=np.int64)
                lb[0] = 0
                for c in incoming[p]:
                    for dst, src, offset in plans[id(c)]:
                        vals = (times[c.src][src] if isinstance(src, np.ndarray) else _view(times[c.src], src)) + offset
                        if isinstance(dst, np.ndarray):
                            np.maximum(lb[dst], vals.reshape(-1), out=vals.reshape(-1))
                            lb[dst] = vals.reshape(-1)
                        else:
                            view = _view(lb, dst)
                            np.maximum(view, vals.reshape(view.shape), out=view)
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


# Most constraints pair index ranges with a fixed step (a stream's words, one event each) or equal rows of them
# (a matrix unit's SF input steps per vector): read and written as strided views, they skip the gather and
# scatter of index arrays that otherwise take most of a sweep. The arithmetic is the same either way.
Grid = tuple[int, tuple[int, ...], tuple[int, ...]]


def _grid(idx: np.ndarray) -> Grid | None:
    """``idx`` as (start, shape, steps): start + i*steps[0] (+ j*steps[1]) in row-major order, steps > 0, one or
    two dimensions; None when it is neither."""
    n = idx.size
    start = int(idx[0])
    if n == 1:
        return start, (1,), (1,)
    d = np.diff(idx)
    inner = int(d[0])
    if inner <= 0:
        return None
    breaks = np.flatnonzero(d != inner)
    if breaks.size == 0:
        return start, (n,), (inner,)
    cols = int(breaks[0]) + 1
    if n % cols or n // cols < 2:
        return None
    rows = idx.reshape(-1, cols)
    outer = int(rows[1, 0] - rows[0, 0])
    if outer <= 0:
        return None
    want = start + np.arange(n // cols, dtype=np.int64)[:, None] * outer + np.arange(cols, dtype=np.int64) * inner
    return (start, (n // cols, cols), (outer, inner)) if np.array_equal(rows, want) else None


def _view(a: np.ndarray, g: Grid) -> np.ndarray:
    """The elements of ``a`` at the grid's indices, as a view (writes go to ``a``)."""
    start, shape, steps = g
    if len(shape) == 1:
        return a[start:start + (shape[0] - 1) * steps[0] + 1:steps[0]]
    return as_strided(a[start:], shape=shape, strides=tuple(s * a.itemsize for s in steps), writeable=True)


def _plan(c: Constraint) -> list[tuple[Grid | np.ndarray, Grid | np.ndarray, np.ndarray | int]]:
    """The constraint as (dst, src, offset) pieces, each side a grid where it is one (index arrays otherwise):
    whole, or split after a first partial row (a producer's events from its capacity on)."""
    for pieces in ([(0, c.dst_idx.size)], _head_split(c)):
        plan = []
        for a, b in pieces:
            dst, src = _grid(c.dst_idx[a:b]), _grid(c.src_idx[a:b])
            off = c.offset if np.ndim(c.offset) == 0 else np.asarray(c.offset)[a:b]
            if np.ndim(off) and src is not None:
                off = off.reshape(src[1])
            plan.append((c.dst_idx[a:b] if dst is None else dst, c.src_idx[a:b] if src is None else src, off))
        if all(not isinstance(x, np.ndarray) for piece in plan for x in piece[:2]) or len(pieces) > 1:
            return plan
    return plan


def _head_split(c: Constraint) -> list[tuple[int, int]]:
    """Two pieces, cut where the first run of equal steps of either index array ends."""
    n = c.dst_idx.size
    cuts = []
    for idx in (c.dst_idx, c.src_idx):
        if idx.size > 2:
            d = np.diff(idx)
            brk = np.flatnonzero(d != d[0])
            if brk.size:
                cuts.append(int(brk[0]) + 1)
    h = min(cuts, default=n)
    return [(0, h), (h, n)] if 0 < h < n else [(0, n)]
