"""One compiled build through Verilator and the cycle simulator on the same frames, both against qonnx.

    python scripts/rtl_vs_cycle.py MODEL.onnx BUILD [--frames 3] [--seed 1] [--stall 0 0.3] [--input X.npy]

Draws ``--frames`` random 8-bit images (0..255, the zoo's CNV-family input domain), or takes the first ``--frames``
of ``--input`` (real images, in the model's input layout), runs qonnx ``execute_onnx``
on MODEL.onnx, the cycle simulator on BUILD and, per ``--stall`` probability, Verilator on BUILD's rtl/
(``simulate_rtl``; the C++ model is built once per build and reused). Prints for each level whether the model
output equals qonnx's bit for bit, and the RTL's latency, interval and per-frame completion cycles beside the
cycle simulator's. The cycle simulator models a stall-free environment: with stalls only the outputs are
expected to agree, the timing shifts by the cycles the stalls cost.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    from candle_hw.compile.pipeline import load_graph
    from candle_hw.compile.verify import oracle_model, qonnx_forward
    from candle_hw.sim.cosim.rtlsim import simulate_rtl
    from candle_hw.sim.cycle import simulate_cycle
    from candle_hw.sim.host import run_epilogue, run_prologue

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("build", type=Path)
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stall", type=float, nargs="+", default=[0.0, 0.3])
    ap.add_argument("--input", type=Path, help="frames from this .npy (N, *input shape) instead of random images")
    args = ap.parse_args(argv)

    graph = load_graph(args.build)
    shape = graph.model_input_shape[1:]
    if args.input is None:
        x = np.random.default_rng(args.seed).integers(0, 256, size=(args.frames, *shape)).astype(np.float32)
    else:
        x = np.load(args.input)[:args.frames].astype(np.float32)
        if x.shape[1:] != tuple(shape) or len(x) != args.frames:
            ap.error(f"--input {args.input}: shape {x.shape}, need ({args.frames}, {', '.join(map(str, shape))})")
    t = time.monotonic()
    ref = qonnx_forward(oracle_model(str(args.model)), x)
    print(f"qonnx: {args.frames} frames in {time.monotonic() - t:.1f} s")
    frames = run_prologue(graph, x)

    def model_output(words: np.ndarray) -> np.ndarray:
        return run_epilogue(graph, np.asarray(words).reshape(len(words), *graph.output_stream.shape)).reshape(ref.shape)

    t = time.monotonic()
    cyc = simulate_cycle(graph, frames)
    same = cyc.mismatch is None and np.array_equal(model_output(cyc.outputs), ref)
    print(f"cycle: {time.monotonic() - t:.1f} s, == qonnx {same}; latency {cyc.latency_cycles}, interval "
          f"{cyc.mean_interval_cycles}, completions {[int(c) for c in cyc.frame_done_cycles]}")
    failed = not same
    for stall in args.stall:
        res = simulate_rtl(args.build, frames, in_valid_prob=1.0 - stall, out_ready_prob=1.0 - stall, seed=args.seed)
        complete = res.n_frames == args.frames
        diff = int(np.sum(model_output(res.outputs) != ref)) if complete else None
        # the integer stream words themselves, before the host epilogue turns them into floats
        words = complete and np.array_equal(np.asarray(res.outputs).ravel(), np.asarray(cyc.outputs).ravel())
        timing = res.latency_cycles == cyc.latency_cycles and list(res.frame_done_cycles) == [
            int(c) for c in cyc.frame_done_cycles]
        print(f"rtl stall {stall}: Verilator {res.report['RUNTIME_S']} s, {res.cycles} cycles "
              f"({res.report['sim_cycles_per_s']} cycles/s); {res.n_frames}/{args.frames} frames, "
              f"values differing from qonnx: {diff}, output words == the cycle simulator's: {words}; "
              f"latency {res.latency_cycles}, interval {res.interval_cycles}, "
              f"completions {list(res.frame_done_cycles)}; timing equal to the cycle simulator: {timing}")
        failed |= diff != 0 or not words or (stall == 0.0 and not timing)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
