"""k-bit (2..4-bit) weights, FINN's semantics (integer products in the matrix unit, per-channel scales absorbed
into the thresholds): Brevitas == QONNX == functional simulator (every layer) == cycle simulator, exact, on
Hypothesis-drawn MLPs and CNVs mixing them with 1-bit layers, integer/±1 inputs and 1..3-bit activations."""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from candle_hw.compile.frontend import _check_weights
from candle_hw.compile.ir import IRError, MatrixVectorUnit
from candle_hw.types import BIPOLAR, IntType, sint, uint

from kbit_weights import with_weight_bits
from multibit_nets import MultiBitCNV, MultiBitMLP
from fixtures.folded_cycle import assert_cycle_equals_functional
from test_multibit import export_checked

SETTINGS = settings(max_examples=int(os.environ.get("CANDLE_HW_MULTIBIT_EXAMPLES", 3)), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _kbit_units(graph, bits):
    units = [n for n in graph.nodes if isinstance(n, MatrixVectorUnit) and not n.weight_type.bipolar]
    assert units, [n.weight_type for n in graph.nodes if isinstance(n, MatrixVectorUnit)]
    for u in units:
        w = graph.params[f"{u.name}.weights"]
        assert not u.binary_xnor and u.weight_type.bits <= bits + 1  # + 1: a negated column (falling tail)
        assert u.weight_type.min <= w.min() and w.max() <= u.weight_type.max
    return units


@SETTINGS
@given(input_bits=st.sampled_from([1, 8]), wbits=st.sampled_from([2, 3, 4]), abits=st.sampled_from([1, 2, 3]),
       in_f=st.integers(4, 16), hidden=st.lists(st.integers(2, 10), min_size=1, max_size=2),
       per_channel_float=st.booleans(), seed=st.integers(0, 10_000))
def test_kbit_weight_mlp_exact(tmp_path, input_bits, wbits, abits, in_f, hidden, per_channel_float, seed):
    # abits = 1: ±1 activations, so a k-bit layer also sees a ±1 input (w or -w per lane)
    binary = tuple(range(len(hidden))) if abits == 1 else ()
    net = MultiBitMLP(in_f, hidden, max(abits, 2), input_bits, binary=binary)
    import torch
    torch.manual_seed(seed)
    with_weight_bits(net, wbits, per_channel_float, last=wbits == 2 and not per_channel_float)
    graph, x, _ = export_checked(net, tmp_path, seed, len(hidden) == 1 and wbits == 2 and not per_channel_float)
    _kbit_units(graph, wbits)
    assert_cycle_equals_functional(graph, x, seed)


@SETTINGS
@given(input_bits=st.sampled_from([1, 8]), wbits=st.sampled_from([2, 3]), in_ch=st.sampled_from([1, 2]),
       img=st.integers(6, 8), convs=st.lists(st.tuples(st.sampled_from([2, 4]), st.booleans()), min_size=1, max_size=2),
       signed=st.booleans(), pad=st.sampled_from([0, 1]), seed=st.integers(0, 10_000))
def test_kbit_weight_cnv_exact(tmp_path, input_bits, wbits, in_ch, img, convs, signed, pad, seed):
    hw = img
    for i, (_, pool) in enumerate(convs):
        hw = (hw - 2 + (2 * pad if i else 0)) // (2 if pool else 1)
    if hw < 1:
        convs = convs[:1]
    net = MultiBitCNV(in_ch, img, convs, 2, input_bits, signed=signed, pad=pad)
    import torch
    torch.manual_seed(seed)
    with_weight_bits(net, wbits, last=wbits == 2)
    graph, x, _ = export_checked(net, tmp_path, seed, len(convs) == 1 and wbits == 2)
    _kbit_units(graph, wbits)
    assert_cycle_equals_functional(graph, x, seed)


def test_integer_weights_recovered_exactly():
    s = np.float32(0.0751861)
    q = np.array([[-3, 1, 0], [2, -1, 0], [1, 1, 0]])
    w = (q.astype(np.float32) * s).astype(np.float32)
    w[:, 1] *= np.float32(0.5)  # another scale on channel 1 (per output channel)
    import onnx
    node = onnx.helper.make_node("MatMul", ["a", "b"], ["c"], name="MatMul_3")
    got, scale, exact = _check_weights(node, w)
    np.testing.assert_array_equal(got, q)  # channel 0's smallest magnitude is 1 * s, channel 1's 1 * s/2
    np.testing.assert_array_equal((got.astype(np.float32) * scale).astype(np.float32), w)
    assert scale[2] == 1.0 and exact[2]
    # a 4-bit channel whose smallest level is 3*s: fl32(fl32(3s)/3) misses the quantizer's s by an ulp
    s4 = np.float32(0.0964737)
    q4 = np.array([[-7], [-6], [-5], [-3]])
    got4, scale4, _ = _check_weights(node, (q4.astype(np.float32) * s4).astype(np.float32))
    np.testing.assert_array_equal(got4, q4)
    np.testing.assert_array_equal((got4.astype(np.float32) * scale4).astype(np.float32),
                                  (q4.astype(np.float32) * s4).astype(np.float32))
    w2 = w.copy()
    w2[0, 0] = np.float32(0.3)  # not a multiple of the channel's scale
    with pytest.raises(Exception, match=r"^MatMul_3 \(MatMul\): output channel 0 has weights \[.*not q \* s"):
        _check_weights(node, w2)


def test_ir_weight_types():
    mk = lambda it, wt, xnor: MatrixVectorUnit("m", 4, 2, 1, 1, it, sint(8), BIPOLAR, xnor, weight_type=wt)
    assert not mk(uint(2), sint(2), False).binary_xnor
    assert not mk(BIPOLAR, sint(3), False).binary_xnor
    with pytest.raises(IRError, match=r"m: binary_xnor=True contradicts in_type=BIPOLAR x weight_type=INT2"):
        mk(BIPOLAR, sint(2), True)
    with pytest.raises(IRError, match=r"m: weight_type=INT5 is not supported"):
        mk(uint(2), sint(5), False)
    with pytest.raises(IRError, match=r"m: weight_type=UINT1 is not supported"):
        mk(uint(2), IntType(1, False), False)
