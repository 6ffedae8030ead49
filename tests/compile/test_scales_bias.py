"""Biases, any positive scales, per-channel weight scales and datatype-annotated inputs, equal to qonnx."""
import re

import numpy as np
import onnx
import pytest
import torch
from brevitas.core.scaling import ScalingImplType
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from brevitas.quant import Int8ActPerTensorFloat, Uint8ActPerTensorFloat
from brevitas.quant.binary import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
from hypothesis import given, settings, strategies as st
from onnx import helper, numpy_helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from torch import nn

from candle_hw.compile.export import export_qonnx_model
from candle_hw.compile.frontend import FrontendError, qonnx_to_dataflow
from candle_hw.compile.tails import TailError
from candle_hw.compile.verify import compare_layers, oracle_model, qonnx_forward
from candle_hw.errors import UserError
from candle_hw.models import randomize_bn
from candle_hw.models.quant import BinaryWeightQuant
from candle_hw.sim.functional import run_model
from candle_hw.types import BIPOLAR, IntType

F32 = np.float32
Q = "qonnx.custom_op.general"
SETTINGS = settings(max_examples=4, deadline=None)


class PerChannelBinaryWeight(SignedBinaryWeightPerTensorConst):
    """±s_c weights, s_c = mean |w| of output channel c (a float32 value, not a power of two)."""

    scaling_impl_type = ScalingImplType.STATS
    scaling_per_output_channel = True
    scaling_stats_op = "AVE"


def _act(scale):
    return QuantIdentity(act_quant=SignedBinaryActPerTensorConst, scaling_const=scale, return_quant_tensor=False)


class _Net(nn.Module):
    def __init__(self, in_shape, body, head):
        super().__init__()
        self.input_shape = in_shape
        self.body, self.head = body, head

    def forward(self, x):
        return self.head(self.body(x).flatten(1))


def _mlp(features, hidden, signed_input, act_scale):
    quant = Int8ActPerTensorFloat if signed_input else Uint8ActPerTensorFloat
    body = nn.Sequential(QuantIdentity(act_quant=quant, return_quant_tensor=False),
                         QuantLinear(features, hidden, bias=True, weight_quant=PerChannelBinaryWeight),
                         nn.BatchNorm1d(hidden), _act(act_scale),
                         QuantLinear(hidden, hidden, bias=True, weight_quant=PerChannelBinaryWeight),
                         nn.BatchNorm1d(hidden), _act(1.0))
    # the last layer: a float bias on ±1 weights (its float output must be a function of the accumulator)
    return _Net((features,), body, QuantLinear(hidden, 7, bias=True, weight_quant=BinaryWeightQuant))


def _cnn(channels, img, act_scale):
    body = nn.Sequential(QuantIdentity(act_quant=Uint8ActPerTensorFloat, return_quant_tensor=False),
                         QuantConv2d(3, channels, 3, bias=True, weight_quant=PerChannelBinaryWeight),
                         nn.BatchNorm2d(channels), _act(act_scale),
                         QuantConv2d(channels, channels, 3, bias=True, weight_quant=PerChannelBinaryWeight),
                         nn.BatchNorm2d(channels), _act(1.0))
    flat = channels * (img - 4) ** 2
    return _Net((3, img, img), body, QuantLinear(flat, 5, bias=True, weight_quant=BinaryWeightQuant))


def _random_bn_off_ties(model, x, seed):
    """Random BN whose switches fall between attainable values: with float scales (1/255, mean |w|) qonnx's
    own dot product rounds in an input-dependent order, so a switch exactly on an attainable value has no
    order-free answer and the frontend refuses it (test_inexact_scale_on_a_tie_is_refused); off ties it must
    be exact."""
    randomize_bn(model, seed, x=torch.from_numpy(x))
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            jitter = rng.uniform(-1e-3, 1e-3, m.running_mean.shape) * (m.running_mean.abs().numpy() + 1)
            m.running_mean += torch.from_numpy(jitter.astype(F32))


def _check_brevitas(model, x, tmp_path, seed):
    """Random BN, random float biases; simulator == qonnx on x. A switch that lands within the worst-case
    float32 rounding of qonnx's dot product of an attainable value is refused by name (no order-free answer
    exists there): then the model is refused, cleanly, and None is returned."""
    torch.manual_seed(seed)
    for m in model.modules():
        if getattr(m, "bias", None) is not None and isinstance(m, (QuantLinear, QuantConv2d)):
            with torch.no_grad():
                m.bias.normal_(0, 2.0)
    _random_bn_off_ties(model, x, seed)
    path = export_qonnx_model(model.eval(), tmp_path / f"m{seed}.onnx")
    try:
        graph = qonnx_to_dataflow(path)
    except TailError as e:
        assert re.fullmatch(r"(fc|conv)\d+: channel \d+: the switch lies within .*", str(e)), e
        return None
    oracle = oracle_model(path)
    ref = qonnx_forward(oracle, x)
    np.testing.assert_array_equal(run_model(graph, x), ref)
    assert compare_layers(graph, oracle, x[:8]) == []
    return graph


@SETTINGS
@given(features=st.sampled_from([12, 40]), hidden=st.sampled_from([8, 24]), signed=st.booleans(),
       act_scale=st.sampled_from([0.37, 1.0, 2.5]), seed=st.integers(0, 1000))
def test_brevitas_mlp_biases_and_scales(tmp_path_factory, features, hidden, signed, act_scale, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1 if signed else 0, 1, (64, features)).astype(F32)
    torch.manual_seed(seed)
    graph = _check_brevitas(_mlp(features, hidden, signed, act_scale), x, tmp_path_factory.mktemp("mlp"), seed)
    assert graph is None or graph.prologue.quant.scale not in (1.0, 0.5, 0.25)  # a learned-style float scale, not a power of two
    assert graph is None or [o.op for o in graph.epilogue.ops] == ["add"]  # the last layer's bias


@SETTINGS
@given(channels=st.sampled_from([4, 8]), img=st.sampled_from([6, 8]), act_scale=st.sampled_from([0.37, 1.0]),
       seed=st.integers(0, 1000))
def test_brevitas_cnn_conv_biases_and_scales(tmp_path_factory, channels, img, act_scale, seed):
    x = np.random.default_rng(seed).uniform(0, 1, (24, 3, img, img)).astype(F32)
    torch.manual_seed(seed)
    _check_brevitas(_cnn(channels, img, act_scale), x, tmp_path_factory.mktemp("cnn"), seed)


# -- exact ties with non-power-of-two (dyadic) scales, built directly in ONNX ---------------------------------------
def _onnx_mlp(w_scales, in_scale, bias, mean, gamma, k=16, head_bias=None):
    """INT8 Quant(in_scale) -> Gemm(±w_scales[c], bias) -> BN(gamma, mean, var 1, eps 0) -> BipolarQuant(0.75)
    -> MatMul(±1 x 3) [-> Add head_bias]."""
    rng = np.random.default_rng(len(w_scales) * 31 + k)
    mh = len(w_scales)
    signs = np.where(rng.random((k, mh)) < 0.5, -1, 1).astype(F32)
    inits = {"s": np.array(in_scale, F32), "zp": np.array(0.0, F32), "bits": np.array(8.0, F32),
             "w1": (signs * np.asarray(w_scales, F32)).T.copy(), "b1": np.asarray(bias, F32),
             "g": np.asarray(gamma, F32), "beta": np.zeros(mh, F32), "mu": np.asarray(mean, F32),
             "var": np.ones(mh, F32), "s2": np.array(0.75, F32),
             "w2": np.where(rng.random((mh, 3)) < 0.5, -1, 1).astype(F32)}
    nodes = [helper.make_node("Quant", ["x", "s", "zp", "bits"], ["xq"], domain=Q, signed=1, narrow=0,
                              rounding_mode="ROUND"),
             helper.make_node("Gemm", ["xq", "w1", "b1"], ["a1"], transB=1, name="gemm1"),
             helper.make_node("BatchNormalization", ["a1", "g", "beta", "mu", "var"], ["n1"], epsilon=0.0),
             helper.make_node("BipolarQuant", ["n1", "s2"], ["h1"], domain=Q),
             helper.make_node("MatMul", ["h1", "w2"], ["y" if head_bias is None else "a2"])]
    if head_bias is not None:
        inits["b2"] = np.asarray(head_bias, F32)
        nodes.append(helper.make_node("Add", ["a2", "b2"], ["y"]))
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, k])],
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3])],
                          initializer=[numpy_helper.from_array(v, n) for n, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(Q, 1)]), signs


def _ints_with_dot(signs_col, target):
    """INT8 values q with q . signs_col == target (greedy)."""
    q = np.zeros(signs_col.size, F32)
    left = abs(int(target))
    for i in np.flatnonzero(signs_col == (1 if target >= 0 else -1)):
        q[i] = min(127, left)
        left -= int(q[i])
    assert left == 0
    return q


@SETTINGS
@given(seed=st.integers(0, 10_000))
def test_exact_ties_with_dyadic_scales_and_quantized_bias(seed):
    """s_in = 0.375, s_c = k/8, bias on the accumulator grid: qonnx's float math is exact, so the BN switch
    sits exactly on an attainable value; inputs on both sides of every switch must agree."""
    rng = np.random.default_rng(seed)
    mh, k, s_in = 6, 16, 0.375
    w_scales = rng.integers(1, 16, mh) / 8
    zs = s_in * w_scales
    bias = rng.integers(-40, 40, mh) * zs           # a quantized bias: an integer times input x weight scale
    t_int = rng.integers(-300, 300, mh)              # switch on the integer dot product
    mean = (t_int * zs + bias).astype(F32)           # BN(x) = gamma (x - mean): 0 exactly at the switch
    gamma = rng.choice([-1.0, 1.0], mh)
    model, signs = _onnx_mlp(w_scales, s_in, bias, mean, gamma, k)
    xs = [rng.integers(-128, 128, k).astype(F32) * F32(s_in) for _ in range(4)]
    for c in range(mh):
        xs += [_ints_with_dot(signs[:, c], t) * F32(s_in) for t in (t_int[c] - 1, t_int[c], t_int[c] + 1)]
    x = np.stack(xs)
    graph = qonnx_to_dataflow(model)
    oracle = oracle_model(model)
    np.testing.assert_array_equal(run_model(graph, x), qonnx_forward(oracle, x))
    assert compare_layers(graph, oracle, x) == []


def test_gemm_float_bias_near_a_switch_is_refused_naming_the_channel():
    """K > one Gemm block and a float bias: the switch placed on fl(dot + b) itself is ambiguous (onnxruntime
    adds the bias inside its blocked sum), so the channel is refused; a switch far from it is accepted."""
    k, mh = 300, 2
    bias = np.array([0.1, 0.1], F32)
    mean = np.array([F32(10.0) + bias[0], 0.55], F32)  # channel 0 switches exactly at fl(10 + 0.1)
    model, _ = _onnx_mlp([1.0, 1.0], 1.0, bias, mean, [1.0, 1.0], k)
    with pytest.raises(TailError, match="fc0: channel 0: the switch lies within .* gemm1's float bias"):
        qonnx_to_dataflow(model)
    mean[0] = 10.55  # halfway between attainable values: no ambiguity
    model, _ = _onnx_mlp([1.0, 1.0], 1.0, bias, mean, [1.0, 1.0], k)
    x = np.random.default_rng(0).integers(-128, 128, (32, k)).astype(F32)
    np.testing.assert_array_equal(run_model(qonnx_to_dataflow(model), x), qonnx_forward(oracle_model(model), x))


def test_inexact_scale_on_a_tie_is_refused():
    """Input scale 0.1 (not exact in float32) and a BN switch exactly on an attainable dot product: qonnx's
    rounded dot product may land on either side, so no threshold is exact; refused naming layer and channel.
    Halfway between attainable values the same layer is accepted and exact."""
    model, _ = _onnx_mlp([1.0, 1.0], 0.1, [0.0, 0.0], np.array([F32(3 * 0.1), 0.5], F32), [1.0, 1.0], 8)
    with pytest.raises(TailError, match=re.escape("fc0: channel 0: the switch lies within")):
        qonnx_to_dataflow(model)
    model, _ = _onnx_mlp([1.0, 1.0], 0.1, [0.0, 0.0], np.array([0.35, 0.55], F32), [1.0, 1.0], 8)
    x = np.random.default_rng(1).integers(-128, 128, (64, 8)).astype(F32) * F32(0.1)
    np.testing.assert_array_equal(run_model(qonnx_to_dataflow(model), x), qonnx_forward(oracle_model(model), x))


def test_inexact_last_layer_scale_is_refused():
    """A last layer whose float dot product rounds (weight scale 0.1 x input scale 1) has no exact epilogue."""
    model, _ = _onnx_mlp([0.75, 0.75], 1.0, [0.0, 0.0], [0.0, 0.0], [1.0, 1.0], 8)
    w2 = next(i for i in model.graph.initializer if i.name == "w2")
    w2.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w2) * F32(0.1), "w2"))
    with pytest.raises(FrontendError, match=re.escape("MatMul_4 (MatMul): channel 0: input scale x weight scale")):
        qonnx_to_dataflow(model)


# -- an input without a quantizer: its qonnx datatype annotation ------------------------------------------------
@pytest.mark.parametrize("dtype", ["BIPOLAR", "INT8", "UINT4"])
def test_datatype_annotated_input(tmp_path, dtype):
    rng = np.random.default_rng(1)
    k, mh = 24, 8
    w1 = np.where(rng.random((k, mh)) < 0.5, -1, 1).astype(F32)
    w2 = np.where(rng.random((mh, 4)) < 0.5, -1, 1).astype(F32)
    inits = {"w1": w1, "w2": w2, "mu": rng.normal(size=mh).astype(F32) * 3, "one": np.array(1.0, F32)}
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["a"]),
             helper.make_node("Sub", ["a", "mu"], ["b"]),
             helper.make_node("BipolarQuant", ["b", "one"], ["h"], domain=Q),
             helper.make_node("MatMul", ["h", "w2"], ["y"])]
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, k])],
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])],
                          initializer=[numpy_helper.from_array(v, n) for n, v in inits.items()])
    m = ModelWrapper(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(Q, 1)]))
    m.set_tensor_datatype("x", DataType[dtype])
    p = tmp_path / "annotated.onnx"
    m.save(str(p))
    graph = qonnx_to_dataflow(p)
    assert graph.prologue.quant.kind == "datatype" and graph.input_stream.elem_type.name == dtype
    t = DataType[dtype]
    x = (rng.choice([-1.0, 1.0], (40, k)) if dtype == "BIPOLAR"
         else rng.integers(t.min(), t.max() + 1, (40, k))).astype(F32)
    np.testing.assert_array_equal(run_model(graph, x), qonnx_forward(oracle_model(p), x))
    bad = x.copy()
    bad[3, 5] = 0.5
    with pytest.raises(UserError, match=re.escape(f"input: value 0.5 at index [3, 5] is not a {dtype} value")):
        run_model(graph, bad)


# -- float ops on an annotated input, tabulated by qonnx (compile/input_table.py) ---------------------------------
def _annotated_model(dtype, pre, k=24, mh=8, seed=2):
    """x (annotated ``dtype``) -> ``pre`` nodes (x -> "p") -> MatMul (2-bit weights) -> Sub -> BipolarQuant -> MatMul."""
    rng = np.random.default_rng(seed)
    w1 = rng.integers(-1, 2, (k, mh)).astype(F32) * F32(0.75)
    w2 = np.where(rng.random((mh, 4)) < 0.5, -1, 1).astype(F32)
    inits = {"w1": w1, "w2": w2, "mu": rng.normal(size=mh).astype(F32), "one": np.array(1.0, F32)}
    nodes = [n for n, _ in pre] + [helper.make_node("MatMul", ["p", "w1"], ["a"]),
                                   helper.make_node("Sub", ["a", "mu"], ["b"]),
                                   helper.make_node("BipolarQuant", ["b", "one"], ["h"], domain=Q),
                                   helper.make_node("MatMul", ["h", "w2"], ["y"])]
    for _, consts in pre:
        inits.update(consts)
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, k])],
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])],
                          initializer=[numpy_helper.from_array(np.asarray(v), n) for n, v in inits.items()])
    m = ModelWrapper(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(Q, 1)]))
    m.set_tensor_datatype("x", DataType[dtype])
    return m


def _op(op, a, c, out, value, **attrs):
    return helper.make_node(op, [a, c], [out], domain=Q if op in ("MultiThreshold", "BipolarQuant") else "",
                            **attrs), {c: np.asarray(value, F32)}


TABLES = {
    # FINN's cybersecurity MLP: (x + 1) / 2 maps a BIPOLAR input to {0, 1}
    "bipolar_to_01": ("BIPOLAR", [_op("Add", "x", "c0", "t", 1.0), _op("Div", "t", "c1", "p", 2.0)],
                      IntType(1, False), 1.0),
    # FINN's TFC: a UINT8 image / 255, * 2, - 1, MultiThreshold at 0 (out_scale 2, out_bias -1): ±1
    "uint8_multithreshold": ("UINT8", [_op("Div", "x", "c0", "t0", 255.0), _op("Mul", "t0", "c1", "t1", 2.0),
                                       _op("Sub", "t1", "c2", "t2", [1.0]),
                                       _op("MultiThreshold", "t2", "c3", "p", [[0.0]], out_dtype="BIPOLAR",
                                           out_scale=2.0, out_bias=-1.0)], BIPOLAR, 1.0),
    # a non-power-of-two input scale on a signed input, no quantizer: values q * 0.3 (q = x, INT4)
    "int4_scaled": ("INT4", [_op("Mul", "x", "c0", "p", 0.3)], IntType(4, True), float(F32(0.3))),
    # x / 127 of an INT8 input and (x - 128) / 255 of a UINT8 one: the 8-bit codes at a float64 scale (q = x
    # and x - 128; float32 scales would need q = 3x, 10 bits); None: the scale is checked by q and the values
    "int8_over_127": ("INT8", [_op("Div", "x", "c0", "p", 127.0)], IntType(8, True), None),
    "uint8_centred": ("UINT8", [_op("Sub", "x", "c0", "t", 128.0), _op("Div", "t", "c1", "p", 255.0)],
                      IntType(8, True), None),
    # 2x of a UINT4 input: q = x at scale 2 (not the integers 2x at scale 1, a UINT5 stream)
    "uint4_doubled": ("UINT4", [_op("Mul", "x", "c0", "p", 2.0)], IntType(4, False), 2.0),
    # FINN's LFC maps its image by 2x - 1 through Sign: on a UINT8 image / 255 no pixel gives 0, so ±1
    "uint8_sign": ("UINT8", [_op("Div", "x", "c0", "t0", 255.0), _op("Mul", "t0", "c1", "t1", 2.0),
                             _op("Sub", "t1", "c2", "t2", 1.0), (helper.make_node("Sign", ["t2"], ["p"]), {})],
                   BIPOLAR, 1.0),
    # Sign of an INT4 input reaches -1, 0 and +1 (a signed 2-bit stream); of a UINT4 one only 0 and 1
    "int4_sign": ("INT4", [(helper.make_node("Sign", ["x"], ["p"]), {})], IntType(2, True), 1.0),
    "uint4_sign": ("UINT4", [(helper.make_node("Sign", ["x"], ["p"]), {})], IntType(1, False), 1.0),
}


@pytest.mark.parametrize("case", sorted(TABLES))
def test_float_ops_on_annotated_input_are_tabulated(tmp_path, case):
    dtype, pre, etype, scale = TABLES[case]
    p = tmp_path / "m.onnx"
    _annotated_model(dtype, pre).save(str(p))
    graph = qonnx_to_dataflow(p)
    q = graph.prologue.quant
    assert (q.kind, q.source, q.elem_type) == ("table", dtype, etype)
    assert scale is None or q.scale == scale
    assert graph.nodes[0].in_type == etype
    t = DataType[dtype]
    rng = np.random.default_rng(3)
    x = (rng.choice([-1.0, 1.0], (40, 24)) if dtype == "BIPOLAR"
         else rng.integers(t.min(), t.max() + 1, (40, 24))).astype(F32)
    x[0] = t.min() if dtype != "BIPOLAR" else -1.0  # the type's ends
    x[1] = t.max() if dtype != "BIPOLAR" else 1.0
    np.testing.assert_array_equal(run_model(graph, x), qonnx_forward(oracle_model(p), x))
    assert compare_layers(graph, oracle_model(p), x[:6]) == []
    bad = x.copy()
    bad[2, 4] = 0.5
    with pytest.raises(UserError, match=re.escape(f"input: value 0.5 at index [2, 4] is not a {dtype} value")):
        run_model(graph, bad)


def test_tabulation_refusals(tmp_path):
    p = tmp_path / "m.onnx"
    # a per-element constant cannot be one table for every element
    _annotated_model("UINT4", [_op("Mul", "x", "c0", "p", np.full((1, 24), 0.5))]).save(str(p))
    with pytest.raises(FrontendError, match=re.escape("Mul_0 (Mul): constant c0 of shape [1, 24] on the UINT4 input: "
                                                      "only scalar constants can be tabulated")):
        qonnx_to_dataflow(p)
    # x / 255 + 0.1 is not q * s for one float32 scale s (an offset): the MatMul would see other values
    _annotated_model("UINT8", [_op("Div", "x", "c0", "t", 255.0), _op("Add", "t", "c1", "p", 0.1)]).save(str(p))
    with pytest.raises(FrontendError, match=r"Add_1 \(Add\): the UINT8 input's values become \[0.1, 0.103922, "):
        qonnx_to_dataflow(p)


def test_annotated_uint8_over_255_enters_as_its_8_bit_codes(tmp_path):
    """x / 255 of a UINT8 input is fl32(x * s) for a float64 s of a few more bits than a float32 (for no float32
    s with q = x: that needs q = 3x, a UINT10 stream): the first layer reads the 256 input codes themselves."""
    p = tmp_path / "m.onnx"
    _annotated_model("UINT8", [_op("Div", "x", "c0", "p", 255.0)]).save(str(p))
    graph = qonnx_to_dataflow(p)
    q = graph.prologue.quant
    codes = np.arange(256)
    assert (q.kind, q.elem_type) == ("table", IntType(8, False))
    np.testing.assert_array_equal(graph.params[q.table], codes)
    np.testing.assert_array_equal((codes * q.scale).astype(F32), codes.astype(F32) / F32(255))
    assert graph.nodes[0].in_type == IntType(8, False)
    x = np.random.default_rng(4).integers(0, 256, (30, 24)).astype(F32)
    x[0], x[1] = 0, 255
    np.testing.assert_array_equal(run_model(graph, x), qonnx_forward(oracle_model(p), x))
    assert compare_layers(graph, oracle_model(p), x[:6]) == []


def test_dot_error_bound_holds_in_any_summation_order():
    """compile/bias.py dot_error with per-channel nonzero counts and the dot's value: the float32 dot product of
    fl(q * s_in) and 2-bit weights (mostly 0) in random orders never leaves the bound."""
    from fractions import Fraction

    from candle_hw.compile.bias import dot_error

    rng = np.random.default_rng(0)
    s_in, s_w = F32(7.516089), F32(8.913977)
    for trial in range(40):
        k = int(rng.integers(8, 200))
        w = rng.choice([-1, 0, 0, 1], k).astype(np.int64)
        q = rng.integers(0, 4, k).astype(np.int64)
        xs, ws = (q.astype(F32) * s_in).astype(F32), (w.astype(F32) * s_w).astype(F32)
        zscale = np.array([float(s_in) * float(s_w)])
        exact = Fraction(int(q @ w)) * Fraction(float(s_in)) * Fraction(float(s_w))
        bound = dot_error(zscale, np.count_nonzero(w), 3, np.array([False]), False,
                          np.array([abs(float(exact))]))[0]
        for _ in range(5):
            acc = F32(0)
            for i in rng.permutation(k):
                acc = F32(acc + F32(xs[i] * ws[i]))
            assert abs(Fraction(float(acc)) - exact) <= Fraction(float(bound)), (trial, float(acc), float(exact))


def test_cli_compiles_folds_and_reports_a_scaled_biased_model(tmp_path, capsys):
    """`candle-hw compile` (folding from a file, --verify, RTL) and `report` on a Brevitas model with biases and
    non-power-of-two scales; a model it must refuse exits 2 with one line and writes nothing."""
    import json

    from candle_hw.cli import main

    rng = np.random.default_rng(5)
    torch.manual_seed(5)  # a fixed model: this one compiles (no switch within the rounding margin)
    model = _mlp(16, 8, False, 0.37)
    x = rng.uniform(0, 1, (32, 16)).astype(F32)
    _random_bn_off_ties(model, x, 5)
    path = export_qonnx_model(model.eval(), tmp_path / "scaled.onnx")
    fold = tmp_path / "fold.json"
    fold.write_text(json.dumps([{"pe": 4, "simd": 4}, {"pe": 2, "simd": 8}, {"pe": 7, "simd": 2}]))
    out = tmp_path / "build"
    assert main(["compile", str(path), "-o", str(out), "--folding", str(fold), "--verify", "-q"]) == 0
    assert json.loads((out / "folding.json").read_text())["fc1"]["simd"] == 8
    assert main(["report", str(out)]) == 0
    assert (out / "reports" / "report.json").is_file()
    capsys.readouterr()
    bad, _ = _onnx_mlp([1.0, 1.0], 1.0, np.array([0.1, 0.1], F32), np.array([F32(10.0) + F32(0.1), 0.5], F32),
                       [1.0, 1.0], 300)
    onnx.save(bad, str(tmp_path / "bad.onnx"))
    assert main(["compile", str(tmp_path / "bad.onnx"), "-o", str(tmp_path / "b2"), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "gemm1's float bias" in err[0] and not (tmp_path / "b2").exists()
