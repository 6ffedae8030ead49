"""A trained CIFAR-10 student, end to end: PyTorch checkpoint vs the compiled build's functional simulator vs qonnx
execute_onnx, on the balanced CIFAR-10 test set, logits compared bit for bit.

    candle-hw export student.pt -o student.onnx
    candle-hw compile student.onnx -o build --target xc7z020 --fps 3000 --verify
    python scripts/check_student.py student.pt student.onnx build [--qonnx 10000] [--images 10000]

Prints one JSON object: accuracy through each path, the number of images whose logits differ between paths
(must be 0), and the build's estimated throughput and resources. Exit code 1 on any mismatch.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint")
    p.add_argument("onnx")
    p.add_argument("build")
    p.add_argument("--qonnx", type=int, default=10000, help="test images also run through qonnx (random subset)")
    p.add_argument("--batch", type=int, default=500, help="images per PyTorch / qonnx call")
    p.add_argument("--images", type=int, default=10000,
                   help="test images for every path: a seeded random subset when fewer than 10,000 (CPU time)")
    a = p.parse_args(argv)

    from candle_hw.compile.verify import qonnx_forward_batched
    from candle_hw.models import load_checkpoint
    from candle_hw.compile.pipeline import load_graph
    from candle_hw.sim.functional import run_model
    from candle_hw.training.data import load_cifar10

    _, test, _ = load_cifar10()
    x, y = test.images.astype(np.float32), test.labels
    if a.images < len(y):  # its own seed: the qonnx subset below is then drawn from these images
        keep = np.sort(np.random.default_rng(1).choice(len(y), a.images, replace=False))
        x, y = x[keep], y[keep]
    model = load_checkpoint(a.checkpoint)
    t0 = time.perf_counter()
    with torch.no_grad():
        pt = torch.cat([model(torch.from_numpy(x[i:i + a.batch])) for i in range(0, len(x), a.batch)]).numpy()
    t_pt = time.perf_counter() - t0
    graph = load_graph(a.build)
    t0 = time.perf_counter()
    sim = run_model(graph, x).astype(np.float32)  # the simulator bounds its own memory (chunks)
    t_sim = time.perf_counter() - t0
    idx = np.sort(np.random.default_rng(0).choice(len(x), min(a.qonnx, len(x)), replace=False))
    t0 = time.perf_counter()
    q = np.concatenate([qonnx_forward_batched(a.onnx, x[idx[i:i + a.batch]]) for i in range(0, len(idx), a.batch)])
    q = q.astype(np.float32)
    t_q = time.perf_counter() - t0

    def differ(u: np.ndarray, v: np.ndarray) -> int:
        return int((u.view(np.uint32) != v.view(np.uint32)).any(axis=1).sum())

    reports = Path(a.build) / "reports"
    perf = json.loads((reports / "estimate_network_performance.json").read_text())
    res = json.loads((reports / "estimate_layer_resources.json").read_text())
    out = {"checkpoint": a.checkpoint, "arch": model.arch, "test_images": len(y),
           "accuracy": {"pytorch": float((pt.argmax(1) == y).mean() * 100),
                        "simulator": float((sim.argmax(1) == y).mean() * 100),
                        "qonnx_subset": float((q.argmax(1) == y[idx]).mean() * 100)},
           "images_differing": {"simulator_vs_pytorch": differ(sim, pt), "qonnx_vs_simulator": differ(q, sim[idx]),
                                "qonnx_images": len(idx)},
           "seconds": {"pytorch": round(t_pt, 1), "simulator": round(t_sim, 1), "qonnx": round(t_q, 1)},
           "estimate": {"fps": perf["estimated_throughput_fps"], "latency_ns": perf["estimated_latency_ns"],
                        **res.get("total", {})}}
    print(json.dumps(out, indent=1))
    return 1 if out["images_differing"]["simulator_vs_pytorch"] or out["images_differing"]["qonnx_vs_simulator"] else 0


if __name__ == "__main__":
    sys.exit(main())
