"""``candle-hw bitstream BUILD --target ice40-up5k|ecp5-25k|ecp5-85k|pynq-z1``: bitstream or Vivado project."""
from __future__ import annotations

import argparse
import sys

from candle_hw import cli_types as T


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("build", help="build directory written by `candle-hw compile` (holds rtl/)")
    parser.add_argument("--target", type=T.device, required=True, help="ice40-up5k, ecp5-25k, ecp5-85k (bitstream) or pynq-z1 / "
                        "another Xilinx device (Vivado project, not run)")
    parser.add_argument("--freq", type=T.clock_mhz, default=None, help="clock constraint in MHz (default: the device's)")
    parser.add_argument("--seed", type=T.seed, default=1, help="placer seed (default 1)")
    parser.add_argument("--timeout", type=T.timeout_s, default=None, help="seconds allowed per tool (default: no limit)")


def run(args: argparse.Namespace) -> int:
    from candle_hw.compile.bitstream import make_bitstream
    from candle_hw.compile.synth import SynthError

    try:
        r = make_bitstream(args.build, args.target, freq_mhz=args.freq, seed=args.seed, timeout=args.timeout)
    except SynthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not r.get("run", True):
        print(f"Vivado project for {r['target']} ({r['part']}) written to {args.build}/vivado/: "
              f"{', '.join(r['scripts'])}.")
        print("It was NOT run: Vivado is not available here. To build: " + "; ".join(r["how_to_run"]))
        return 0
    met = "met" if r["timing_met"] else "NOT met"
    print(f"{r['target']} ({r['part']} {r['package']}, {r['board']}): {args.build}/{r['bitstream']} "
          f"({r['size_bytes']:,} B)")
    print(f"Fmax {r['fmax_mhz']} MHz (constraint {r['freq_constraint_mhz']:g} MHz, {met})")
    print("utilisation: " + ", ".join(f"{k} {v['used']}/{v['available']}" for k, v in r["utilisation"].items()))
    print(f"report: {args.build}/reports/bitstream_{r['target']}.json")
    return 0
