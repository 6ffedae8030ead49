"""``candle-hw run BUILD --port /dev/ttyUSBn|sim --input X.npy --output Y.npy [--board icebreaker|ulx3s]``.

Inference on a board through its shell (or the whole-system simulation of the same top with ``--port sim``):
the same input and output contract as ``candle-hw simulate``. Prints frames/s against the UART's bound and the
hardware counters (frames done, errors, the interval between completions as the board counted it).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from candle_hw import cli_types as T
from candle_hw.compile.board import boards


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("build", help="build directory (candle-hw compile; flash its `candle-hw bitstream --board` image)")
    p.add_argument("--port", required=True, help="serial port of the board's FTDI UART (e.g. /dev/ttyUSB1) or "
                   "'sim' for the Verilator model of the whole bitstream top")
    p.add_argument("--input", required=True, help="input tensor .npy (N, ...) in the model's layout")
    p.add_argument("--output", required=True, help="where to write the output tensor .npy (an existing file that is "
                   "not .npy is refused)")
    p.add_argument("--force", action="store_true", help="replace --output even if it is not a .npy file")
    p.add_argument("--board", choices=sorted(n for n, b in boards().items() if b["link"] == "uart"), default=None, help="icebreaker or ulx3s (default: the board BUILD's bitstream was "
                   "built for, else icebreaker)")
    p.add_argument("--batch", type=T.int_range(1, 1 << 20), default=256, help="frames per batch (default 256)")
    p.add_argument("--timeout", type=T.timeout_s, default=None, help="seconds to wait for a reply (default: from the "
                   "line rate and the estimated interval)")
    p.add_argument("--retries", type=T.int_range(0, 100), default=5, help="times a frame is sent again before giving up")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def default_board(build: Path) -> str:
    from candle_hw.compile.board import boards

    made = sorted(n for n in (p.stem.removeprefix("board_") for p in (build / "reports").glob("board_*.json"))
                  if boards().get(n, {}).get("link") == "uart")
    return made[0] if len(made) == 1 else "icebreaker"


def run(args: argparse.Namespace) -> int:
    from candle_hw.compile.ir import require_build
    from candle_hw.outdir import check_npy_output, save_npy
    from candle_hw.runtime.driver import Board
    from candle_hw.sim.host import load_input

    build = require_build(args.build)
    check_npy_output(args.output, args.force, input_file=args.input)
    x = load_input(args.input)
    board = args.board or default_board(build)
    with Board(build, args.port, board, timeout=args.timeout, retries=args.retries,
               progress=not args.no_progress) as b:
        y, st = b.execute(x, batch=args.batch)
        info = b.info()
    save_npy(args.output, y, args.force)
    d = np.diff(st.done_cycles)
    where = "simulated board time" if args.port == "sim" else "host clock"
    print(f"[run] {st.frames} frames on {board} ({args.port}) in {st.seconds:.4f} s of {where}: "
          f"{st.fps:.1f} frames/s; UART bound {st.line_bound_fps:.1f} frames/s "
          f"({st.bytes_per_frame} B per frame at {b.board['baud']:,} baud): {100 * st.fps / st.line_bound_fps:.1f} %")
    print(f"[run] hardware counters: frames_done {info.frames_done}, errors {info.errors}"
          + (f", cycles between completions min {d.min()} / median {int(np.median(d))}" if d.size else "")
          + f"; host retries {st.retries}" + (f", error replies {st.error_replies}" if st.error_replies else ""))
    print(f"[run] wrote {args.output} {list(y.shape)}")
    return 0
