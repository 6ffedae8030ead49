"""FINN-ONNX ops in a fully connected tail: MultiThreshold as the activation (one threshold to ±1, or n per
channel to n + 1 integer levels, signed through out_bias) and BatchNormalization between Unsqueeze and Squeeze;
lowered, and equal to qonnx execute_onnx at the output and at every layer. Refusals name the node."""
from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper

from candle_hw.compile.frontend import FrontendError, qonnx_to_dataflow
from candle_hw.compile.tails import TailError
from candle_hw.compile.verify import compare_layers, oracle_model, qonnx_forward
from candle_hw.sim.functional import run_model

F32 = np.float32
Q = "qonnx.custom_op.general"
K, MH = 32, 12


def _model(tmp_path, n_thr=3, out_scale=1.0, out_bias=0.0, axes=(2,), seed=0):
    """BIPOLAR x -> MatMul (±1) -> Mul -> Unsqueeze -> BatchNormalization -> Squeeze -> MultiThreshold
    (per-channel thresholds) -> MatMul (±1) -> Mul: the layer pattern of FINN-ONNX's TFC."""
    rng = np.random.default_rng(seed)
    thr = np.sort(rng.normal(size=(MH, n_thr)) * 2, axis=1).astype(F32)
    inits = {
        "w1": np.where(rng.random((K, MH)) < 0.5, -1, 1).astype(F32), "s1": np.array(0.25, F32),
        "gamma": (rng.random(MH) + 0.5).astype(F32), "beta": rng.normal(size=MH).astype(F32),
        "mean": rng.normal(size=MH).astype(F32), "var": (rng.random(MH) + 0.5).astype(F32),
        "thr": thr, "w2": np.where(rng.random((MH, 5)) < 0.5, -1, 1).astype(F32), "s2": np.array(0.5, F32),
    }
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["a"], name="MatMul_0"),
        helper.make_node("Mul", ["a", "s1"], ["b"], name="Mul_0"),
        helper.make_node("Unsqueeze", ["b"], ["c"], name="Unsqueeze_0", axes=list(axes)),
        helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["d"], name="BN_0"),
        helper.make_node("Squeeze", ["d"], ["e"], name="Squeeze_0", axes=list(axes)),
        helper.make_node("MultiThreshold", ["e", "thr"], ["h"], name="MultiThreshold_0", domain=Q,
                         out_scale=out_scale, out_bias=out_bias),
        helper.make_node("MatMul", ["h", "w2"], ["f"], name="MatMul_1"),
        helper.make_node("Mul", ["f", "s2"], ["y"], name="Mul_1"),
    ]
    g = helper.make_graph(nodes, "finn_fc", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, K])],
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 5])],
                          initializer=[numpy_helper.from_array(v, n) for n, v in inits.items()])
    m = ModelWrapper(helper.make_model(g, opset_imports=[helper.make_opsetid("", 11), helper.make_opsetid(Q, 1)]))
    m.set_tensor_datatype("x", DataType["BIPOLAR"])
    p = tmp_path / "finn_fc.onnx"
    m.save(str(p))
    return p


@pytest.mark.parametrize("n_thr,out_scale,out_bias,levels", [
    (1, 2.0, -1.0, None),    # FINN's BIPOLAR activation: ±1
    (3, 1.0, 0.0, (0, 3)),   # UINT2
    (3, 0.5, -1.0, (-2, 1)),  # INT2 at scale 0.5
    (7, 1.0, 0.0, (0, 7)),   # UINT3
])
def test_multithreshold_tail_equals_qonnx(tmp_path, n_thr, out_scale, out_bias, levels):
    p = _model(tmp_path, n_thr, out_scale, out_bias, seed=n_thr)
    graph = qonnx_to_dataflow(p)
    fc0 = graph.nodes[0]
    assert fc0.n_thresholds == n_thr
    rng = np.random.default_rng(n_thr)
    x = rng.choice([-1.0, 1.0], (64, K)).astype(F32)
    oracle = oracle_model(p)
    np.testing.assert_array_equal(run_model(graph, x), qonnx_forward(oracle, x))
    assert compare_layers(graph, oracle, x[:16]) == []
    if levels is not None:  # every level occurs, so the test can tell the thresholds apart
        h = np.concatenate([c["h"] for c in qonnx_forward(oracle, x, full=True)])
        assert set(np.unique(h / out_scale).tolist()) == set(range(levels[0], levels[1] + 1))


def test_unsqueeze_on_the_channel_axis_is_refused(tmp_path):
    p = _model(tmp_path, axes=(1,))
    with pytest.raises(TailError, match=re.escape("Unsqueeze_0 (Unsqueeze): axes [1] on a rank-2 activation; only "
                                                  "size-1 axes after the channel axis")):
        qonnx_to_dataflow(p)


def test_multithreshold_off_grid_bias_is_refused(tmp_path):
    p = _model(tmp_path, n_thr=3, out_scale=1.0, out_bias=-0.5)
    with pytest.raises(FrontendError, match=re.escape("MultiThreshold_0 (MultiThreshold): 3 thresholds with "
                                                      "out_bias -0.5 and out_scale 1.0")):
        qonnx_to_dataflow(p)


def _sign_model(tmp_path, half):
    """FINN's older form: x in [0, 1] -> Mul 2 -> Sub 1 -> Sign (-1, 0 or +1: 0 at x = 0.5) -> MatMul (±1) ->
    Sub (integers, or integers + 0.5 with ``half``) -> Sign -> MatMul (±1). The dot of the {-1, 0, 1} input is an
    integer, so integer constants make the hidden Sign output 0 for some inputs (three levels), half-integers
    never (±1)."""
    rng = np.random.default_rng(7)
    inits = {"two": np.array(2.0, F32), "one": np.array([1.0], F32),
             "w1": np.where(rng.random((K, MH)) < 0.5, -1, 1).astype(F32),
             "mu": (rng.integers(-3, 4, MH) + 0.5 * half).astype(F32),
             "w2": np.where(rng.random((MH, 5)) < 0.5, -1, 1).astype(F32)}
    nodes = [helper.make_node("Mul", ["x", "two"], ["a"], name="Mul_0"),
             helper.make_node("Sub", ["a", "one"], ["b"], name="Sub_0"),
             helper.make_node("Sign", ["b"], ["c"], name="Sign_0"),
             helper.make_node("MatMul", ["c", "w1"], ["d"], name="MatMul_0"),
             helper.make_node("Sub", ["d", "mu"], ["e"], name="Sub_1"),
             helper.make_node("Sign", ["e"], ["h"], name="Sign_1"),
             helper.make_node("MatMul", ["h", "w2"], ["y"], name="MatMul_1")]
    g = helper.make_graph(nodes, "sign_fc", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, K])],
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 5])],
                          initializer=[numpy_helper.from_array(v, n) for n, v in inits.items()])
    p = tmp_path / f"sign_{half}.onnx"
    ModelWrapper(helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)])).save(str(p))
    return p


@pytest.mark.parametrize("half,hidden", [(0, "UINT2"), (1, "BIPOLAR")])
def test_sign_activations_equal_qonnx(tmp_path, half, hidden):
    from candle_hw.sim.functional import run_dataflow
    from candle_hw.sim.host import run_prologue

    p = _sign_model(tmp_path, half)
    graph = qonnx_to_dataflow(p)
    assert graph.prologue.quant.kind == "sign" and graph.input_stream.elem_type.name == "INT2"
    assert graph.nodes[0].out_type.name == hidden  # three levels only where Sign's 0 is reachable
    rng = np.random.default_rng(half)
    x = rng.uniform(0.0, 1.0, (64, K)).astype(F32)
    x[rng.random(x.shape) < 0.3] = 0.5  # Sign(2 * 0.5 - 1) = 0 at the input
    oracle = oracle_model(p)
    np.testing.assert_array_equal(run_model(graph, x), qonnx_forward(oracle, x))
    assert compare_layers(graph, oracle, x[:16]) == []
    assert 0 in np.asarray(run_prologue(graph, x))
    if hidden == "UINT2":  # the hidden Sign's 0 (count 1) does occur
        assert 1 in np.asarray(run_dataflow(graph, run_prologue(graph, x), return_all=True)[0])
