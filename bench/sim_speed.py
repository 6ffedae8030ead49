"""Functional simulator speed, measured side by side in one run and printed as ratios.

For TFC_1W1A (the QONNX zoo model) and a CNV-class zoo model:
- qonnx execute_onnx one sample at a time (how FINN-style flows verify) and batched;
- the Brevitas/PyTorch forward of the same topology (zoo preset, random BatchNorm statistics);
- a roofline: the same matrix products as bare kernels on this machine, the faster of a numpy bit-packed
  XNOR-popcount (uint64 XOR + bitwise_count) and an exact ±1 float32 BLAS product.
Targets: >= 1000x one-at-a-time qonnx, faster than batched qonnx, >= 50 % of the roofline.

    OMP_NUM_THREADS=1 python bench/sim_speed.py [--tfc-batch 10000] [--cnv-batch 100] [--repeat 3]
"""
from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from candle_hw.compile.frontend import qonnx_to_dataflow  # noqa: E402
from candle_hw.compile.ir import MatrixVectorUnit  # noqa: E402
from candle_hw.compile.verify import oracle_model, qonnx_forward, qonnx_forward_batched  # noqa: E402
from candle_hw.sim.functional import run_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def roofline(graph, batch: int, repeat: int) -> tuple[float, float]:
    """Seconds for the graph's matrix products as bare kernels: (bit-packed XNOR-popcount, ±1 float32 BLAS)."""
    rng = np.random.default_rng(0)
    t_bits = t_blas = 0.0
    for m in graph.nodes:
        if not isinstance(m, MatrixVectorUnit):
            continue
        rows = batch * math.prod(m.num_vectors)
        x = rng.choice(np.array([-1, 1], dtype=np.float32), size=(rows, m.mw))
        w = rng.choice(np.array([-1, 1], dtype=np.float32), size=(m.mw, m.mh))
        t_blas += best_of(lambda: x @ w, repeat)
        words = -(-m.mw // 64)
        xb = np.packbits(x > 0, axis=1, bitorder="little")
        xb = np.ascontiguousarray(np.pad(xb, ((0, 0), (0, words * 8 - xb.shape[1])))).view(np.uint64)
        wb = np.packbits(np.ascontiguousarray(w.T) > 0, axis=1, bitorder="little")
        wb = np.ascontiguousarray(np.pad(wb, ((0, 0), (0, words * 8 - wb.shape[1])))).view(np.uint64)
        block = max(1, (1 << 22) // max(1, m.mh * words))

        def popcount():
            out = np.empty((rows, m.mh), dtype=np.int64)
            for i in range(0, rows, block):
                xo = xb[i : i + block, None, :] ^ wb[None, :, :]
                out[i : i + block] = np.bitwise_count(xo).sum(axis=2, dtype=np.int64)
            return out

        t_bits += best_of(popcount, repeat)
    return t_bits, t_blas


def torch_forward_time(preset: str, x: np.ndarray, repeat: int) -> float:
    import torch

    from candle_hw.models import build_model, randomize_bn

    torch.set_num_threads(1)
    model = build_model(preset)
    randomize_bn(model, 0)
    model.eval()
    xt = torch.from_numpy(x)
    with torch.no_grad():
        return best_of(lambda: model(xt), repeat)


def bench_model(label: str, path: Path, x: np.ndarray, preset: str, one_at_a_time: int, batched: bool, repeat: int) -> None:
    graph = qonnx_to_dataflow(path)
    n = len(x)
    run_model(graph, x[:8])  # warm caches
    t_sim = best_of(lambda: run_model(graph, x), repeat)
    oracle = oracle_model(path)
    xs = x[:one_at_a_time]
    t_one = best_of(lambda: qonnx_forward(oracle, xs), 1) / len(xs)
    t_batch = best_of(lambda: qonnx_forward_batched(path, x), 1) / n if batched else float("nan")
    t_torch = torch_forward_time(preset, x, repeat) / n
    t_bits, t_blas = roofline(graph, n, repeat)
    t_roof = min(t_bits, t_blas) / n
    per = t_sim / n
    macs = sum(m.mw * m.mh * math.prod(m.num_vectors) for m in graph.nodes if isinstance(m, MatrixVectorUnit))
    print(f"\n== {label}: {macs:,} binary MAC per frame, batch {n} ==")
    print(f"functional simulator     {per * 1e6:12.2f} us/frame   {macs / per / 1e9:6.2f} G MAC/s")
    print(f"qonnx one at a time      {t_one * 1e6:12.2f} us/frame   ratio sim speed-up {t_one / per:10.1f}x  (target >= 1000x)")
    if batched:
        print(f"qonnx batched            {t_batch * 1e6:12.2f} us/frame   ratio sim speed-up {t_batch / per:10.2f}x  (target > 1x)")
    print(f"brevitas/pytorch forward {t_torch * 1e6:12.2f} us/frame   ratio sim speed-up {t_torch / per:10.2f}x")
    print(f"roofline (bare kernels)  {t_roof * 1e6:12.2f} us/frame   bit-packed {t_bits / n * 1e6:.2f}, BLAS {t_blas / n * 1e6:.2f}"
          f"   simulator at {100 * t_roof / per:5.1f} % of roofline (target >= 50 %)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tfc-batch", type=int, default=10_000)
    ap.add_argument("--cnv-batch", type=int, default=100)
    ap.add_argument("--one-at-a-time", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    tfc = REPO / "tests" / "data" / "TFC_1W1A.onnx"
    bench_model("TFC_1W1A", tfc, rng.random((args.tfc_batch, 1, 28, 28), dtype=np.float32), "tfc",
                args.one_at_a_time, True, args.repeat)
    import torch

    from candle_hw.compile.export import export_qonnx_model
    from candle_hw.models import build_model, randomize_bn

    torch.manual_seed(0)
    model = build_model("cnv_w1a1")
    randomize_bn(model, 0)
    with tempfile.TemporaryDirectory() as d:
        p = export_qonnx_model(model.eval(), Path(d) / "cnv_w1a1.onnx")
        x = rng.integers(0, 256, size=(args.cnv_batch, 3, 32, 32)).astype(np.float32)
        # the exported CNV folds its reshape to batch 1, so qonnx runs it one frame at a time only
        bench_model("CNV-W1A1 (zoo, random BN)", p, x, "cnv_w1a1", min(args.one_at_a_time, 10), False, args.repeat)


if __name__ == "__main__":
    main()
