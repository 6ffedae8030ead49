"""Thresholds by bisection and the replayed epilogue: equal to qonnx execution, ties included, at any range."""
import re

import numpy as np
import onnx
import pytest
from hypothesis import given, settings, strategies as st
from onnx import helper, numpy_helper

from candle_hw.compile.frontend import qonnx_to_dataflow
from candle_hw.compile.tails import TailError, derive_thresholds
from candle_hw.compile.verify import compare_layers, oracle_model, qonnx_forward
from candle_hw.sim.functional import run_model

Q = "qonnx.custom_op.general"
F32 = np.float32


def _model(fan_in, channels, gamma, mean, *, head=True, eps=0.0, beta=None, var=None, final_ops=()):
    """UINT8 Quant -> MatMul (±1) -> BatchNormalization -> [BipolarQuant -> MatMul (channels x 3)] -> final_ops."""
    rng = np.random.default_rng(fan_in * 7 + channels)
    w1 = np.where(rng.random((fan_in, channels)) < 0.5, -1, 1).astype(F32)
    inits = {"s": np.array(1.0, F32), "zp": np.array(0.0, F32), "bits": np.array(8.0, F32), "one": np.array(1.0, F32),
             "w1": w1, "gamma": np.asarray(gamma, F32), "mean": np.asarray(mean, F32),
             "beta": np.zeros(channels, F32) if beta is None else np.asarray(beta, F32),
             "var": np.ones(channels, F32) if var is None else np.asarray(var, F32)}
    nodes = [
        helper.make_node("Quant", ["x", "s", "zp", "bits"], ["xq"], domain=Q, signed=0, narrow=0, rounding_mode="ROUND"),
        helper.make_node("MatMul", ["xq", "w1"], ["a1"], name="fc_wide"),
        helper.make_node("BatchNormalization", ["a1", "gamma", "beta", "mean", "var"], ["b1"], epsilon=eps, name="bn"),
    ]
    t, width = "b1", channels
    if head:
        inits["w2"] = np.where(rng.random((channels, 3)) < 0.5, -1, 1).astype(F32)
        nodes += [helper.make_node("BipolarQuant", ["b1", "one"], ["h1"], domain=Q),
                  helper.make_node("MatMul", ["h1", "w2"], ["a2"])]
        t, width = "a2", 3
    for i, (op, c) in enumerate(final_ops):
        inits[f"c{i}"] = np.asarray(c, F32)
        nodes.append(helper.make_node(op, [t, f"c{i}"], [f"f{i}"]))
        t = f"f{i}"
    nodes.append(helper.make_node("Identity", [t], ["y"]))
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, fan_in])],
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, width])],
                          initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(Q, 1)])


def _input_with_dot(w_col, target):
    """UINT8 values x with x . w_col == target exactly (greedy over the weights of target's sign)."""
    x = np.zeros(w_col.size, F32)
    left = abs(int(target))
    for k in np.flatnonzero(w_col == (1 if target >= 0 else -1)):
        x[k] = min(255, left)
        left -= int(x[k])
    assert left == 0
    return x


def _check(model, x):
    graph = qonnx_to_dataflow(model)
    oracle = oracle_model(model)
    ref = qonnx_forward(oracle, x)
    np.testing.assert_array_equal(run_model(graph, x).astype(ref.dtype), ref)
    assert compare_layers(graph, oracle, x) == []
    return graph


@settings(max_examples=8, deadline=None)
@given(fan_in=st.sampled_from([5, 40, 300]), channels=st.sampled_from([1, 4, 12]), seed=st.integers(0, 1000))
def test_exact_ties_on_integer_accumulators(fan_in, channels, seed):
    """BN(acc) = ±(acc - mean) with integer means: the quantizer switches exactly on an attainable accumulator.
    Inputs sit on both sides of every channel's switch; qonnx decides, the thresholds must agree."""
    rng = np.random.default_rng(seed)
    gamma = rng.choice([-1.0, 1.0], channels)
    mean = rng.integers(-fan_in * 200, fan_in * 200, channels)
    model = _model(fan_in, channels, gamma, mean)
    w1 = numpy_helper.to_array(next(i for i in model.graph.initializer if i.name == "w1"))
    xs = [rng.integers(0, 256, fan_in).astype(F32) for _ in range(4)]
    for c in range(channels):
        for target in (mean[c] - 1, mean[c], mean[c] + 1):
            if (w1[:, c] < 0).sum() * -255 <= target <= (w1[:, c] > 0).sum() * 255:
                xs.append(_input_with_dot(w1[:, c], target))
    _check(model, np.stack(xs)[:, None, :].reshape(-1, fan_in))


def test_wide_layer_3072_by_256():
    """8-bit input x 3,072 fan-in x 256 channels: 1.5 M accumulator values, far beyond any table."""
    rng = np.random.default_rng(3)
    gamma = rng.normal(size=256)
    mean = rng.normal(size=256) * 20_000
    model = _model(3072, 256, gamma, mean, eps=1e-4, beta=rng.normal(size=256), var=rng.uniform(1e6, 4e7, 256))
    x = rng.integers(0, 256, (12, 3072)).astype(F32)
    graph = _check(model, x)
    t = graph.params["fc0.thresholds"]
    assert t.shape == (256, 1) and len(np.unique(t)) > 200  # real switch points, not clipped constants


def test_wide_final_layer_replays_batchnorm_and_ops():
    """The last layer ends in float ops: replayed on the host, bit-exact, with no table over 1.5 M values."""
    rng = np.random.default_rng(4)
    model = _model(3072, 5, rng.normal(size=5), rng.normal(size=5) * 1000, head=False, eps=1e-3,
                   beta=rng.normal(size=5), var=rng.uniform(10, 1e5, 5),
                   final_ops=[("Mul", rng.uniform(0.1, 3, 5)), ("Sub", 0.37), ("Div", 1.7), ("Add", rng.normal(size=(1, 5)))])
    x = rng.integers(0, 256, (50, 3072)).astype(F32)
    graph = _check(model, x)
    assert graph.epilogue.kind == "float" and [o.op for o in graph.epilogue.ops] == ["mul", "add", "mul", "sub", "div", "add"]
    assert max(v.size for v in graph.params.values()) < 3072 * 5 + 1  # weights, no per-value table


def test_non_monotone_step_is_refused_with_the_channel():
    def bump(acc):  # channel 1 is on only in a middle band: not a step
        on = acc >= 3
        on[:, 1] = (acc[:, 1] >= 10) & (acc[:, 1] <= 20)
        return on

    with pytest.raises(TailError, match="fc9: channel 1: the activation is not monotone"):
        derive_thresholds("fc9", bump, 0, 100, 3)


def test_thresholds_found_for_rising_falling_and_constant_channels():
    switch = np.array([0, 7, 100, 42, -1, 55])

    def step(acc):
        on = acc >= switch
        on[:, 3] = acc[:, 3] <= 42   # falling: on up to 42
        on[:, 4] = True              # constant on
        on[:, 5] = False             # constant off
        return on

    t, flip = derive_thresholds("fc0", step, 0, 100, 6)
    assert t.tolist() == [0, 7, 100, -42, 0, 101] and flip.tolist() == [False, False, False, True, False, False]


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.graph.initializer.append(numpy_helper.from_array(np.array([[1, 2], [3, 4]], F32), "c0")),
     "constant c0 of shape [2, 2] is not per channel"),
    (lambda m: m.graph.initializer.append(numpy_helper.from_array(np.array([1, 0, 2, 3], F32), "c0")),
     "division by zero in channel 1"),
])
def test_tail_refusals_name_node_and_value(edit, message):
    model = _model(6, 4, [1.0] * 4, [0.0] * 4, head=False)
    model.graph.node.insert(3, helper.make_node("Div", ["b1", "c0"], ["b1d"], name="scale_div"))
    model.graph.node[4].input[0] = "b1d"
    edit(model)
    with pytest.raises(TailError, match=re.escape(f"scale_div (Div): {message}")):
        qonnx_to_dataflow(model)
