"""``candle-hw bitstream BUILD --target ice40-up5k|ecp5-25k|ecp5-85k|pynq-z1``: bitstream or Vivado project."""
from __future__ import annotations

import argparse
import sys

from candle_hw import cli_types as T
from candle_hw.compile.board import boards
from candle_hw.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("build", help="build directory written by `candle-hw compile` (holds rtl/)")
    parser.add_argument("--board", choices=sorted(boards()), default=None, help="icebreaker or ulx3s: the network inside the UART host shell on "
                        "the board's pins, flash it and use `candle-hw run`; pynq-z1: a Vivado block design with the "
                        "Zynq PS and an AXI DMA (emitted, not run)")
    parser.add_argument("--target", type=T.device, default=None, help="ice40-up5k, ecp5-25k, ecp5-85k (bitstream) or pynq-z1 / "
                        "another Xilinx device (Vivado project, not run)")
    parser.add_argument("--freq", type=T.clock_mhz, default=None, help="clock constraint in MHz (default: the device's)")
    parser.add_argument("--seed", type=T.seed, default=1, help="placer seed (default 1)")
    parser.add_argument("--force", action="store_true",
                        help="replace BUILD/vivado even if candle-hw did not write it (Xilinx targets)")
    parser.add_argument("--force-fit", action="store_true",
                        help="run the tools even if the resource estimate says the design does not fit the device")
    parser.add_argument("--timeout", type=T.timeout_s, default=None, help="seconds allowed per tool (default: no limit)")


def run(args: argparse.Namespace) -> int:
    from candle_hw.compile.bitstream import make_bitstream
    from candle_hw.compile.estimate import check_build_fits
    from candle_hw.compile.synth import SynthError

    if args.board is not None:
        return run_board(args)
    if args.target is None:
        raise UserError("bitstream: give --target DEVICE or --board icebreaker|ulx3s")
    if not args.force_fit:
        check_build_fits(args.build, args.target)
    try:
        r = make_bitstream(args.build, args.target, freq_mhz=args.freq, seed=args.seed, timeout=args.timeout,
                           force=args.force)
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


def run_board(args: argparse.Namespace) -> int:
    """--board: shell + network bitstream (compile/board_bitstream.py)."""
    from candle_hw.compile.board import get_board
    from candle_hw.compile.board_bitstream import board_bitstream
    from candle_hw.compile.synth import SynthError
    from candle_hw.devices import get_device

    board = get_board(args.board)
    if args.target is not None and get_device(args.target).name != board["device"]:
        raise UserError(f"--target {args.target}: board {args.board} carries {board['device']}")
    if not args.force_fit and board.get("link") != "uart":  # a UART board's check adds the shell's own cost
        from candle_hw.compile.estimate import check_build_fits

        check_build_fits(args.build, board["device"])
    try:
        r = board_bitstream(args.build, args.board, freq_mhz=args.freq, seed=args.seed, timeout=args.timeout,
                            check_fit=not args.force_fit)
    except SynthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not r.get("run", True):
        print(f"Vivado block design for {r['title']} written to {args.build}/{r['vivado_dir']}/: "
              f"{', '.join(r['scripts'])}.")
        print("It was NOT run: Vivado is not available here. To build: " + "; ".join(r["how_to_run"]))
        return 0
    sh, net, whole = r["shell"]["resources_synth"], r["network"]["resources_estimate"], r["design"]["resources_synth"]
    print(f"{r['board']} ({r['title']}): {args.build}/{r['bitstream']} ({r['size_bytes']:,} B), "
          f"build hash {r['shell']['build_hash']}")
    print(f"Fmax {r['fmax_mhz']} MHz (constraint {r['freq_constraint_mhz']:g} MHz, "
          f"{'met' if r['timing_met'] else 'NOT met'})")
    for name, res in (("shell (synthesis)", sh), ("network (estimate)", net), ("whole (synthesis)", whole)):
        mem = f"EBR {res['EBR']:>3}" if "EBR" in res else f"BRAM_18K-eq {res.get('BRAM_18K', 0)}"
        print(f"  {name:19s} LUT {res.get('LUT', 0):>6,}  FF {res.get('FF', 0):>6,}  {mem}")
    print("utilisation: " + ", ".join(f"{k} {v['used']}/{v['available']}" for k, v in r["utilisation"].items()))
    print(f"flash: {r['flash'].replace('BUILD', str(args.build))}")
    print(f"then:  candle-hw run {args.build} --port /dev/ttyUSBn --input X.npy --output Y.npy")
    print(f"report: {args.build}/reports/board_{r['board']}.json")
    return 0
