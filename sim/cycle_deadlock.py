"""Why a branching design deadlocks, in words: the branch whose FIFOs cannot hold what the other branch holds back.

A join (AddStreams) takes a word from both branches in the same cycle, and a DuplicateStreams lets a word go
only when every branch has taken it; so when one branch holds words back (a sliding window waiting for rows, a
matrix unit for a vector), the other must buffer them, and a branch FIFO too small stalls the duplicate, which
then starves the long branch: a cycle of waits (sim/cycle_engine.py proves it, DeadlockError). Here each join's
in-branches are tried one at a time with deep FIFOs (two frames; a probe FIFO where a branch has none): a
branch that lets the design settle so is named, with its FIFOs and the words they then hold
(compile/passes/fifo_sizing.py sizes them from the same schedule).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from candle_hw.compile.ir import DataflowGraph, DuplicateStreams, Edge, StreamFIFO

# the graph -> every StreamFIFO's most words held when it settles, or None when it does not
Fills = Callable[[DataflowGraph], "dict[str, int] | None"]


def explain_deadlock(graph: DataflowGraph, fills: Fills) -> str:
    """"; "-separated sentences naming each branch whose deep FIFOs resolve the deadlock ("" for none)."""
    found = []
    for j in graph.nodes:
        for e in graph.in_edges(j.name) if j.n_in > 1 else ():
            fifos = branch_fifos(graph, e)
            if fifos:
                deep = graph
                for f in fifos:
                    deep = deep.with_node(dataclasses.replace(f, depth=max(f.depth, 2 * f.stream.words_per_frame)))
            else:
                s = graph.edge_streams(e)[0]
                probe = StreamFIFO(f"{e.src}_{e.src_port}_probe", s, 2 * s.words_per_frame)
                deep, fifos = graph.insert_on_edge(e, [probe]), [probe]
            held = fills(deep)
            if held is None:
                continue
            has = ", ".join(f"{f.name} of depth {f.depth}" for f in fifos if f in graph.nodes) or "no FIFO"
            found.append(f"the branch {e} into {j.name} ({has}) cannot buffer what the other branch holds back: "
                         f"with two frames of FIFO there the design settles, holding up to "
                         f"{' + '.join(str(held[f.name]) for f in fifos)} words")
    return "; " + "; ".join(found) if found else ""


def branch_fifos(graph: DataflowGraph, edge: Edge) -> list[StreamFIFO]:
    """The StreamFIFOs on the path ending with ``edge``, back to the DuplicateStreams it branches from."""
    out, e = [], edge
    while True:
        n = graph.node(e.src)
        if isinstance(n, DuplicateStreams) or n.n_in != 1 or not graph.in_edges(n.name):
            return out[::-1]
        if isinstance(n, StreamFIFO):
            out.append(n)
        e = graph.in_edges(n.name)[0]
