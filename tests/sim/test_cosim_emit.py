"""Stitching passes and the RTL emitter (no simulator needed): structure, idempotence, memory files through
sim/packing.py, and a golden top.sv."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from candle_hw.compile.emit import emit_rtl, hdl_params, threshold_spec
from candle_hw.compile.ir import IRError, MatrixVectorUnit, StreamFIFO, WidthConverter
from candle_hw.compile.passes.stitch import InsertFIFOs, InsertWidthConverters, Stitch
from candle_hw.sim.packing import read_memh, threshold_words, weight_words

from fixtures.handbuilt_graphs import cnv_graph, mlp_graph

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "top_mlp.sv"


def test_insert_width_converters_where_words_differ() -> None:
    g = InsertWidthConverters()(mlp_graph(fold=((4, 8), (8, 4), (10, 8))))
    dwcs = [n for n in g.nodes if isinstance(n, WidthConverter)]
    # fc0 emits 4 per word, fc1 takes 4: none; fc1 emits 8, fc2 takes 8: none; fc2 emits 10, top takes 10
    assert dwcs == []
    g = InsertWidthConverters()(mlp_graph(fold=((4, 8), (8, 2), (5, 4))))
    dwcs = [n for n in g.nodes if isinstance(n, WidthConverter)]
    assert [(d.name, d.in_elems, d.out_elems) for d in dwcs] == [("dwc_fc0", 4, 2), ("dwc_fc1", 8, 4)]
    for a, b in zip(g.nodes, g.nodes[1:]):
        assert a.out_stream().elems_per_word == b.in_stream().elems_per_word
    assert InsertWidthConverters()(g) == g


def test_insert_fifos_everywhere_once_with_depths() -> None:
    g0 = mlp_graph()
    g = InsertFIFOs(depths={0: 7, "fifo_fc1": 5})(g0)
    kinds = [isinstance(n, StreamFIFO) for n in g.nodes]
    assert kinds == [True, False] * len(g0.nodes) + [True]
    depth = {n.name: n.depth for n in g.nodes if isinstance(n, StreamFIFO)}
    assert depth == {"fifo_input": 7, "fifo_fc0": 2, "fifo_fc1": 5, "fifo_fc2": 2, "fifo_top": 2}
    assert InsertFIFOs(depths={0: 7, "fifo_fc1": 5})(g) == g
    with pytest.raises(IRError, match="fifo_nowhere"):
        InsertFIFOs(depths={"fifo_nowhere": 3})(g0)
    with pytest.raises(IRError, match="depth=0"):
        InsertFIFOs(depths={1: 0})(g0)


def test_emit_refuses_an_unstitched_graph(tmp_path: Path) -> None:
    g = mlp_graph(fold=((4, 8), (8, 2), (5, 4)))
    with pytest.raises(IRError, match=r"emit: fc0 -> fc1: words of 4 and 2 elements .*stitch"):
        emit_rtl(g, tmp_path / "rtl")
    assert not (tmp_path / "rtl").exists()


def test_rtl_simulation_refuses_a_build_without_rtl(tmp_path: Path) -> None:
    from candle_hw.errors import UserError
    from candle_hw.sim.cosim.rtlsim import simulate_rtl

    g = Stitch()(mlp_graph())
    g.save(tmp_path)
    with pytest.raises(UserError, match="no rtl/top.sv; compile the model first"):
        simulate_rtl(tmp_path, np.ones((1, *g.input_stream.shape), dtype=np.int64))


def test_emit_writes_memories_through_packing(tmp_path: Path) -> None:
    g = Stitch()(cnv_graph())
    out = emit_rtl(g, tmp_path / "rtl")
    names = (out / "filelist.f").read_text().split()
    assert names[-1] == "top.sv" and {"mvu.sv", "swg.sv", "fifo.sv", "maxpool.sv", "dwc.sv"} <= set(names)
    for n in g.of_kind(MatrixVectorUnit):
        assert read_memh(out / f"{n.name}_weights.mem") == weight_words(g.params[f"{n.name}.weights"], n.pe, n.simd)
        if n.n_thresholds:
            t, ttype = threshold_spec(n, g.params[f"{n.name}.thresholds"])
            assert read_memh(out / f"{n.name}_thresholds.mem") == threshold_words(t, n.pe, ttype)
    info = json.loads((out / "instances.json").read_text())
    assert [i["name"] for i in info] == [n.name for n in g.nodes]
    # re-emitting replaces the folder atomically and leaves no temp dirs behind
    emit_rtl(g, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rtl"]


def test_threshold_clipping_is_exact() -> None:
    g = mlp_graph()
    n = g.node("fc0")
    t, ttype = threshold_spec(n, g.params["fc0.thresholds"])
    assert t.min() >= 0 and t.max() <= n.mw + 1 and ttype.contains(int(t.min()), int(t.max()))
    acc = np.arange(-3, n.mw + 4)[:, None]
    raw = g.params["fc0.thresholds"][:, 0]
    np.testing.assert_array_equal(acc >= raw, acc.clip(0, n.mw) >= t[:, 0])


def test_hdl_params_mapping() -> None:
    g = cnv_graph()
    p = hdl_params(g.node("swg1"), g).params
    assert p == {"IFM_H": 6, "IFM_W": 6, "CHANNELS": 8, "SIMD": 4, "KERNEL": 3, "STRIDE": 1, "PAD": 1,
                 "PAD_BITS": 0, "ELEM_BITS": 1}
    m = hdl_params(g.node("conv0"), g)
    assert m.params["BINARY_XNOR"] == 0 and m.params["IN_SIGNED"] == 0 and m.params["NUM_VECTORS"] == 36
    assert m.params["THRESH_SIGNED"] == 1 and m.params["WEIGHT_FILE"] == "conv0_weights.mem"


def test_golden_top(tmp_path: Path) -> None:
    top = (emit_rtl(Stitch()(mlp_graph()), tmp_path / "rtl") / "top.sv").read_text()
    if os.environ.get("CANDLE_HW_UPDATE_GOLDEN"):
        GOLDEN.write_text(top)
    assert top == GOLDEN.read_text(), "emitted top.sv changed; if intended, rerun with CANDLE_HW_UPDATE_GOLDEN=1"
