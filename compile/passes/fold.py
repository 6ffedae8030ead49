"""Resource-aware folding: FoldForThroughput (exact DP) and FINN's SetFolding greedy walk as the baseline.

``FoldForThroughput(target_fps | "max", device, clock_mhz)`` picks, per matrix-vector unit, PE, SIMD and the
weight memory style (block RAM, LUT RAM, or logic ROM), and sets the neighbouring SlidingWindow simd /
MaxPool, Thresholding, LabelSelect pe like ApplyFolding does. Every node's cycles per frame (compile/estimate.py
``node_cycles``, including the width converters the choice implies) must stay within the target; among those
designs it returns one of minimum estimated LUTs whose LUTs and BRAM_18K fit the device. BRAM-port bandwidth
is part of the model: a block-RAM weight memory of PE*SIMD*weight bits per word takes RAMB18s as Yosys maps it
(compile/estimate.py bram_mapping: at least one per 36 bits of the word), so a BRAM budget is also a
weight-bandwidth budget. LUTs are counted in the device's own (compile/estimate.py device_lut: LUT4 on iCE40/ECP5). The search is exact: a dynamic programme over the chain of layers whose
state is the previous layer's output word size (which decides the width converter between the two) and the
BRAM used so far; only Pareto-optimal (LUT, BRAM) candidates per interface are kept, which loses nothing. A
candidate costs what estimate_layer_resources charges for its nodes, the datapath included: a unit whose weights
are ternary (compile/mvu_map.py ternary_weights) runs the ternary datapath where its SIMD allows it, with other
LUTs and, deeper than 64 folds, its threshold ROM in block RAM (tests/compile/test_fold.py checks the search's
totals against the estimate).

What the search cannot see is the FIFOs: their depths come from simulating the folded design (SizeFIFOs), and
a deep one goes to block RAM. ``reserve_lut`` / ``reserve_bram`` keep resources free for them; the compile
pipeline (compile/pipeline.py run_passes) folds, stitches and sizes, and where the sized design's estimate
exceeds the device it folds again keeping the excess free, and refuses (UserError, exit 2, no build written:
"the design does not fit DEVICE: N BRAM_18K estimated > M available ...") a design still over the device, as
synth and bitstream refuse one (compile/estimate.py check_estimated_fit, the one fit rule).

On a branching graph the groups are taken in the stored (topological) order, a DuplicateStreams or AddStreams
joining the group before it like a pool; the programme then counts the width converter between two
consecutive groups only where an edge joins them, so it is exact for chains; for a DAG it is a heuristic: the
converters on branch edges are not in the objective (stitch inserts them, the estimate counts them), and after
the choice the fan-out and join nodes follow their producers over the edges (compile/passes/folding.py), which
may widen an add and what follows it but never makes a node slower than the target: an add takes the wider
operand's words.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from candle_hw.compile.estimate import (
    device_lut, dwc_resources, graph_ternary_weights, mvu_resources, node_cycles, node_resources,
)
from candle_hw.compile.ir import (
    WINDOW_POOLS, AccPool, AddStreams, DataflowGraph, DuplicateStreams, GlobalAccPool, LabelSelect, MatrixVectorUnit, MaxPool, Node,
    SlidingWindow, StreamFIFO, Thresholding, WidthConverter,
)
from candle_hw.compile.mvu_map import runs_ternary
from candle_hw.compile.passes.folding import follow_neighbours
from candle_hw.errors import UserError

STYLES = ("block", "distributed", "logic")
INF = float("inf")


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@dataclass
class Group:
    """One matrix-vector unit with the sliding window before it and the nodes after it it drives."""

    pre: SlidingWindow | None
    mvu: MatrixVectorUnit
    post: list[Node]
    # compile/mvu_map.py ternary_weights of the unit's weights: whether it runs the ternary datapath (other LUTs,
    # a threshold ROM in block RAM) then depends on the SIMD only, and the estimate charges it per folding
    ternary_weights: bool = False


@dataclass(frozen=True)
class Choice:
    pe: int
    simd: int
    style: str
    lut: int
    bram: int
    cycles: int
    in_elems: int
    out_elems: int


_POST = (MaxPool, AccPool, GlobalAccPool, Thresholding, LabelSelect, DuplicateStreams, AddStreams)


def core_graph(graph: DataflowGraph) -> DataflowGraph:
    """The graph without its width converters and FIFOs (stitch re-inserts them for a new folding)."""
    for n in graph.nodes:
        if isinstance(n, (StreamFIFO, WidthConverter)):
            graph = graph.without_node(n.name)
    return graph


def _groups(graph: DataflowGraph) -> tuple[list[Group], list[Node]]:
    core_g = core_graph(graph)
    core = list(core_g.nodes)
    groups: list[Group] = []
    pending: SlidingWindow | None = None
    for i, n in enumerate(core):
        nxt = core[i + 1] if i + 1 < len(core) else None
        if isinstance(n, SlidingWindow) and groups and isinstance(nxt, WINDOW_POOLS):
            groups[-1].post.append(n)  # an overlapping max-pool's window (compile/passes/pool_windows.py)
        elif isinstance(n, SlidingWindow):
            pending = n
        elif isinstance(n, MatrixVectorUnit):
            groups.append(Group(pending, n, [], graph_ternary_weights(core_g, n)))
            pending = None
        elif groups and isinstance(n, _POST):
            groups[-1].post.append(n)
        else:
            raise UserError(f"{n.name}: folding needs every {n.kind} to follow a matrix-vector unit")
    if not groups or core[0] is not (groups[0].pre or groups[0].mvu):
        raise UserError("folding: the graph must start with a matrix-vector unit or its sliding window")
    return groups, core


def _apply(g: Group, pe: int, simd: int, style: str | None = None) -> list[Node]:
    """The group's nodes with this folding (neighbours as ApplyFolding sets them)."""
    m = replace(g.mvu, pe=pe, simd=simd, **({"weight_style": style} if style else {}))
    return follow_neighbours(([g.pre] if g.pre is not None else []) + [m] + list(g.post))


def _inner_dwc(nodes: list[Node]) -> list[WidthConverter]:
    out = []
    for a, b in zip(nodes, nodes[1:]):
        sa, sb = a.out_stream(), b.in_stream()
        if sa.elems_per_word != sb.elems_per_word:
            out.append(WidthConverter("dwc", sa.elem_type, (sa.num_elems,), sa.elems_per_word, sb.elems_per_word))
    return out


def _foldings(g: Group):
    """Every (pe, simd) of the group with its nodes, the converters inside it and its cycles per frame."""
    for pe in divisors(g.mvu.mh):
        for simd in divisors(g.mvu.simd_base):
            nodes = _apply(g, pe, simd)
            extra = _inner_dwc(nodes)
            yield pe, simd, nodes, extra, max(node_cycles(n) for n in nodes + extra)


def candidates(g: Group, max_cycles: int, family: str = "xc7") -> list[Choice]:
    """Pareto-optimal (LUT, BRAM) choices per (in, out) word size with every node within max_cycles; LUTs of the
    device ``family`` (compile/estimate.py device_lut, node by node as estimate_layer_resources counts them)."""
    best: dict[tuple[int, int], list[Choice]] = {}
    for pe, simd, nodes, extra, cycles in _foldings(g):
        if cycles > max_cycles:
            continue
        base = [(n, node_resources(n)) for n in nodes if not isinstance(n, MatrixVectorUnit)]
        base += [(d, dwc_resources(d)) for d in extra]
        lut0 = sum(device_lut(n, r["LUT"], family) for n, r in base)
        bram0 = sum(r["BRAM_18K"] for _, r in base)
        mvu = next(n for n in nodes if isinstance(n, MatrixVectorUnit))
        ternary = runs_ternary(mvu, g.ternary_weights)  # as estimate_layer_resources decides it
        for style in STYLES:
            r = mvu_resources(mvu, style, ternary)
            lut = device_lut(mvu, r["LUT"], family, ternary, style)
            c = Choice(pe, simd, style, lut0 + lut, bram0 + r["BRAM_18K"], cycles,
                       nodes[0].in_stream().elems_per_word, nodes[-1].out_stream().elems_per_word)
            best.setdefault((c.in_elems, c.out_elems), []).append(c)
    out: list[Choice] = []
    for lst in best.values():
        lst.sort(key=lambda c: (c.bram, c.lut, c.cycles))
        lowest = INF
        for c in lst:
            if c.lut < lowest:
                out.append(c)
                lowest = c.lut
    return out


def _dwc_cost(prev: Node, cur: Node, out_e: int, in_e: int, family: str = "xc7") -> tuple[int, int]:
    """LUTs (of the device family) and cycles of the width converter between two groups (0, 0 when none is
    needed)."""
    if out_e == in_e:
        return 0, 0
    s = prev.out_stream()
    d = WidthConverter("dwc", s.elem_type, (s.num_elems,), out_e, in_e)
    return device_lut(d, dwc_resources(d)["LUT"], family), node_cycles(d)


def _joined(groups: list[Group], edges) -> list[bool]:
    """joined[i]: an edge runs from group i-1's last node into group i's first (always so on a chain)."""
    pairs = {(e.src, e.dst) for e in edges} if edges is not None else None
    out = [True]
    for a, b in zip(groups, groups[1:]):
        last, first = (a.post[-1] if a.post else a.mvu), (b.pre or b.mvu)
        out.append(pairs is None or (last.name, first.name) in pairs)
    return out


def solve(groups: list[Group], max_cycles: int, bram_cap: int, edges=None,
          family: str = "xc7") -> tuple[float, list[Choice]] | None:
    """Minimum-LUT choice per group with all cycles <= max_cycles and total BRAM <= bram_cap (exact DP on a
    chain; ``edges`` of a branching core graph: converters counted only between groups an edge joins), LUTs of
    the device ``family``."""
    joined = _joined(groups, edges)
    cands = [candidates(g, max_cycles, family) for g in groups]
    if any(not c for c in cands):
        return None
    nb = bram_cap + 1
    # state: out_elems of the previous group -> (min LUT per BRAM used, back-pointers)
    layer: dict[int, np.ndarray] = {}
    back: list[dict[int, tuple[np.ndarray, np.ndarray]]] = []
    for c_idx, c in enumerate(cands[0]):
        if c.bram < nb:
            arr = layer.setdefault(c.out_elems, np.full(nb, INF))
            if c.lut < arr[c.bram]:
                arr[c.bram] = c.lut
    back.append({})
    first_pick = {oe: np.full(nb, -1) for oe in layer}
    for c_idx, c in enumerate(cands[0]):
        if c.bram < nb and layer[c.out_elems][c.bram] == c.lut and first_pick[c.out_elems][c.bram] < 0:
            first_pick[c.out_elems][c.bram] = c_idx
    picks = [first_pick]
    for gi in range(1, len(groups)):
        prev_last = groups[gi - 1].post[-1] if groups[gi - 1].post else groups[gi - 1].mvu
        cur_first = groups[gi].pre or groups[gi].mvu
        new: dict[int, np.ndarray] = {}
        pick: dict[int, np.ndarray] = {}
        src: dict[int, np.ndarray] = {}
        for c_idx, c in enumerate(cands[gi]):
            for oe, arr in layer.items():
                dl, dc = _dwc_cost(prev_last, cur_first, oe, c.in_elems, family) if joined[gi] else (0, 0)
                if dc > max_cycles or c.bram >= nb:
                    continue
                shifted = np.full(nb, INF)
                shifted[c.bram:] = arr[:nb - c.bram] + c.lut + dl
                tgt = new.setdefault(c.out_elems, np.full(nb, INF))
                better = shifted < tgt
                if better.any():
                    tgt[better] = shifted[better]
                    pick.setdefault(c.out_elems, np.full(nb, -1))[better] = c_idx
                    src.setdefault(c.out_elems, np.full(nb, -1))[better] = oe
        if not new:
            return None
        layer = new
        picks.append(pick)
        back.append({oe: (pick[oe], src[oe]) for oe in pick})
    best_lut, best_oe, best_b = INF, None, None
    for oe, arr in layer.items():
        b = int(np.argmin(arr))
        if arr[b] < best_lut:
            best_lut, best_oe, best_b = float(arr[b]), oe, b
    if best_oe is None or best_lut == INF:
        return None
    chosen: list[Choice] = []
    oe, b = best_oe, best_b
    for gi in range(len(groups) - 1, -1, -1):
        c_idx = int(picks[gi][oe][b])
        c = cands[gi][c_idx]
        chosen.append(c)
        if gi:
            prev_oe = int(back[gi][oe][1][b])
            oe, b = prev_oe, b - c.bram
    return best_lut, chosen[::-1]


def _rebuild(graph: DataflowGraph, groups: list[Group], chosen: list[Choice]) -> DataflowGraph:
    nodes: list[Node] = []
    for g, c in zip(groups, chosen):
        nodes.extend(_apply(g, c.pe, c.simd, c.style))
    return _with_core_nodes(graph, nodes)


def _with_core_nodes(graph: DataflowGraph, nodes: list[Node]) -> DataflowGraph:
    """The core graph with these (re-folded) nodes, fan-out and join nodes following them over the edges."""
    core = core_graph(graph)
    return core.replace(nodes=tuple(follow_neighbours(nodes, core.edges)))


def _core_edges(graph: DataflowGraph):
    """The core graph's edges where it branches (None on a chain: every consecutive pair is joined)."""
    core = core_graph(graph)
    return None if core.is_chain else core.edges


def _device_caps(device: Any) -> tuple[int, int, str, float, str]:
    """The device's LUTs, BRAM_18K, name, default clock and family: the search counts each candidate's LUTs in
    the device's own LUTs (compile/estimate.py device_lut), as estimate_layer_resources does."""
    from candle_hw.devices import get_device

    from candle_hw.compile.estimate import estimate_capacity

    d = get_device(device)
    cap = estimate_capacity(d)  # block RAM as RAMB18 equivalents (the one rule, shared with the fit check)
    return cap["LUT"], cap["BRAM_18K"], d.name, float(d.clock_mhz), d.family


@dataclass(frozen=True)
class FoldForThroughput:
    """Folds the graph for ``target_fps`` (frames/s at ``clock_mhz``) or "max" at minimum estimated LUTs.

    Reads: every node's shape, whether a unit's weights are ternary; the device's LUT and BRAM_18K counts
    (candle_hw/devices.py). Writes: pe/simd and weight_style of every matrix-vector unit, simd/pe of its
    neighbours; drops width converters and FIFOs (the stitching passes re-insert them for the new word sizes).
    Fails (UserError, with the numbers) when no folding reaches the target within ``lut_util`` of the device's
    LUTs and its BRAM, less the reserve. Deterministic and idempotent (the optimum depends only on the nodes).

    ``reserve_lut`` and ``reserve_bram`` (units of estimate_layer_resources on the device) are kept free
    for what the search cannot see: the FIFOs that SizeFIFOs keeps after the folding (their depths come from
    simulating the folded design) and, on a branching graph, the converters on branch edges. The compile
    pipeline sets them from what a folding's sized design took beyond the device (compile/pipeline.py).
    """

    target_fps: float | str
    device: Any = "xc7z020"
    clock_mhz: float | None = None  # None: the device's default clock
    lut_util: float = 0.9
    reserve_lut: int = 0
    reserve_bram: int = 0

    def __call__(self, graph: DataflowGraph) -> DataflowGraph:
        groups, _ = _groups(graph)
        luts, brams, dev, clock, family = _device_caps(self.device)
        if self.clock_mhz is not None:
            clock = float(self.clock_mhz)
        lut_cap = int(luts * self.lut_util) - self.reserve_lut
        brams -= self.reserve_bram
        if self.reserve_lut or self.reserve_bram:
            dev = f"{dev} less {self.reserve_lut} LUT, {self.reserve_bram} BRAM_18K kept for the FIFOs"
        if lut_cap < 0 or brams < 0:
            raise UserError(f"FoldForThroughput: nothing is left of {dev}")
        if self.target_fps == "max":
            return self._fastest(graph, groups, lut_cap, brams, dev, family)
        fps = float(self.target_fps)
        if fps <= 0:
            raise UserError(f"FoldForThroughput: target_fps={fps} must be positive")
        target = int(clock * 1e6 / fps)
        edges = _core_edges(graph)
        res = solve(groups, target, brams, edges, family) if target >= 1 else None
        if res is None or res[0] > lut_cap:
            best = self._fastest_cycles(groups, lut_cap, brams, dev, edges, family)
            need = "" if res is None else f" that needs {res[0]:.0f} LUT (> {lut_cap});"
            raise UserError(
                f"FoldForThroughput: {fps:.0f} FPS at {clock:g} MHz needs <= {target} cycles per frame;"
                f"{need} the fastest design that fits {dev} ({lut_cap} LUT, {brams} BRAM_18K) takes "
                f"{best} cycles = {clock * 1e6 / best:.0f} FPS"
            )
        return _rebuild(graph, groups, res[1])

    def _fastest_cycles(self, groups: list[Group], lut_cap: int, brams: int, dev: str, edges=None,
                        family: str = "xc7") -> int:
        # every folding's cycles, not only the Pareto candidates' at no cycle bound: a faster choice that a slower
        # one dominates there is the one that decides a tighter bound
        levels = sorted({f[-1] for g in groups for f in _foldings(g)})
        lo, hi = 0, len(levels) - 1
        most_folded = solve(groups, levels[hi], brams, edges, family)
        if not _fits(most_folded, lut_cap):
            raise UserError(_unfoldable(groups, most_folded, lut_cap, brams, dev))
        while lo < hi:
            mid = (lo + hi) // 2
            if _fits(solve(groups, levels[mid], brams, edges, family), lut_cap):
                hi = mid
            else:
                lo = mid + 1
        return levels[lo]

    def _fastest(self, graph: DataflowGraph, groups: list[Group], lut_cap: int, brams: int, dev: str,
                 family: str) -> DataflowGraph:
        edges = _core_edges(graph)
        cycles = self._fastest_cycles(groups, lut_cap, brams, dev, edges, family)
        res = solve(groups, cycles, brams, edges, family)
        assert res is not None
        return _rebuild(graph, groups, res[1])


def _fits(res: tuple[float, list[Choice]] | None, lut_cap: int) -> bool:
    return res is not None and res[0] <= lut_cap


def _unfoldable(groups: list[Group], res: tuple[float, list[Choice]] | None, lut_cap: int, brams: int,
                dev: str) -> str:
    """The refusal when not even the most folded design fits: what it needs, and the units that need most, so that
    the user sees which layers to shrink (a student whose weights overflow the block RAM, e.g., pays for them in
    LUT ROMs)."""
    if res is None:
        return f"FoldForThroughput: even the most folded design needs more than the {brams} BRAM_18K of {dev}"
    largest = sorted(zip(groups, res[1]), key=lambda gc: -gc[1].lut)[:3]
    units = ", ".join(f"{g.mvu.name} {c.lut:,}" for g, c in largest)
    return (f"FoldForThroughput: even the most folded design needs {res[0]:,.0f} LUT, over the {lut_cap:,} LUT "
            f"that fit {dev} (with {brams} BRAM_18K); the largest units (LUT, with their windows and pools): {units}")


# -- FINN's SetFolding (finn_semantics.md section 8) ------------------------------------------------------
def finn_set_folding(graph: DataflowGraph, target_cycles: int, two_pass: bool = True,
                     max_weight_width: int = 36) -> DataflowGraph:
    """FINN's greedy walk: per MVU, SIMD up the divisors of MW until the cycle target is met or SIMD exceeds
    ``max_weight_width`` (1-bit weights; for convolutions the divisors of the input channels, as FINN's SWG
    takes the MVAU's SIMD), then PE up the divisors of MH; pe of pool/threshold/label-select/duplicate/add
    nodes up their divisors likewise; sliding windows follow their MVU (ApplyFolding's rule). With
    ``two_pass`` the walk is repeated for the bottleneck it achieved (FINN's relaxation). No resource model."""
    groups, _ = _groups(graph)

    def walk(target: int) -> list[Node]:
        nodes: list[Node] = []
        for g in groups:
            m = g.mvu
            pe, simd = 1, 1
            # FINN gives a convolution's SWG the MVAU's SIMD, so SIMD must divide the input channels
            for s in divisors(g.pre.channels if g.pre is not None else m.mw):
                if s > max_weight_width:
                    break
                simd = s
                if (m.mw // s) * m.mh * m.vectors <= target:
                    break
            if (m.mw // simd) * m.mh * m.vectors > target:
                for p in divisors(m.mh):
                    pe = p
                    if (m.mw // simd) * (m.mh // p) * m.vectors <= target:
                        break
            part = _apply(g, pe, simd)
            first_post = len(part) - len(g.post)
            for i, n in enumerate(part):
                if isinstance(n, SlidingWindow) and i >= first_post:  # an overlapping pool's window
                    for p in divisors(n.channels):
                        n = replace(n, simd=p)
                        if node_cycles(n) <= target:
                            break
                    part[i] = n
                elif isinstance(n, WINDOW_POOLS) and isinstance(part[i - 1], SlidingWindow):
                    part[i] = replace(n, pe=part[i - 1].simd)  # its reduction reads the window's words
                elif isinstance(n, _POST):
                    # FINN's pe_ops (set_folding.py) include AddStreams and DuplicateStreams: pe up the
                    # divisors of the channels, like a threshold's
                    total = n.labels if isinstance(n, LabelSelect) else n.shape[-1] \
                        if isinstance(n, (DuplicateStreams, AddStreams)) else n.channels
                    for p in divisors(total):
                        n = replace(n, pe=p)
                        if node_cycles(n) <= target:
                            break
                    part[i] = n
            nodes.extend(part)
        return nodes

    nodes = walk(target_cycles)
    if two_pass:
        achieved = max(node_cycles(n) for n in nodes)
        if achieved > target_cycles:
            nodes = walk(achieved)
    return core_graph(graph).replace(nodes=tuple(nodes))
