"""The edges of the dataflow DAG and the structural rules they obey (compile/ir.py's DataflowGraph stores them).

A node has ``n_in`` input and ``n_out`` output ports; an ``Edge`` joins one output port to one input port and
is one stream (one producer, one consumer: fan-out only through a DuplicateStreams node). The rules checked
here are the graph's shape only (ports, one source, one sink, acyclic, stored order topological); the stream
types along each edge are checked by the graph itself. Nodes are used through ``name``, ``n_in``, ``n_out``.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Sequence

import networkx as nx

from candle_hw.errors import UserError


class IRError(UserError):
    """An invalid node or graph; the message names the node and the offending value."""


@dataclass(frozen=True, slots=True)
class Edge:
    """One stream: output port ``src_port`` of node ``src`` into input port ``dst_port`` of node ``dst``."""

    src: str
    dst: str
    src_port: int = 0
    dst_port: int = 0

    def __str__(self) -> str:
        sp = f":{self.src_port}" if self.src_port else ""
        dp = f":{self.dst_port}" if self.dst_port else ""
        return f"{self.src}{sp} -> {self.dst}{dp}"

    def to_json(self) -> list[Any]:
        return [self.src, self.dst, self.src_port, self.dst_port]

    @staticmethod
    def from_json(v: Sequence[Any]) -> "Edge":
        if len(v) != 4 or not all(isinstance(x, str) for x in v[:2]) or not all(
                isinstance(x, int) and not isinstance(x, bool) for x in v[2:]):
            raise IRError(f"dataflow.json: edge {v!r} is not [src, dst, src_port, dst_port]")
        return Edge(v[0], v[1], v[2], v[3])


def chain_edges(nodes: Sequence[Any]) -> tuple[Edge, ...]:
    """The edges of a chain: each node feeds the next."""
    return tuple(Edge(a.name, b.name) for a, b in zip(nodes, nodes[1:]))


def check_structure(nodes: Sequence[Any], edges: Sequence[Edge]) -> None:
    """Refuse (IRError naming the node or edge) anything but a DAG of one source and one sink, stored in a
    topological order, every input port driven by exactly one edge and every output port but the sink's
    read by exactly one."""
    by_name = {n.name: n for n in nodes}
    index = {n.name: i for i, n in enumerate(nodes)}
    driven: dict[tuple[str, int], Edge] = {}
    read: dict[tuple[str, int], Edge] = {}
    for e in edges:
        for end, port, width in ((e.src, e.src_port, "n_out"), (e.dst, e.dst_port, "n_in")):
            if end not in by_name:
                raise IRError(f"edge {e}: no node named {end!r}")
            n = getattr(by_name[end], width)
            if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port < n:
                kind = "output" if width == "n_out" else "input"
                raise IRError(f"edge {e}: {end} has no {kind} port {port!r} ({width}={n})")
        if e.src == e.dst:
            raise IRError(f"edge {e}: a node cannot feed itself (cycle)")
        for table, key, what in ((driven, (e.dst, e.dst_port), "input"), (read, (e.src, e.src_port), "output")):
            if key in table:
                raise IRError(f"{key[0]}: {what} port {key[1]} is on two edges ({table[key]} and {e}); "
                              "fan-out needs a DuplicateStreams node")
            table[key] = e
    _check_order(nodes, edges, index)
    sources = [n for n in nodes if not any((n.name, p) in driven for p in range(n.n_in))]
    sinks = [n for n in nodes if not any((n.name, p) in read for p in range(n.n_out))]
    if len(sources) != 1:
        raise IRError(f"the graph must have one source (a node with no inputs), found {[n.name for n in sources]}")
    if len(sinks) != 1:
        raise IRError(f"the graph must have one sink (a node with no consumers), found {[n.name for n in sinks]}")
    for n in nodes:
        if n is not sources[0]:
            for p in range(n.n_in):
                if (n.name, p) not in driven:
                    raise IRError(f"{n.name}: input port {p} has no edge (dangling)")
        if n is not sinks[0]:
            for p in range(n.n_out):
                if (n.name, p) not in read:
                    raise IRError(f"{n.name}: output port {p} has no edge (dangling)")
    if sources[0].n_in != 1:
        raise IRError(f"{sources[0].name}: the source has {sources[0].n_in} inputs; the graph input is one stream")
    if sinks[0].n_out != 1:
        raise IRError(f"{sinks[0].name}: the sink has {sinks[0].n_out} outputs; the graph output is one stream")


def _check_order(nodes: Sequence[Any], edges: Sequence[Edge], index: dict[str, int]) -> None:
    backward = [e for e in edges if index[e.src] >= index[e.dst]]
    if not backward:
        return  # every edge goes forward in the stored order: it is topological, hence there is no cycle
    g = to_networkx(nodes, edges)
    if not nx.is_directed_acyclic_graph(g):
        cyc = nx.find_cycle(g)
        src, dst = cyc[0][0], cyc[0][1]
        raise IRError(f"edge {src} -> {dst} closes a cycle ({' -> '.join([c[0] for c in cyc] + [cyc[0][0]])})")
    raise IRError(f"edge {backward[0]}: the nodes are not stored in a topological order "
                  f"({backward[0].dst} comes before its producer {backward[0].src})")


def to_networkx(nodes: Sequence[Any], edges: Sequence[Edge]) -> nx.MultiDiGraph:
    """The graph as a networkx.MultiDiGraph: node attribute ``node``, edge attributes src_port/dst_port."""
    g = nx.MultiDiGraph()
    for n in nodes:
        g.add_node(n.name, node=n)
    for e in edges:
        g.add_edge(e.src, e.dst, src_port=e.src_port, dst_port=e.dst_port)
    return g


def adjacency(edges: Sequence[Edge]) -> tuple[dict[str, list[Edge]], dict[str, list[Edge]]]:
    """(in-edges by destination sorted by dst_port, out-edges by source sorted by src_port)."""
    ins: dict[str, list[Edge]] = defaultdict(list)
    outs: dict[str, list[Edge]] = defaultdict(list)
    for e in edges:
        ins[e.dst].append(e)
        outs[e.src].append(e)
    for v in ins.values():
        v.sort(key=lambda e: e.dst_port)
    for v in outs.values():
        v.sort(key=lambda e: e.src_port)
    return dict(ins), dict(outs)


def splice(nodes: Sequence[Any], edges: Sequence[Edge], edge: Edge, new: Sequence[Any]) -> tuple[list[Any], list[Edge]]:
    """Nodes and edges with the 1-in/1-out chain ``new`` spliced into ``edge`` (stored just before its
    consumer, which keeps the order topological)."""
    if edge not in edges:
        raise IRError(f"insert_on_edge: no edge {edge} in the graph")
    for n in new:
        if n.n_in != 1 or n.n_out != 1:
            raise IRError(f"insert_on_edge: {n.name} has {n.n_in} inputs and {n.n_out} outputs (1 and 1 needed)")
    if not new:
        return list(nodes), list(edges)
    names = [edge.src, *(n.name for n in new), edge.dst]
    chain = [Edge(a, b) for a, b in zip(names, names[1:])]
    chain[0] = Edge(edge.src, chain[0].dst, edge.src_port, 0)
    chain[-1] = Edge(chain[-1].src, edge.dst, 0, edge.dst_port)
    i = next(k for k, e in enumerate(edges) if e == edge)
    at = next(k for k, n in enumerate(nodes) if n.name == edge.dst)
    return [*nodes[:at], *new, *nodes[at:]], [*edges[:i], *chain, *edges[i + 1:]]
