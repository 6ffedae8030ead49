"""The functional simulator with its fast forms (sim/fastops.py, the prologue's step form) against the same
simulator on the golden ops alone, side by side in one process: calls alternate between the two, one warm-up
each, --repeat timed calls each, medians and the ratio printed; outputs checked equal first.

"golden" swaps fastops.integer_mvu for golden.mvu, fastops.maxpool for golden.maxpool and turns the prologue's
step form off (host.input_steps -> None): the simulator as it ran before the fast forms.

    OMP_NUM_THREADS=1 python bench/sim_fastops.py [--repeat 9] [--nets tfc_1w2a cnv_1w2a tfc_w1a1 cnv_w1a1]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from candle_hw.compile.frontend import qonnx_to_dataflow  # noqa: E402
from candle_hw.sim import fastops, functional, golden, host  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FAST = (fastops.integer_mvu, fastops.maxpool, host.input_steps)
GOLDEN = (lambda x, w, t, in_type: golden.mvu(x, w, t, False), golden.maxpool, lambda graph: None)


def use(ops) -> None:
    fastops.integer_mvu, fastops.maxpool, host.input_steps = ops


def bnn_pynq_graph(name: str, d: Path):
    spec = importlib.util.spec_from_file_location("bnn_pynq_check", REPO / "scripts" / "bnn_pynq_check.py")
    bnn = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bnn)
    p = d / f"{name}.onnx"
    bnn.export(lambda: bnn.build(name), bnn.input_shape(name), p)
    return qonnx_to_dataflow(p), bnn.input_shape(name)[1:]


def cnv_w1a1_graph(d: Path):
    import torch

    from candle_hw.compile.export import export_qonnx_model
    from candle_hw.models import build_model, randomize_bn

    torch.manual_seed(0)
    model = build_model("cnv_w1a1")
    randomize_bn(model, 0)
    return qonnx_to_dataflow(export_qonnx_model(model.eval(), d / "cnv_w1a1.onnx"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--nets", nargs="*", default=["tfc_1w2a", "cnv_1w2a", "tfc_w1a1", "cnv_w1a1"],
                    choices=["tfc_1w2a", "cnv_1w2a", "tfc_w1a1", "cnv_w1a1"])
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for name in a.nets:
            if name == "tfc_w1a1":
                g, x = qonnx_to_dataflow(REPO / "tests" / "data" / "TFC_1W1A.onnx"), rng.random((10_000, 1, 28, 28), dtype=np.float32)
            elif name == "cnv_w1a1":
                g, x = cnv_w1a1_graph(d), rng.integers(0, 256, size=(50, 3, 32, 32)).astype(np.float32)
            else:
                g, shape = bnn_pynq_graph(name, d)
                x = rng.uniform(0.0, 1.0, size=(10_000 if name.startswith("tfc") else 50, *shape)).astype(np.float32)
            use(GOLDEN)
            want = functional.run_model(g, x)
            use(FAST)
            np.testing.assert_array_equal(functional.run_model(g, x), want)
            times = {"golden": [], "fast": []}
            for _ in range(a.repeat):
                for side, ops in (("golden", GOLDEN), ("fast", FAST)):
                    use(ops)
                    t = time.perf_counter()
                    functional.run_model(g, x)
                    times[side].append(time.perf_counter() - t)
            use(FAST)
            mg, mf = statistics.median(times["golden"]), statistics.median(times["fast"])
            print(f"{name:9s} batch {len(x):6d}: golden ops {mg / len(x) * 1e6:9.2f} us/frame, fast forms "
                  f"{mf / len(x) * 1e6:9.2f} us/frame (medians of {a.repeat}) -> {mg / mf:.2f}x", flush=True)


if __name__ == "__main__":
    main()
