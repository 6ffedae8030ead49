"""`candle-hw compile MODEL.onnx -o BUILD [--target DEVICE] [--fps N | --folding F.json] [--verify]`."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

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
    for line in summary(Path(args.output), args):
        log(line)
    log(f"wrote {args.output} ({len(graph.nodes)} nodes) in {time.perf_counter() - t0:.1f} s")
    return 0


def _folding_source(args: argparse.Namespace) -> str:
    if args.folding is not None:
        return f"from --folding {args.folding}"
    if args.fps == "max":
        return f"--fps max: the fastest folding whose estimate fits {args.target}"
    if args.fps is not None:
        return f"--fps {args.fps:g}: the folding with the fewest estimated LUTs that reaches it on {args.target}"
    return "no --folding/--fps given: PE=SIMD=1 everywhere (smallest design)"


def summary(build: Path, args: argparse.Namespace) -> list[str]:
    """What was chosen and what the estimate predicts, read back from the build's own files."""
    folding = json.loads((build / "folding.json").read_text())
    units = [f"{name} PE {f['pe']} SIMD {f['simd']}" for name, f in folding.items() if "pe" in f and "simd" in f]
    reports = build / "reports"
    cfg = json.loads((reports / "estimate_config.json").read_text())
    perf = json.loads((reports / "estimate_network_performance.json").read_text())
    res = json.loads((reports / "estimate_layer_resources.json").read_text())["total"]
    device = cfg["target"] if args.target else f"{cfg['target']} (no --target: assumed)"
    return [
        f"folding: {_folding_source(args)}: {', '.join(units)}",
        f"estimate on {device} at {cfg['clock_mhz']:g} MHz: {perf['estimated_throughput_fps']:,.0f} FPS "
        f"({perf['max_cycles']:,} cycles/frame, slowest {perf['max_cycles_node_name']}), latency "
        f"{perf['critical_path_cycles']:,} cycles ({perf['estimated_latency_ns'] / 1000:,.1f} us), "
        f"{res['LUT']:,} LUT, {res['BRAM_18K']} BRAM_18K",
    ]
