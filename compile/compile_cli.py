"""`candle-hw compile MODEL.onnx -o BUILD [--target DEVICE] [--fps N | --folding F.json] [--verify]`."""
from __future__ import annotations

import argparse
import time

from candle_hw import cli_types as T
from candle_hw.compile.pipeline import STEPS, CompileOptions, compile_model


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="QONNX model (.onnx)")
    p.add_argument("-o", "--output", required=True, help="build directory to write (an existing one is replaced "
                   "only if it is a candle-hw build)")
    p.add_argument("--force", action="store_true", help="replace -o DIR even if it is not a candle-hw build")
    p.add_argument("--target", type=T.device, help="device (e.g. xc7z020, ice40-up5k, ecp5-85k); needed with --fps")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--fps", type=T.fps, help="target frames/s (a number, or 'max' for the fastest design that fits)")
    g.add_argument("--folding", help="folding JSON: a list of {pe, simd} per matrix unit in order, or an object by node name")
    p.add_argument("--clock-mhz", type=T.clock_mhz, default=None,
                   help="clock for throughput figures, in (0, 2000] MHz (default: the device's)")
    p.add_argument("--verify", action="store_true", help="check bit-exactness against QONNX after every step")
    p.add_argument("--verify-samples", type=T.int_range(1, 10_000), default=8,
                   help="random inputs per --verify check, 1..10000")
    p.add_argument("--dump-after", action="append", default=[], choices=STEPS, help="also write the graph after STEP to BUILD/dump/STEP")
    p.add_argument("--no-rtl", action="store_true", help="skip writing BUILD/rtl")
    p.add_argument("-q", "--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    opts = CompileOptions(target=args.target, fps=args.fps, folding=args.folding, clock_mhz=args.clock_mhz,
                          verify=args.verify, verify_samples=args.verify_samples,
                          dump_after=tuple(args.dump_after), emit_rtl=not args.no_rtl)
    t0 = time.perf_counter()
    log = (lambda s: None) if args.quiet else (lambda s: print(f"[compile] {s}", flush=True))
    graph = compile_model(args.model, args.output, opts, log, force=args.force)
    log(f"wrote {args.output} ({len(graph.nodes)} nodes) in {time.perf_counter() - t0:.1f} s")
    return 0
