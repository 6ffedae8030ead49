"""Zero padding of ±1 maps (Brevitas QuantConv2d padding=1): Brevitas == QONNX == functional == cycle sim, exact.

The golden border-class rule is also checked against the definition: windows padded with 0 (a ternary map)
multiplied by the weights give the same sign decisions as the -1-padded popcount with per-class thresholds.
"""
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from candle_hw.compile.export import export_qonnx_model
from candle_hw.compile.frontend import qonnx_to_dataflow
from candle_hw.compile.ir import IRError, MatrixVectorUnit, SlidingWindow
from candle_hw.compile.pipeline import apply_folding
from candle_hw.compile.verify import compare_layers, oracle_model, qonnx_forward
from candle_hw.compile.zero_pad import border_thresholds
from candle_hw.models import randomize_bn, sample_input
from candle_hw.sim import golden
from candle_hw.sim.cycle import simulate_cycle
from candle_hw.sim.functional import run_dataflow, run_model
from candle_hw.sim.host import run_prologue
from candle_hw.types import BIPOLAR, IntType

from zero_pad_nets import ZeroPadNet

SETTINGS = settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def export_checked(model, tmp_path, seed, n=6):
    """Export ``model`` with random BN, check Brevitas == QONNX == functional simulator; return (graph, x)."""
    torch.manual_seed(seed)
    randomize_bn(model, seed)
    model.eval()
    path = export_qonnx_model(model, tmp_path / f"zp{seed}.onnx")
    x = sample_input(model, n, seed=seed)
    with torch.no_grad():
        brevitas_out = model(x).numpy()
    x = x.numpy()
    oracle = oracle_model(path)
    qonnx_out = qonnx_forward(oracle, x)
    np.testing.assert_array_equal(brevitas_out, qonnx_out)
    graph = qonnx_to_dataflow(path)
    np.testing.assert_array_equal(run_model(graph, x).astype(qonnx_out.dtype).reshape(qonnx_out.shape), qonnx_out)
    assert compare_layers(graph, oracle, x[:3]) == []
    return graph, x, path


@SETTINGS
@given(input_bits=st.sampled_from([1, 8]), in_ch=st.sampled_from([1, 2]), img=st.integers(3, 7),
       convs=st.lists(st.tuples(st.sampled_from([2, 4, 6]), st.sampled_from([1, 2])), min_size=1, max_size=2),
       seed=st.integers(0, 10_000))
def test_zero_padded_convs_exact(tmp_path, input_bits, in_ch, img, convs, seed):
    graph, x, _ = export_checked(ZeroPadNet(in_ch, img, convs, input_bits), tmp_path, seed)
    mvus = [n for n in graph.nodes if isinstance(n, MatrixVectorUnit)]
    bordered = [m for m in mvus if m.border]
    assert len(bordered) == len(convs) - (input_bits == 8)
    for m in bordered:
        assert graph.params[f"{m.name}.thresholds"].shape == (m.n_classes, m.mh, 1)
    rng = np.random.default_rng(seed)
    folding = [{"pe": int(rng.choice(_divisors(m.mh))), "simd": int(rng.choice(_divisors(m.mw)))} for m in mvus]
    folded = apply_folding(graph, folding)
    frames = run_prologue(folded, x)
    np.testing.assert_array_equal(simulate_cycle(folded, frames).outputs, run_dataflow(graph, frames))


@given(h=st.integers(1, 6), w=st.integers(1, 6), k=st.sampled_from([1, 2, 3]), s=st.sampled_from([1, 2]),
       p=st.sampled_from([1, 2]), c=st.sampled_from([1, 3]), mh=st.sampled_from([1, 4]), seed=st.integers(0, 999))
@settings(max_examples=40, deadline=None)
def test_border_thresholds_match_zero_padded_dot(h, w, k, s, p, c, mh, seed):
    if h + 2 * p < k or w + 2 * p < k:
        return
    rng = np.random.default_rng(seed)
    x = rng.choice([-1, 1], size=(2, h, w, c))
    wt = rng.choice([-1, 1], size=(k * k * c, mh))
    mw = k * k * c
    tau = rng.integers(-mw - 1, mw + 2, size=mh)
    true_dot = golden.sliding_window(x, k, s, p, 0).reshape(-1, mw) @ wt  # taps padded with 0 add nothing
    expected = np.where(true_dot >= tau, 1, -1)
    cls, _ = golden.border_classes((h, w), k, s, p)
    t = border_thresholds(tau, wt, (h, w, k, s, p))
    windows = golden.sliding_window(x, k, s, p, -1).reshape(-1, mw)
    got = golden.mvu(windows, wt, t[..., None], True, np.tile(cls.reshape(-1), 2))
    np.testing.assert_array_equal(got, expected)


def test_border_classes_of_a_3x3_pad1_map():
    cls, padded = golden.border_classes((5, 6), 3, 1, 1)
    assert cls.shape == (5, 6) and len(padded) == 9
    assert np.all(cls[1:-1, 1:-1] == 0) and not padded[0].any()  # the interior pads nothing
    assert padded[cls[0, 0]].reshape(3, 3).tolist() == [[True] * 3, [True, False, False], [True, False, False]]
    cls2, padded2 = golden.border_classes((4, 4), 3, 2, 1)  # stride 2: only the top/left rows overhang
    assert cls2.shape == (2, 2) and len(padded2) == 4


def test_border_needs_a_matching_window():
    swg = SlidingWindow("swg0", (4, 4), 2, 3, 1, 1, -1, BIPOLAR)
    acc = IntType.for_range(0, 18)
    with pytest.raises(IRError, match="border"):
        MatrixVectorUnit("conv0", 18, 4, 1, 1, BIPOLAR, acc, BIPOLAR, True, (4, 4), 1, border=(4, 4, 3, 1))
    with pytest.raises(IRError, match="num_vectors"):
        MatrixVectorUnit("conv0", 18, 4, 1, 1, BIPOLAR, acc, BIPOLAR, True, (3, 3), 1, border=(4, 4, 3, 1, 1))
    good = MatrixVectorUnit("conv0", 18, 4, 1, 1, BIPOLAR, acc, BIPOLAR, True, (4, 4), 1, border=(4, 4, 3, 1, 1))
    assert good.n_classes == 9
    from candle_hw.compile.ir import DataflowGraph

    DataflowGraph((swg, good))
    with pytest.raises(IRError, match="pad_value=-1"):
        DataflowGraph((SlidingWindow("swg0", (4, 4), 2, 3, 1, 1, 1, BIPOLAR), good))
