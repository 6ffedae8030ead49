"""``candle-hw synth BUILD [--target DEVICE]``: Yosys synthesis of BUILD/rtl -> BUILD/reports/synth.json."""
from __future__ import annotations

import argparse
import sys

from candle_hw import cli_types as T
from candle_hw.devices import device_names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("build", help="build directory written by `candle-hw compile` (holds rtl/)")
    parser.add_argument("--target", type=T.device, default="xc7z020",
                        help=f"device or alias (default xc7z020); one of {device_names()}")
    parser.add_argument("--synth-args", default="", help='extra options for the Yosys synth command, e.g. "-abc9"')
    parser.add_argument("--timeout", type=T.timeout_s, default=None, help="seconds allowed for Yosys (default: no limit)")
    parser.add_argument("--force-fit", action="store_true",
                        help="synthesise even if the resource estimate says the design does not fit the device")


def _fmt(block: dict, keys: list[str]) -> str:
    return "  ".join(f"{k} {block.get(k, 0):>6}" for k in keys)


def run(args: argparse.Namespace) -> int:
    from candle_hw.compile.estimate import check_build_fits
    from candle_hw.compile.synth import SynthError, synthesize

    if not args.force_fit:
        check_build_fits(args.build, args.target)
    try:
        r = synthesize(args.build, args.target, extra_args=args.synth_args, timeout=args.timeout)
    except SynthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    keys = [k for k in ("LUT", "FF", "BRAM_18K", "URAM", "EBR", "SPRAM", "DSP", "Carry") if k in r["total"]]
    print(f"{r['target']} ({r['part']}), {r['synth_command']}, {r['runtime_s']} s")
    for name, b in r["blocks"].items():
        lane = f"  LUT/lane {b['LUT_per_lane']}" if "LUT_per_lane" in b else ""
        print(f"  {name:<16} {b['module']:<14} {_fmt(b, keys)}{lane}")
    print(f"  {'total':<16} {'':<14} {_fmt(r['total'], keys)}")
    util = ", ".join(f"{k} {v['percent']}%" for k, v in r["utilisation"].items())
    print(f"utilisation: {util}{'' if r['fits'] else '  (DOES NOT FIT)'}")
    print(f"report: {args.build}/reports/synth.json")
    return 0
