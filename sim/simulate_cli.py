"""`candle-hw simulate MODEL.onnx|BUILD --input X.npy --output Y.npy [--level functional|cycle|rtl]`.

Input: the model's input tensor (NCHW, the values QONNX execution takes), any batch size. Output: the model's
output tensor as QONNX computes it (integers where the graph ends in integers).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from candle_hw import cli_types as T
from candle_hw.errors import UserError
from candle_hw.outdir import check_npy_output, save_npy

LEVELS = ("functional", "cycle", "rtl")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="QONNX model (.onnx) or build directory")
    p.add_argument("--input", required=True, help="input tensor .npy (N, ...) in the model's layout")
    p.add_argument("--output", required=True, help="where to write the output tensor .npy (an existing file that is "
                   "not .npy is refused)")
    p.add_argument("--force", action="store_true", help="replace --output even if it is not a .npy file")
    p.add_argument("--level", choices=LEVELS, default="functional", help="simulation level")
    p.add_argument("--seed", type=T.seed, default=0, help="seed for random stalls (rtl level)")
    p.add_argument("--stall", type=T.stall_probability, default=0.0,
                   help="probability in [0, 1) of an input/output stall per cycle (rtl level)")


def run(args: argparse.Namespace) -> int:
    from candle_hw.compile.pipeline import load_graph
    from candle_hw.sim.functional import run_dataflow
    from candle_hw.sim.host import load_input, run_epilogue, run_prologue

    src = Path(args.source)
    if not src.exists():
        raise UserError(f"{args.source}: no such model file or build directory")
    if args.level == "rtl" and not src.is_dir():
        raise UserError(f"{args.source}: --level rtl needs a build directory (run `candle-hw compile` first)")
    check_npy_output(args.output, args.force, input_file=args.input)
    graph = load_graph(src)
    x = load_input(args.input)
    frames = run_prologue(graph, x)
    if args.level == "functional":
        y = run_dataflow(graph, frames)
    elif args.level == "cycle":
        from candle_hw.sim.cycle import simulate_cycle

        res = simulate_cycle(graph, frames)
        if res.mismatch is not None:
            print(f"error: the cycle simulator's words differ from the functional simulator: {res.mismatch}",
                  file=sys.stderr)
            return 1
        y = res.outputs
        print(f"[cycle] every block's words equal the functional simulator's on {len(frames)} frames; "
              f"interval {res.interval_cycles} cycles, latency {res.latency_cycles} cycles")
    else:
        from candle_hw.sim.cosim.rtlsim import first_mismatch, simulate_rtl

        res = simulate_rtl(src, frames, in_valid_prob=1.0 - args.stall, out_ready_prob=1.0 - args.stall, seed=args.seed)
        y = res.outputs
        ref = run_dataflow(graph, frames)
        if not np.array_equal(np.asarray(y).reshape(ref.shape), ref):
            msg = first_mismatch(graph, frames, y, build_dir=src)
            print(f"error: RTL differs from the functional simulator: {msg}", file=sys.stderr)
            return 1
        print(f"[rtl] bit-exact on {len(frames)} frames; interval {res.interval_cycles} cycles, latency {res.latency_cycles} cycles")
    out = run_epilogue(graph, np.asarray(y).reshape(len(frames), *graph.output_stream.shape))
    save_npy(args.output, out, args.force)
    print(f"[{args.level}] wrote {args.output}: {out.dtype} array of shape {list(out.shape)} ({len(frames)} frames)")
    return 0
