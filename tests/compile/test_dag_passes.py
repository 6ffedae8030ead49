"""Compiler passes on a residual DAG (issue 9 item 5): stitch per edge, folding at joins, estimates, reports."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from candle_hw.compile.ir import DuplicateStreams, Edge, IRError, StreamFIFO, WidthConverter, require_stitched
from candle_hw.compile.passes.stitch import InsertFIFOs, InsertWidthConverters, Stitch
from candle_hw.sim.functional import run_dataflow
from fixtures.handbuilt_graphs import random_frames, residual_graph


def _unstitched():
    """The residual fixture with the duplicate's words narrowed to 2 elements: both branches need converters."""
    g = residual_graph(3, "conv")
    return g.with_node(dataclasses.replace(g.node("dup"), pe=2))


def test_stitch_inserts_per_edge_and_keeps_values():
    g = _unstitched()
    with pytest.raises(IRError, match="dup"):
        require_stitched(g, "emit")
    s = Stitch()(g)
    require_stitched(s, "emit")
    def past_fifos(name, step):
        n = step(name)[0]
        return past_fifos(n.name, step) if isinstance(n, StreamFIFO) else n.name

    dwcs = {n.name: (past_fifos(n.name, s.preds), past_fifos(n.name, s.succs)) for n in s.of_kind(WidthConverter)}
    # conv0 (4) -> dup (2); dup:0 (2) -> swg1 (4); dup:1 (2) -> sc (4)
    assert dwcs == {"dwc_conv0": ("conv0", "dup"), "dwc_dup": ("dup", "swg1"), "dwc_dup_p1": ("dup", "sc")}
    fifos = {n.name for n in s.of_kind(StreamFIFO)}
    assert {"fifo_input", "fifo_dup", "fifo_dup_p1", "fifo_conv1", "fifo_sc", "fifo_add", "fifo_top"} <= fifos
    # every edge has a FIFO or width converter at one end at least; the add's operands keep their ports
    assert [e.dst_port for e in s.in_edges("add")] == [0, 1]
    assert [n.name for n in s.preds("add")] == ["fifo_conv1", "fifo_sc"]
    assert Stitch()(s) == s  # idempotent
    x = random_frames(g, 4, seed=1)
    assert np.array_equal(run_dataflow(s, x), run_dataflow(g, x))


def test_fifo_depths_by_edge_position_and_name():
    g = residual_graph()
    skip = g.edges.index(Edge("dup", "add", 1, 1))
    s = InsertFIFOs(depths={skip + 1: 77, 0: 5, "fifo_top": 3})(g)
    assert s.node("fifo_dup_p1").depth == 77 and s.node("fifo_input").depth == 5 and s.node("fifo_top").depth == 3
    assert s.preds("fifo_dup_p1")[0].name == "dup" and s.succs("fifo_dup_p1")[0].name == "add"
    with pytest.raises(IRError, match="no such stream position"):
        InsertFIFOs(depths={len(g.edges) + 2: 4})(g)
    assert InsertWidthConverters()(g) == g  # the fixture is stitched already


def test_without_node_rewires_a_branch():
    s = InsertFIFOs()(residual_graph())
    h = s.without_node("fifo_dup_p1")
    assert Edge("dup", "add", 1, 1) in h.edges and "fifo_dup_p1" not in {n.name for n in h.nodes}
    assert s.without_node("fifo_input").source.name == "swg0"
    with pytest.raises(IRError, match="1 and 1 needed"):
        s.without_node("add")
