"""Brevitas forward == QONNX execute_onnx == functional simulator == cycle simulator, exact, over random zoo models.

Every model gets random BatchNorm statistics (negative gammas, thresholds landing exactly on attainable
accumulator values, constant channels) so that the threshold mapping is exercised at its corner cases.
"""
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from candle_hw.compile.frontend import qonnx_to_dataflow
from candle_hw.compile.ir import MatrixVectorUnit
from candle_hw.compile.pipeline import apply_folding
from candle_hw.compile.verify import compare_layers
from candle_hw.models import build_model, randomize_bn
from candle_hw.compile.passes.fold import divisors
from fixtures.reference import export_reference
from candle_hw.compile.passes.stitch import Stitch
from candle_hw.sim.cycle import simulate_cycle
from candle_hw.sim.functional import run_model
from candle_hw.sim.host import run_epilogue, run_prologue

SETTINGS = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _random_folding(graph, rng):
    return [{"pe": int(rng.choice(divisors(m.mh))), "simd": int(rng.choice(divisors(m.mw)))}
            for m in graph.nodes if isinstance(m, MatrixVectorUnit)]


def _check_chain(model, tmp_path, seed, n=8):
    torch.manual_seed(seed)
    randomize_bn(model, seed)
    model.eval()
    path = tmp_path / f"m{seed}.onnx"
    x, oracle, brevitas_out, qonnx_out = export_reference(model, path, seed, n)
    np.testing.assert_array_equal(brevitas_out, qonnx_out)
    graph = qonnx_to_dataflow(path)
    sim_out = run_model(graph, x)
    np.testing.assert_array_equal(sim_out.astype(qonnx_out.dtype).reshape(qonnx_out.shape), qonnx_out)
    assert compare_layers(graph, oracle, x[:3]) == []
    folded = apply_folding(graph, _random_folding(graph, np.random.default_rng(seed)))
    np.testing.assert_array_equal(run_model(folded, x), sim_out)
    # the cycle level moves words through the blocks of the stitched design (random foldings: width converters)
    stitched = Stitch()(folded)
    res = simulate_cycle(stitched, run_prologue(stitched, x))
    assert res.mismatch is None, str(res.mismatch)
    np.testing.assert_array_equal(run_epilogue(stitched, res.outputs), sim_out)
    return graph


@SETTINGS
@given(hidden=st.lists(st.sampled_from([8, 16, 24, 40, 64]), min_size=1, max_size=3),
       input_bits=st.sampled_from([1, 8]), side=st.sampled_from([4, 6, 8]), seed=st.integers(0, 10_000))
def test_mlp_family(tmp_path, hidden, input_bits, side, seed):
    model = build_model({"family": "mlp", "in_features": side * side, "hidden": hidden, "num_classes": 10,
                         "input_bits": input_bits, "in_shape": [1, side, side]})
    _check_chain(model, tmp_path, seed)


@SETTINGS
@given(c1=st.sampled_from([8, 16]), c2=st.sampled_from([8, 24]), pool=st.booleans(), padding=st.sampled_from([0, 1]),
       img=st.sampled_from([8, 10, 12]), fc=st.sampled_from([[], [32]]), seed=st.integers(0, 10_000))
def test_cnv_family(tmp_path, c1, c2, pool, padding, img, fc, seed):
    channels = [c1, "M", c2] if pool else [c1, c2]
    model = build_model({"family": "cnv", "channels": channels, "fc": fc, "num_classes": 10, "in_ch": 3,
                         "img": img, "width": 1.0, "padding": padding})
    _check_chain(model, tmp_path, seed)


@pytest.mark.slow
def test_cnv_w1a1_topology(tmp_path):
    graph = _check_chain(build_model("cnv_w1a1"), tmp_path, seed=7, n=4)
    mvus = [n for n in graph.nodes if isinstance(n, MatrixVectorUnit)]
    assert [(m.mw, m.mh) for m in mvus] == [(27, 64), (576, 64), (576, 128), (1152, 128), (1152, 256),
                                             (2304, 256), (256, 512), (512, 512), (512, 10)]
    assert [m.num_vectors for m in mvus[:6]] == [(30, 30), (28, 28), (12, 12), (10, 10), (3, 3), (1, 1)]
    assert not mvus[0].binary_xnor and all(m.binary_xnor for m in mvus[1:])
    assert sum(m.mw * m.mh * math.prod(m.num_vectors) for m in mvus) == 59_461_376  # 59.46 M MAC, as FINN counts CNV-W1A1
