"""The DAG IR (issue 9 item 5): edges, ports, one source/sink, topological order, stream checks, dataflow.json v3."""
from __future__ import annotations

import dataclasses
import json

import networkx as nx
import pytest

from candle_hw.compile.ir import (
    FORMAT_VERSION, AddStreams, DataflowGraph, DuplicateStreams, Edge, IRError, MatrixVectorUnit, StreamFIFO,
    Thresholding, require_stitched,
)
from candle_hw.types import BIPOLAR, IntType, sint, uint
from fixtures.handbuilt_graphs import cnv_graph, mlp_graph, residual_graph

SHAPE = (4, 8)


def _diamond(**over):
    """dup -> (port 0) add:0, dup -> (port 1) thr0 -> add:1 ... as (nodes, edges)."""
    nodes = {
        "dup": DuplicateStreams("dup", SHAPE, BIPOLAR, 4),
        "mid": Thresholding("mid", 8, 4, BIPOLAR, BIPOLAR, 1, num_vectors=(4,)),
        "add": AddStreams("add", SHAPE, (BIPOLAR, BIPOLAR), sint(3), 4),
        "thr": Thresholding("thr", 8, 4, sint(3), BIPOLAR, 1, num_vectors=(4,)),
    }
    nodes.update(over)
    edges = [Edge("dup", "add", 0, 0), Edge("dup", "mid", 1, 0), Edge("mid", "add", 0, 1), Edge("add", "thr")]
    return [nodes[k] for k in ("dup", "mid", "add", "thr")], edges


def test_chain_fills_edges_from_order():
    g = mlp_graph()
    assert g.is_chain
    assert g.edges == tuple(Edge(a.name, b.name) for a, b in zip(g.nodes, g.nodes[1:]))
    assert g.source is g.nodes[0] and g.sink is g.nodes[-1]
    assert g.preds(g.nodes[1].name) == [g.nodes[0]] and g.succs(g.nodes[0].name) == [g.nodes[1]]


def test_diamond_accessors_and_networkx():
    nodes, edges = _diamond()
    g = DataflowGraph(tuple(nodes), edges=tuple(edges))
    assert not g.is_chain
    assert [e.dst_port for e in g.in_edges("add")] == [0, 1]
    assert [n.name for n in g.preds("add")] == ["dup", "mid"]
    assert [n.name for n in g.succs("dup")] == ["add", "mid"]  # by output port
    assert g.source.name == "dup" and g.sink.name == "thr"
    assert g.input_stream == nodes[0].in_stream() and g.output_stream == nodes[-1].out_stream()
    nxg = g.to_networkx()
    assert isinstance(nxg, nx.MultiDiGraph)
    assert list(nx.topological_sort(nxg))[0] == "dup"
    assert nxg.nodes["add"]["node"] is nodes[2]
    assert sorted((s, d, a["src_port"], a["dst_port"]) for s, d, a in nxg.edges(data=True)) == sorted(
        (e.src, e.dst, e.src_port, e.dst_port) for e in edges)


@pytest.mark.parametrize("edges, match", [
    ([Edge("dup", "add", 0, 0), Edge("dup", "mid", 1, 0), Edge("mid", "add", 0, 0), Edge("add", "thr")],
     "add: input port 0 is on two edges"),
    ([Edge("dup", "add", 0, 0), Edge("dup", "mid", 0, 0), Edge("mid", "add", 0, 1), Edge("add", "thr")],
     "dup: output port 0 is on two edges"),
    ([Edge("dup", "add", 0, 0), Edge("dup", "mid", 1, 0), Edge("mid", "add", 0, 2), Edge("add", "thr")],
     "edge mid -> add:2: add has no input port 2"),
    ([Edge("dup", "add", 0, 0), Edge("dup", "mid", 2, 0), Edge("mid", "add", 0, 1), Edge("add", "thr")],
     "dup has no output port 2"),
    ([Edge("dup", "add", 0, 0), Edge("mid", "add", 0, 1), Edge("add", "thr")], "found \\['dup', 'mid'\\]"),
    ([Edge("dup", "add", 0, 0), Edge("dup", "mid", 1, 0), Edge("add", "thr")], "one sink .*found \\['mid', 'thr'\\]"),
    ([Edge("dup", "add", 0, 0), Edge("dup", "mid", 1, 0), Edge("mid", "add", 0, 1), Edge("add", "ghost")],
     "no node named 'ghost'"),
])
def test_bad_edges_refused(edges, match):
    nodes, _ = _diamond()
    with pytest.raises(IRError, match=match):
        DataflowGraph(tuple(nodes), edges=tuple(edges))


def test_dangling_output_port_refused():
    nodes, _ = _diamond()
    # dup's port 1 unread: mid becomes a second source... give mid its input from add instead (a cycle-free
    # graph where dup:1 dangles)
    f = StreamFIFO("f", nodes[3].out_stream(), 2)
    edges = [Edge("dup", "add", 0, 0), Edge("thr", "f"), Edge("f", "mid")]
    with pytest.raises(IRError, match="dangling|source|input port 1"):
        DataflowGraph((nodes[0], nodes[2], nodes[3], f, nodes[1]), edges=tuple(edges))


def test_cycle_refused_naming_an_edge():
    """t0 -> add:0 -> th -> d2; d2:0 -> t1 (the sink); d2:1 -> add:1 closes add -> th -> d2 -> add."""
    t0, t1 = (Thresholding(f"t{i}", 8, 4, BIPOLAR, BIPOLAR, 1, num_vectors=(4,)) for i in range(2))
    a = AddStreams("add", SHAPE, (BIPOLAR, BIPOLAR), sint(3), 4)
    th = Thresholding("th", 8, 4, sint(3), BIPOLAR, 1, num_vectors=(4,))
    d2 = DuplicateStreams("d2", SHAPE, BIPOLAR, 4)
    edges = (Edge("t0", "add", 0, 0), Edge("add", "th"), Edge("th", "d2"), Edge("d2", "t1", 0, 0),
             Edge("d2", "add", 1, 1))
    with pytest.raises(IRError, match="edge .* closes a cycle"):
        DataflowGraph((t0, a, th, d2, t1), edges=edges)


def test_non_topological_order_refused():
    nodes, edges = _diamond()
    with pytest.raises(IRError, match="not stored in a topological order"):
        DataflowGraph((nodes[0], nodes[2], nodes[1], nodes[3]), edges=tuple(edges))


def test_stream_mismatch_on_an_edge_names_it():
    nodes, edges = _diamond(mid=Thresholding("mid", 8, 4, BIPOLAR, uint(2), 2, num_vectors=(4,)))
    with pytest.raises(IRError, match="mid -> add:1: stream mismatch"):
        DataflowGraph(tuple(nodes), edges=tuple(edges))


def test_new_node_validation():
    with pytest.raises(IRError, match="add: out_type=INT2 cannot hold sums in \\[-3, 2\\]"):
        AddStreams("add", SHAPE, (BIPOLAR, sint(2)), sint(2), 4)
    with pytest.raises(IRError, match="pe=3 does not divide"):
        AddStreams("add", SHAPE, (BIPOLAR, BIPOLAR), sint(3), 3)
    with pytest.raises(IRError, match="n_out=1"):
        DuplicateStreams("dup", SHAPE, BIPOLAR, 4, n_out=1)
    with pytest.raises(IRError, match="no output port 2"):
        DuplicateStreams("dup", SHAPE, BIPOLAR, 4).out_stream(2)
    assert AddStreams("add", SHAPE, (uint(2), BIPOLAR), IntType.for_range(-1, 4), 4).sum_range == (-1, 4)


def test_sink_and_source_must_be_one_stream():
    nodes, edges = _diamond()
    with pytest.raises(IRError, match="dup: output port 1 has no edge|the sink has 2 outputs"):
        DataflowGraph((nodes[0],))


@pytest.mark.parametrize("make", [mlp_graph, cnv_graph, lambda: residual_graph(1, "conv"), residual_graph])
def test_json_round_trip_v3(make, tmp_path):
    g = make()
    d = json.loads(json.dumps(g.to_json()))
    assert d["version"] == FORMAT_VERSION == 3
    assert d["edges"] == [[e.src, e.dst, e.src_port, e.dst_port] for e in g.edges]
    g.save(tmp_path)
    assert DataflowGraph.load(tmp_path) == g


def test_version_2_file_loads_as_chain():
    g = mlp_graph()
    d = g.to_json()
    d["version"] = 2
    del d["edges"]
    assert DataflowGraph.from_json(d, g.params) == g


def test_insert_on_edge_and_replace():
    g = residual_graph()
    skip = next(e for e in g.in_edges("add") if e.dst_port == 1)
    f = StreamFIFO("fifo_skip", g.node("dup").out_stream(1), 64)
    h = g.insert_on_edge(skip, [f])
    assert [n.name for n in h.preds("add")] == ["conv1", "fifo_skip"]
    assert h.in_edges("fifo_skip") == [Edge("dup", "fifo_skip", 1, 0)]
    assert h.out_edges("fifo_skip") == [Edge("fifo_skip", "add", 0, 1)]
    names = [n.name for n in h.nodes]
    assert names.index("dup") < names.index("fifo_skip") < names.index("add")
    with pytest.raises(IRError, match="no edge"):
        h.insert_on_edge(skip, [StreamFIFO("f2", f.stream, 2)])
    with pytest.raises(IRError, match="need their edges"):
        g.replace(nodes=g.nodes[:-1])
    assert mlp_graph().replace(nodes=mlp_graph().nodes[:-1]).is_chain


def test_require_stitched_walks_edges():
    g = residual_graph()
    require_stitched(g, "emit")
    bad = g.with_node(DuplicateStreams("dup", g.node("dup").shape, BIPOLAR, 2))
    with pytest.raises(IRError, match="emit: conv0 -> dup: words of 4 and 2"):
        require_stitched(bad, "emit")


def test_border_source_walks_predecessors():
    g = residual_graph()
    c1 = g.node("conv1")
    bordered = MatrixVectorUnit(c1.name, c1.mw, c1.mh, c1.pe, c1.simd, BIPOLAR, IntType.for_range(0, 2 * c1.mw),
                                BIPOLAR, True, num_vectors=(8, 8), border=(8, 8, 3, 1, 1))
    h = g.with_node(bordered)  # its window generator is found through the edges, in a graph that branches
    assert h.node("conv1").border
    swg1 = h.node("swg1")
    with pytest.raises(IRError, match="conv1: border"):
        h.with_node(dataclasses.replace(swg1, pad_value=1))
