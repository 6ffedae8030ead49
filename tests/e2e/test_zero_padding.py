"""Zero padding of ±1 maps (Brevitas QuantConv2d padding=1): Brevitas == QONNX == functional == cycle sim, exact.

The golden padded-tap rule is checked against the definition (windows of a map padded with 0).
"""
import os
from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from candle_hw.compile.frontend import qonnx_to_dataflow
from candle_hw.compile.ir import DataflowGraph, IRError, MatrixVectorUnit, SlidingWindow
from candle_hw.compile.verify import compare_layers
from candle_hw.models import randomize_bn
from candle_hw.sim import golden
from candle_hw.sim.functional import run_model
from candle_hw.types import BIPOLAR, IntType

from fixtures.folded_cycle import assert_cycle_equals_functional
from fixtures.reference import export_reference
from zero_pad_nets import ZeroPadNet

# CANDLE_HW_ZERO_PAD_EXAMPLES raises the number of drawn networks for a longer sweep (docs/results.md)
SETTINGS = settings(max_examples=int(os.environ.get("CANDLE_HW_ZERO_PAD_EXAMPLES", 5)), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def export_checked(model, tmp_path, seed, n=6):
    """Export ``model`` with random BN, check Brevitas == QONNX == functional simulator; return (graph, x)."""
    torch.manual_seed(seed)
    randomize_bn(model, seed)
    model.eval()
    path = tmp_path / f"zp{seed}.onnx"
    x, oracle, brevitas_out, qonnx_out = export_reference(model, path, seed, n)
    np.testing.assert_array_equal(brevitas_out, qonnx_out)
    graph = qonnx_to_dataflow(path)
    np.testing.assert_array_equal(run_model(graph, x).astype(qonnx_out.dtype).reshape(qonnx_out.shape), qonnx_out)
    assert compare_layers(graph, oracle, x[:3]) == []
    return graph, x, path


@SETTINGS
@given(input_bits=st.sampled_from([1, 8]), in_ch=st.sampled_from([1, 2]), img=st.integers(3, 7),
       convs=st.lists(st.tuples(st.sampled_from([2, 4, 6]), st.sampled_from([1, 2])), min_size=1, max_size=2),
       explicit_pad=st.booleans(), pad=st.sampled_from([1, 1, 2]), seed=st.integers(0, 10_000))
def test_zero_padded_convs_exact(tmp_path, input_bits, in_ch, img, convs, explicit_pad, pad, seed):
    net = ZeroPadNet(in_ch, img, convs, input_bits, explicit_pad=explicit_pad, pad=pad)
    graph, x, _ = export_checked(net, tmp_path, seed)
    mvus = [n for n in graph.nodes if isinstance(n, MatrixVectorUnit)]
    bordered = [m for m in mvus if m.border]
    assert len(bordered) == len(convs) - (input_bits == 8)
    for m in bordered:
        assert m.acc_range == (0, 2 * m.mw)
    assert_cycle_equals_functional(graph, x, seed)


@given(h=st.integers(1, 6), w=st.integers(1, 6), k=st.sampled_from([1, 2, 3]), s=st.sampled_from([1, 2]),
       p=st.sampled_from([1, 2]), c=st.sampled_from([1, 3]))
@settings(max_examples=30, deadline=None)
def test_padded_taps_are_where_the_window_pads(h, w, k, s, p, c):
    if h + 2 * p < k or w + 2 * p < k:
        return
    ones = np.ones((1, h, w, c))
    window = golden.sliding_window(ones, k, s, p, 0)[0]  # 0 exactly at the padded taps
    np.testing.assert_array_equal(golden.padded_taps((h, w), k, s, p, c), window.reshape(-1, k * k * c) == 0)


def test_zero_padded_accumulator_counts_padded_taps_as_zero():
    rng = np.random.default_rng(0)
    x = rng.choice([-1, 1], size=(1, 4, 5, 2))
    wt = rng.choice([-1, 1], size=(18, 3))
    padded = golden.padded_taps((4, 5), 3, 1, 1, 2)
    acc = golden.mvu(golden.sliding_window(x, 3, 1, 1, -1).reshape(-1, 18), wt, None, True, padded)
    # z by definition: products of the taps inside the image only
    z = np.einsum("vk,km->vm", np.where(padded, 0, golden.sliding_window(x, 3, 1, 1, 1).reshape(-1, 18)), wt)
    np.testing.assert_array_equal(acc, z + 18)
    assert acc.min() >= 0 and acc.max() <= 36


def test_border_needs_a_matching_window():
    swg = SlidingWindow("swg0", (4, 4), 2, 3, 1, 1, -1, BIPOLAR)
    acc = IntType.for_range(0, 36)
    with pytest.raises(IRError, match="border"):
        MatrixVectorUnit("conv0", 18, 4, 1, 1, BIPOLAR, acc, BIPOLAR, True, (4, 4), 1, border=(4, 4, 3, 1))
    with pytest.raises(IRError, match="num_vectors"):
        MatrixVectorUnit("conv0", 18, 4, 1, 1, BIPOLAR, acc, BIPOLAR, True, (3, 3), 1, border=(4, 4, 3, 1, 1))
    with pytest.raises(IRError, match="simd=3 does not divide channels of the zero-padded window=2"):
        MatrixVectorUnit("conv0", 18, 4, 1, 3, BIPOLAR, acc, BIPOLAR, True, (4, 4), 1, border=(4, 4, 3, 1, 1))
    good = MatrixVectorUnit("conv0", 18, 4, 1, 2, BIPOLAR, acc, BIPOLAR, True, (4, 4), 1, border=(4, 4, 3, 1, 1))
    assert good.acc_range == (0, 36) and good.simd_base == 2
    DataflowGraph((replace(swg, simd=2), good))
    with pytest.raises(IRError, match="pad_value=-1"):
        DataflowGraph((SlidingWindow("swg0", (4, 4), 2, 3, 1, 1, 1, BIPOLAR, 2), good))


def test_zero_padding_estimate_costs_more_than_pm1_padding():
    from candle_hw.compile.estimate import mvu_resources

    acc = IntType.for_range(0, 1152)
    zero = MatrixVectorUnit("c", 576, 64, 8, 64, BIPOLAR, acc, BIPOLAR, True, (16, 16), 1, border=(16, 16, 3, 1, 1))
    pm1 = replace(zero, border=(), acc_type=IntType.for_range(0, 576))
    extra = mvu_resources(zero)["LUT"] - mvu_resources(pm1)["LUT"]
    assert 0 < extra < 0.1 * mvu_resources(pm1)["LUT"]
