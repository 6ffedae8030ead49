"""ApplyFolding: set PE/SIMD of matrix-vector units from a user folding, and keep neighbours consistent.

At a fan-out or a join of a branching graph (the constraint ``follow_neighbours`` applies): a DuplicateStreams
takes its producer's word size, so nothing converts before it, and each consumer reads what it needs through
its own width converter; an AddStreams has one pe for both operands and its output (the IR's definition), and
takes the WIDER of its two operands' words. Then the add is never slower than either operand's producer
(cycles = elements / pe <= each producer's words per frame), the narrower operand widens through a converter
that stitch inserts on that edge (itself no slower than its producer), and the nodes after the add follow it.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from candle_hw.compile.ir import (
    WINDOW_POOLS, AccPool, AddStreams, DataflowGraph, DuplicateStreams, Edge, GlobalAccPool, IRError, LabelSelect, MatrixVectorUnit, MaxPool, Node, SlidingWindow, Thresholding,
)
from candle_hw.errors import UserError

Assignment = tuple[tuple[str, int, int, str | None], ...]


def parse_folding(graph: DataflowGraph, spec: Any) -> Assignment:
    """A folding spec -> ((mvu name, pe, simd), ...).

    ``spec`` is a path to JSON, or the JSON value: a list of {"pe": P, "simd": S} applied to the matrix-vector
    units in topological order, or an object keyed by node name (FINN-style extra keys are ignored).
    """
    if isinstance(spec, (str, Path)):
        p = Path(spec)
        try:
            spec = json.loads(p.read_text())
        except FileNotFoundError:
            raise UserError(f"--folding {p}: no such file") from None
        except IsADirectoryError:
            raise UserError(f"--folding {p}: is a folder, not a JSON file") from None
        except UnicodeDecodeError:
            raise UserError(f"--folding {p}: not a text file") from None
        except json.JSONDecodeError as exc:
            raise UserError(f"--folding {p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    mvus = [n for n in graph.nodes if isinstance(n, MatrixVectorUnit)]
    out: list[tuple[str, int, int]] = []
    if isinstance(spec, list):
        if len(spec) != len(mvus):
            raise UserError(
                f"folding: {len(spec)} entries for {len(mvus)} matrix-vector units ({', '.join(m.name for m in mvus)})"
            )
        for m, entry in zip(mvus, spec):
            out.append((m.name, *_pe_simd(m.name, entry, m), _style(m.name, entry)))
    elif isinstance(spec, dict):
        names = {m.name: m for m in mvus}
        for name, entry in spec.items():
            if name == "Defaults":
                continue
            if name not in names:
                raise UserError(f"folding: no matrix-vector unit named {name!r} (have {', '.join(names)})")
            out.append((name, *_pe_simd(name, entry, names[name]), _style(name, entry)))
    else:
        raise UserError(f"folding: expected a list or an object, got {type(spec).__name__}")
    return tuple(out)


def _style(name: str, entry: Any) -> str | None:
    """Where the weights live: ``weight_style`` (ours) or FINN's ``ram_style`` (block/distributed/auto)."""
    style = entry.get("weight_style", entry.get("ram_style")) if isinstance(entry, dict) else None
    if style is not None and style not in MatrixVectorUnit.WEIGHT_STYLES:
        raise UserError(f"{name}: weight_style={style!r} is not one of {', '.join(MatrixVectorUnit.WEIGHT_STYLES)}")
    return style


def _pe_simd(name: str, entry: Any, m: MatrixVectorUnit) -> tuple[int, int]:
    if not isinstance(entry, dict):
        raise UserError(f"{name}: folding entry {entry!r} is not an object with pe and simd")
    pe, simd = entry.get("PE", entry.get("pe", m.pe)), entry.get("SIMD", entry.get("simd", m.simd))
    for k, v in (("pe", pe), ("simd", simd)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise UserError(f"{name}: {k}={v!r} must be a positive integer")
    return pe, simd


@dataclass(frozen=True)
class ApplyFolding:
    """Sets (pe, simd) and, where given, the weight style of the named matrix-vector units.

    Reads: MatrixVectorUnit nodes. Writes: their pe/simd (and weight style), then the neighbours' simd/pe
    (``follow_neighbours``).
    Fails (UserError naming the node) when a value does not divide mw/mh. Idempotent.
    """

    assignment: Assignment

    def __call__(self, graph: DataflowGraph) -> DataflowGraph:
        fold = {name: (pe, simd, style) for name, pe, simd, style in self.assignment}
        nodes = list(graph.nodes)
        for i, n in enumerate(nodes):
            if isinstance(n, MatrixVectorUnit) and n.name in fold:
                pe, simd, style = fold[n.name]
                try:
                    nodes[i] = replace(n, pe=pe, simd=simd, weight_style=style or n.weight_style)
                except IRError as exc:
                    raise UserError(str(exc)) from None
        return graph.replace(nodes=tuple(follow_neighbours(nodes, graph.edges)))


_LEADERS = (MatrixVectorUnit, MaxPool, AccPool, GlobalAccPool, Thresholding, DuplicateStreams, AddStreams)


def follow_neighbours(nodes: list[Node], edges: tuple[Edge, ...] | list[Edge] = ()) -> list[Node]:
    """Neighbours follow the matrix-vector units: a sliding window takes the largest divisor of its channels
    that divides the simd of the unit it feeds (no width converter when simd divides the channels); a max-pool or
window sum (AccPool),
    thresholding, label select or duplicate takes the largest divisor of its size that divides the words of
    the node feeding it (a unit, or a pool/threshold/duplicate/add after one), and so does the sliding window
    of an overlapping max-pool (compile/passes/pool_windows.py), whose reduction then takes the window's simd;
    an add takes the wider of its operands' words (module docstring). ``nodes`` in topological order;
    ``edges`` join them (none: a chain)."""
    out = list(nodes)
    if not edges:
        edges = [Edge(a.name, b.name) for a, b in zip(out, out[1:])]
    at = {n.name: i for i, n in enumerate(out)}
    preds: dict[str, list[Edge]] = {}
    succs: dict[str, list[Edge]] = {}
    for e in edges:
        if e.src in at and e.dst in at:
            preds.setdefault(e.dst, []).append(e)
            succs.setdefault(e.src, []).append(e)
    for i, n in enumerate(out):
        ins = sorted(preds.get(n.name, ()), key=lambda e: e.dst_port)
        prev = [out[at[e.src]] for e in ins]
        nxt = [out[at[e.dst]] for e in succs.get(n.name, ())]
        one_prev = prev[0] if len(prev) == 1 else None
        words = one_prev.out_stream(ins[0].src_port).elems_per_word if one_prev is not None else 0
        if isinstance(n, SlidingWindow) and len(nxt) == 1 and isinstance(nxt[0], MatrixVectorUnit):
            out[i] = replace(n, simd=math.gcd(nxt[0].simd, n.channels))
        elif isinstance(n, SlidingWindow) and len(nxt) == 1 and isinstance(nxt[0], WINDOW_POOLS) \
                and isinstance(one_prev, _LEADERS):
            out[i] = replace(n, simd=math.gcd(words, n.channels))
        elif isinstance(n, WINDOW_POOLS) and isinstance(one_prev, SlidingWindow):
            out[i] = replace(n, pe=one_prev.simd)
        elif isinstance(n, AddStreams) and prev and all(isinstance(p, _LEADERS) for p in prev):
            widest = max(p.out_stream(e.src_port).elems_per_word for p, e in zip(prev, ins))
            out[i] = replace(n, pe=math.gcd(widest, n.shape[-1]))
        elif isinstance(n, (MaxPool, AccPool, GlobalAccPool, Thresholding, LabelSelect, DuplicateStreams)) \
                and isinstance(one_prev, _LEADERS):
            size = n.labels if isinstance(n, LabelSelect) else n.shape[-1] if isinstance(n, DuplicateStreams) \
                else n.channels
            out[i] = replace(n, pe=math.gcd(words, size))
    return out


def folding_of(graph: DataflowGraph) -> dict[str, dict[str, int]]:
    """The folding in use, keyed by node name (written to BUILD/folding.json)."""
    out: dict[str, dict[str, int]] = {}
    for n in graph.nodes:
        if isinstance(n, MatrixVectorUnit):
            out[n.name] = {"pe": n.pe, "simd": n.simd, "weight_style": n.weight_style}
        elif isinstance(n, SlidingWindow):
            out[n.name] = {"simd": n.simd}
        elif isinstance(n, (MaxPool, AccPool, GlobalAccPool, LabelSelect, Thresholding, DuplicateStreams, AddStreams)):
            out[n.name] = {"pe": n.pe}
    return out
