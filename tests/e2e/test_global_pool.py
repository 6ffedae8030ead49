"""Global average pooling (GlobalAccPool + Thresholding, or the host epilogue): Brevitas == QONNX == functional ==
cycle simulator, exact; falling tails and inexact float sums are refused in one line."""
import numpy as np
import pytest
import torch

from candle_hw.compile.export import export_qonnx_model
from candle_hw.compile.frontend import FrontendError, qonnx_to_dataflow
from candle_hw.compile.ir import GlobalAccPool, Thresholding
from fixtures.folded_cycle import assert_cycle_equals_functional
from fixtures.reference import export_reference
from candle_hw.compile.verify import compare_layers
from candle_hw.models import randomize_bn
from candle_hw.sim import golden
from candle_hw.sim.functional import run_model

from gap_nets import GapNet


def build(net, tmp_path, seed, n=6):
    torch.manual_seed(seed)
    randomize_bn(net, seed)
    if hasattr(net, "head_bn"):  # a rising tail after the pool: global pooling refuses a falling one
        with torch.no_grad():
            net.head_bn.weight.abs_()
    net.eval()
    path = tmp_path / f"gap{seed}.onnx"
    x, oracle, brevitas_out, qonnx_out = export_reference(net, path, seed, n)
    np.testing.assert_array_equal(brevitas_out, qonnx_out)
    return path, x, oracle, qonnx_out


# (input bits, image, convs, head, 2x2 max-pool before the global pool, seed, conv activation bits, head bits)
CASES = [(1, 3, [2], "fc", False, 0, 1, 1), (8, 5, [4, 2], "out", True, 1, 1, 1), (1, 6, [6], "out", False, 2, 1, 1),
         (8, 4, [2, 4], "fc", False, 3, 1, 1), (1, 5, [4], "out", False, 4, 2, 1), (8, 5, [4, 3], "fc", True, 5, 2, 1),
         (1, 4, [4], "fc", False, 6, 1, 2), (1, 5, [3], "fc", False, 7, 2, 2)]


@pytest.mark.parametrize("input_bits,img,convs,head,pool,seed,act_bits,head_bits", CASES)
def test_global_pool_nets_exact(tmp_path, input_bits, img, convs, head, pool, seed, act_bits, head_bits):
    net = GapNet(2, img, convs, input_bits, head, pool, act_bits=act_bits, head_bits=head_bits)
    path, x, oracle, qonnx_out = build(net, tmp_path, seed)
    graph = qonnx_to_dataflow(path)
    gaps = [n for n in graph.nodes if isinstance(n, GlobalAccPool)]
    assert len(gaps) == 1
    assert gaps[0].in_type.bipolar == (act_bits == 1)
    thr = [n for n in graph.nodes if isinstance(n, Thresholding)]
    assert len(thr) == (head == "fc") and all((t.n_thresholds > 1) == (head_bits > 1) for t in thr)
    np.testing.assert_array_equal(run_model(graph, x).astype(qonnx_out.dtype).reshape(qonnx_out.shape), qonnx_out)
    assert compare_layers(graph, oracle, x[:3]) == []
    assert_cycle_equals_functional(graph, x, seed)


def test_falling_tail_after_pool_refused(tmp_path):
    net = GapNet(1, 4, [4], 1, "fc")
    torch.manual_seed(0)
    randomize_bn(net, 0)
    with torch.no_grad():
        net.head_bn.weight.copy_(-net.head_bn.weight.abs())
    path = export_qonnx_model(net.eval(), tmp_path / "fall.onnx")
    with pytest.raises(FrontendError, match=r"channel \d+: the ops between .* fall") as e:
        qonnx_to_dataflow(path)
    assert "\n" not in str(e.value)


def test_golden_pool_counts_plus_ones():
    x = np.array([[[[1, -1], [1, 1]], [[-1, -1], [1, -1]]]])  # (1, 2, 2, 2)
    np.testing.assert_array_equal(golden.global_acc_pool(x, True), [[3, 1]])
    np.testing.assert_array_equal(golden.global_acc_pool(x, False), [[2, -2]])


def test_unquantized_conv_before_pool_refused(tmp_path):
    net = GapNet(1, 4, [4], 1, "out")
    net.net[1].act = torch.nn.Identity()  # conv -> BN -> GlobalAveragePool: a float sum of accumulator values
    randomize_bn(net, 1)
    path = export_qonnx_model(net.eval(), tmp_path / "float_pool.onnx")
    with pytest.raises(FrontendError, match="a conv output must be quantized before global pooling") as e:
        qonnx_to_dataflow(path)
    assert "\n" not in str(e.value)
