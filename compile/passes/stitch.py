"""Stitching passes: the width converters and FIFOs that join the blocks of a dataflow chain.

``Stitch`` is the pipeline's "stitch" step (both passes). The emitter and the cycle simulator take a stitched
graph as it is and refuse one whose adjacent blocks exchange words of different sizes (compile/ir.py
``require_stitched``): nothing re-stitches behind the pipeline's back.

Stream positions of a chain of n nodes are numbered 0..n: position 0 is the dataflow input (before node 0),
position i the stream from node i-1 to node i, position n the dataflow output.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from candle_hw.compile.ir import DataflowGraph, IRError, Node, StreamFIFO, StreamType, WidthConverter
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
    """Insert a WidthConverter (named ``dwc_<producer>``) between adjacent nodes whose word sizes differ.

    Reads: every node's in/out stream. Writes: new WidthConverter nodes; nothing else changes. Fails (IRError)
    when the two streams' element types differ (the graph would already be invalid). Idempotent: after it,
    every producer's elements per word equal its consumer's, so a second run changes nothing.
    """

    def __call__(self, graph: DataflowGraph) -> DataflowGraph:
        nodes: list[Node] = [graph.nodes[0]]
        for b in graph.nodes[1:]:
            a = nodes[-1]
            sa, sb = a.out_stream(), b.in_stream()
            if sa.elem_type != sb.elem_type:
                raise IRError(f"{a.name} -> {b.name}: element types differ ({sa.elem_type} vs {sb.elem_type})")
            if sa.elems_per_word != sb.elems_per_word:
                nodes.append(WidthConverter(_unique(f"dwc_{a.name}", graph, nodes), sa.elem_type,
                                            _converter_shape(sa, sb), sa.elems_per_word, sb.elems_per_word))
            nodes.append(b)
        return graph.replace(nodes=tuple(nodes))


@dataclass(frozen=True)
class InsertFIFOs:
    """Insert a StreamFIFO at every stream position (input, between nodes, output) not already next to one.

    Names: ``fifo_input`` at position 0, ``fifo_<producer>`` elsewhere (as compile/passes/fifo_sizing.py).
    Depth: ``depths`` maps a stream position (int, numbered on the graph passed in) or the FIFO's name to a
    depth; others get ``default_depth``. Reads: the node list and streams. Writes: new StreamFIFO nodes; existing
    FIFOs are kept with their depths. Fails (IRError) on a depth < 1, or a key that is neither a stream position
    of the graph nor the name of a FIFO in the result.
    Idempotent: every position next to a FIFO is skipped, so a second run changes nothing.
    """

    depths: Mapping[int | str, int] = field(default_factory=dict)
    default_depth: int = DEFAULT_FIFO_DEPTH

    def __call__(self, graph: DataflowGraph) -> DataflowGraph:
        old = graph.nodes
        used: set[int | str] = set()
        nodes: list[Node] = []
        for pos in range(len(old) + 1):
            before = old[pos - 1] if pos > 0 else None
            after = old[pos] if pos < len(old) else None
            if not isinstance(before, StreamFIFO) and not isinstance(after, StreamFIFO):
                name = _unique("fifo_input" if before is None else f"fifo_{before.name}", graph, nodes)
                stream = after.in_stream() if before is None else before.out_stream()
                depth = self._depth(pos, name, used)
                nodes.append(StreamFIFO(name, stream, depth))
            if after is not None:
                nodes.append(after)
        fifo_names = {n.name for n in nodes if isinstance(n, StreamFIFO)}
        bad = [k for k in self.depths if k not in used and not (isinstance(k, int) and 0 <= k <= len(old))
               and k not in fifo_names]
        if bad:
            raise IRError(f"InsertFIFOs: depths given for {sorted(map(str, bad))}: no such stream position or FIFO")
        return graph.replace(nodes=tuple(nodes))

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


def _unique(name: str, graph: DataflowGraph, new: list[Node]) -> str:
    taken = {n.name for n in graph.nodes} | {n.name for n in new}
    if name not in taken:
        return name
    i = 1
    while f"{name}_{i}" in taken:
        i += 1
    return f"{name}_{i}"
