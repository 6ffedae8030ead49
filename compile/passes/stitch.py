"""Stitching passes: the width converters and FIFOs that join the blocks of a dataflow graph.

``Stitch`` is the pipeline's "stitch" step (both passes). The emitter and the cycle simulator take a stitched
graph as it is and refuse one whose connected blocks exchange words of different sizes (compile/ir.py
``require_stitched``): nothing re-stitches behind the pipeline's back.

Both passes work per edge, so a branching graph (DuplicateStreams / AddStreams) is stitched like a chain: each
branch of a fan-out and each operand of an add gets its own converter and FIFO. Stream positions of a graph
with edges e_0..e_{m-1} (stored order) are numbered 0..m+1: position 0 is the dataflow input (before the
source), position k+1 the stream of edge e_k, position m+1 the dataflow output (after the sink). On a chain of
n nodes, edge k joins node k and k+1, so position i is the stream from node i-1 to node i and n the output.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from candle_hw.compile.ir import DataflowGraph, Edge, IRError, Node, StreamFIFO, StreamType, WidthConverter
from candle_hw.hw_templates import FIFO_MIN_DEPTH

DEFAULT_FIFO_DEPTH = FIFO_MIN_DEPTH  # the smallest FIFO that moves a word every cycle


def _converter_shape(a: StreamType, b: StreamType) -> tuple[int, ...]:
    """A shape whose innermost dimension both word sizes divide (the converter only regroups elements)."""
    for shape in (a.shape, b.shape):
        if shape[-1] % a.elems_per_word == 0 and shape[-1] % b.elems_per_word == 0:
            return tuple(shape)
    return (a.num_elems,)


@dataclass(frozen=True)
class InsertWidthConverters:
    """Insert a WidthConverter (named ``dwc_<producer>``, ``dwc_<producer>_p<port>`` for output ports > 0) on
    every edge whose two ends' word sizes differ.

    Reads: every edge's streams. Writes: new WidthConverter nodes (stored just before their consumer); nothing
    else changes. Fails (IRError) when the two streams' element types differ (the graph would already be
    invalid). Idempotent: after it, every edge's word sizes agree, so a second run changes nothing.
    """

    def __call__(self, graph: DataflowGraph) -> DataflowGraph:
        new: dict[Edge, list[Node]] = {}
        taken = {n.name for n in graph.nodes}
        for e in graph.edges:
            sa, sb = graph.edge_streams(e)
            if sa.elem_type != sb.elem_type:
                raise IRError(f"{e}: element types differ ({sa.elem_type} vs {sb.elem_type})")
            if sa.elems_per_word != sb.elems_per_word:
                name = _unique(_edge_name("dwc", e), taken)
                new[e] = [WidthConverter(name, sa.elem_type, _converter_shape(sa, sb), sa.elems_per_word,
                                         sb.elems_per_word)]
        return _splice_all(graph, new)


@dataclass(frozen=True)
class InsertFIFOs:
    """Insert a StreamFIFO at every stream position (input, each edge, output) not already next to one.

    Names: ``fifo_input`` at position 0, ``fifo_<producer>`` elsewhere (``fifo_<producer>_p<port>`` for output
    ports > 0, as compile/passes/fifo_sizing.py). Depth: ``depths`` maps a stream position (int, numbered on
    the graph passed in: see the module docstring) or the FIFO's name to a depth; others get
    ``default_depth``. Reads: the edges and streams. Writes: new StreamFIFO nodes; existing FIFOs are kept with
    their depths. Fails (IRError) on a depth < 1, or a key that is neither a stream position of the graph nor
    the name of a FIFO in the result.
    Idempotent: every position next to a FIFO is skipped, so a second run changes nothing.
    """

    depths: Mapping[int | str, int] = field(default_factory=dict)
    default_depth: int = DEFAULT_FIFO_DEPTH

    def __call__(self, graph: DataflowGraph) -> DataflowGraph:
        used: set[int | str] = set()
        taken = {n.name for n in graph.nodes}
        src, snk = graph.source, graph.sink
        head: list[Node] = []
        if not isinstance(src, StreamFIFO):
            name = _unique("fifo_input", taken)
            head = [StreamFIFO(name, src.in_stream(), self._depth(0, name, used))]
        new: dict[Edge, list[Node]] = {}
        for k, e in enumerate(graph.edges):
            a, b = graph.node(e.src), graph.node(e.dst)
            if not isinstance(a, StreamFIFO) and not isinstance(b, StreamFIFO):
                name = _unique(_edge_name("fifo", e), taken)
                new[e] = [StreamFIFO(name, a.out_stream(e.src_port), self._depth(k + 1, name, used))]
        tail: list[Node] = []
        out_pos = len(graph.edges) + 1
        if not isinstance(snk, StreamFIFO):
            name = _unique(f"fifo_{snk.name}", taken)
            tail = [StreamFIFO(name, snk.out_stream(), self._depth(out_pos, name, used))]
        g = _splice_all(graph, new)
        g = _with_ends(g, head, tail)
        fifo_names = {n.name for n in g.nodes if isinstance(n, StreamFIFO)}
        bad = [k for k in self.depths if k not in used and not (isinstance(k, int) and 0 <= k <= out_pos)
               and k not in fifo_names]
        if bad:
            raise IRError(f"InsertFIFOs: depths given for {sorted(map(str, bad))}: no such stream position or FIFO")
        return g

    def _depth(self, pos: int, name: str, used: set[int | str]) -> int:
        depth = self.default_depth
        for key in (pos, name):
            if key in self.depths:
                depth = self.depths[key]
                used.add(key)
        if not isinstance(depth, int) or depth < 1:
            raise IRError(f"{name}: FIFO depth={depth!r} must be a positive integer")
        return depth


@dataclass(frozen=True)
class Stitch:
    """The pipeline's "stitch" step: InsertWidthConverters, then InsertFIFOs with ``default_depth``.

    Reads/writes: as the two passes. Idempotent (both are)."""

    default_depth: int = DEFAULT_FIFO_DEPTH

    def __call__(self, graph: DataflowGraph) -> DataflowGraph:
        return InsertFIFOs(default_depth=self.default_depth)(InsertWidthConverters()(graph))


def _edge_name(prefix: str, e: Edge) -> str:
    return f"{prefix}_{e.src}" + (f"_p{e.src_port}" if e.src_port else "")


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name_<i>`` for the first i not taken; the result is added to ``taken``."""
    out, i = name, 1
    while out in taken:
        out, i = f"{name}_{i}", i + 1
    taken.add(out)
    return out


def _splice_all(graph: DataflowGraph, new: dict[Edge, list[Node]]) -> DataflowGraph:
    """The graph with each chain ``new[e]`` spliced into edge e (each stored just before its consumer)."""
    if not new:
        return graph
    nodes: list[Node] = []
    edges: list[Edge] = []
    for n in graph.nodes:
        for e in graph.in_edges(n.name):
            nodes.extend(new.get(e, ()))
        nodes.append(n)
    for e in graph.edges:
        chain = new.get(e)
        if not chain:
            edges.append(e)
            continue
        names = [c.name for c in chain]
        edges.append(Edge(e.src, names[0], e.src_port, 0))
        edges.extend(Edge(x, y) for x, y in zip(names, names[1:]))
        edges.append(Edge(names[-1], e.dst, 0, e.dst_port))
    return graph.replace(nodes=tuple(nodes), edges=tuple(edges))


def _with_ends(graph: DataflowGraph, head: list[Node], tail: list[Node]) -> DataflowGraph:
    """The graph with one-in/one-out nodes before its source and after its sink."""
    if not head and not tail:
        return graph
    edges = list(graph.edges)
    if head:
        edges.insert(0, Edge(head[-1].name, graph.source.name))
    if tail:
        edges.append(Edge(graph.sink.name, tail[0].name))
    return graph.replace(nodes=(*head, *graph.nodes, *tail), edges=tuple(edges))
