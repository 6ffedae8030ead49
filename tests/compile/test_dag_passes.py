"""Compiler passes on a residual DAG (issue 9 item 5): stitch per edge, folding at joins, estimates, reports."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_apply_folding_follows_over_edges():
    from candle_hw.compile.pipeline import apply_folding

    g = residual_graph(0, "conv")
    f = apply_folding(g, {"conv0": {"pe": 2, "simd": 3}, "conv1": {"pe": 2, "simd": 8}, "sc": {"pe": 8, "simd": 8}})
    assert f.node("dup").pe == 2  # its producer's words
    assert f.node("swg1").simd == 8  # its unit's simd
    assert f.node("add").pe == 8 and f.node("thr").pe == 8  # the wider operand (sc), and what follows it
    s = Stitch()(f)
    require_stitched(s, "emit")
    # the narrower operand (conv1, 2 per word) widens on its edge into the add
    assert [n.name for n in s.of_kind(WidthConverter) if s.succs(n.name)[0].name == "fifo_dwc_conv1"] == ["dwc_conv1"]
    x = random_frames(g, 3, seed=2)
    assert np.array_equal(run_dataflow(s, x), run_dataflow(g, x))


@pytest.mark.parametrize("shortcut", ["identity", "conv"])
def test_fold_for_throughput_on_a_dag_meets_the_target(shortcut):
    from candle_hw.compile.estimate import node_cycles
    from candle_hw.compile.passes.fold import FoldForThroughput, finn_set_folding

    g = Stitch()(residual_graph(1, shortcut))
    clock = 100.0
    for fps in (20_000, 150_000):
        f = FoldForThroughput(fps, "xc7z020", clock_mhz=clock)(g)
        s = Stitch()(f)
        require_stitched(s, "emit")
        assert max(node_cycles(n) for n in s.nodes) <= int(clock * 1e6 / fps)
        assert s.node("add").pe == max(p.out_stream().elems_per_word
                                       for p in (f.node("conv1"), f.node("sc" if shortcut == "conv" else "dup")))
        x = random_frames(g, 2, seed=fps)
        assert np.array_equal(run_dataflow(s, x), run_dataflow(g, x))
    assert FoldForThroughput("max", "xc7z020")(g).node("add").pe >= 1
    finn = finn_set_folding(g, 200, two_pass=False)
    # FINN's walk: every node at the first divisor meeting the target, the residual nodes included
    assert finn.node("add").pe == finn.node("dup").pe == 4  # 8*8*8 / 4 = 128 <= 200 < 8*8*8 / 2
    x = random_frames(g, 2, seed=5)
    assert np.array_equal(run_dataflow(Stitch()(finn), x), run_dataflow(g, x))


def test_estimates_and_build_reports_on_a_dag(tmp_path):
    import json

    from candle_hw.compile.estimate import (
        critical_path, estimate_layer_cycles, estimate_layer_resources, estimate_network_performance,
    )
    from candle_hw.compile.pipeline import CompileOptions, run_passes, write_build

    g = residual_graph(0, "identity")
    opts = CompileOptions(folding={"conv1": {"pe": 8, "simd": 8}}, emit_rtl=False)
    seen = []
    s = run_passes(g, opts, on_step=lambda step, gr: seen.append(step), steps=("fold", "stitch", "size_fifos"))
    assert seen == ["fold", "stitch", "size_fifos"]
    cyc = estimate_layer_cycles(s)
    crit, path = critical_path(s, cyc)
    # the skip branch (dup:1 -> its converter and FIFO -> add) is shorter than the conv branch: the path takes
    # the latter
    skip, at = [], s.out_edges("dup")[1].dst
    while at != "add":
        skip.append(at)
        at = s.succs(at)[0].name
    assert "swg1" in path and "conv1" in path and skip and not set(skip) & set(path)
    assert path[0] == s.source.name and path[-1] == s.sink.name
    assert crit == sum(cyc[n] for n in path) < sum(cyc.values())
    assert estimate_network_performance(s)["critical_path_cycles"] == crit
    res = estimate_layer_resources(s)
    assert res["dup"]["FF"] == 2 and res["add"]["LUT"] > 0
    write_build(s, tmp_path, opts, log=lambda m: None)
    perf = json.loads((tmp_path / "reports" / "estimate_network_performance.json").read_text())
    assert perf["critical_path_cycles"] == crit
    from candle_hw.compile.ir import DataflowGraph

    assert DataflowGraph.load(tmp_path) == s
    assert json.loads((tmp_path / "folding.json").read_text())["add"] == {"pe": s.node("add").pe}
    from candle_hw.compile.report import write_report

    r = write_report(tmp_path)  # with the cycle simulator's schedule of the DAG (sized FIFOs: no deadlock)
    assert r["critical_path_nodes"] == path and (tmp_path / "reports" / "report.html").is_file()
    assert r["cycle_simulation"]["interval_cycles"] >= perf["max_cycles"]


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 1000), shortcut=st.sampled_from(["identity", "conv"]),
       pes=st.tuples(*(st.sampled_from([1, 2, 4, 8]) for _ in range(4))), simd1=st.sampled_from([1, 2, 4, 8]))
def test_any_folding_of_the_dag_stitches_and_keeps_values(seed, shortcut, pes, simd1):
    """Random foldings of both branches and the stem: stitch joins them, every edge agrees, values unchanged,
    and the add is never slower than either of its operands' producers."""
    from candle_hw.compile.estimate import node_cycles
    from candle_hw.compile.pipeline import apply_folding

    g = residual_graph(seed, shortcut)
    spec = {"conv0": {"pe": pes[0], "simd": 3}, "conv1": {"pe": pes[1], "simd": simd1}, "fc": {"pe": 5, "simd": pes[3]}}
    if shortcut == "conv":
        spec["sc"] = {"pe": pes[2], "simd": pes[2]}
    f = apply_folding(g, spec)
    s = Stitch()(f)
    require_stitched(s, "emit")
    add = s.node("add")
    assert all(node_cycles(add) <= node_cycles(p) for p in f.preds("add"))
    x = random_frames(g, 2, seed=seed)
    assert np.array_equal(run_dataflow(s, x), run_dataflow(g, x))
