"""``candle-hw export CHECKPOINT -o model.onnx``: trained student checkpoint -> QONNX file."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from candle_hw import cli_types as T
from candle_hw.errors import UserError
from candle_hw.outdir import check_output_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="CHECKPOINT", type=Path,
                        help="checkpoint written by `candle-hw train` ({'arch', 'state_dict', ...})")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="QONNX file to write (default: CHECKPOINT with suffix .onnx)")
    parser.add_argument("--force", action="store_true", help="replace --output even if it is not an .onnx file")
    parser.add_argument("--batch", type=T.int_range(1, 65_536), default=1,
                        help="batch size fixed in the exported input shape (default 1)")


def run(args: argparse.Namespace) -> int:
    # torch/brevitas are imported here, not at module level, so `candle-hw --help` stays fast.
    from candle_hw.compile.export import export_qonnx_model
    from candle_hw.models import load_checkpoint

    model = load_checkpoint(args.checkpoint)
    output = args.output if args.output is not None else args.checkpoint.with_suffix(".onnx")
    if output.is_dir():
        raise UserError(f"--output {output} is a directory; give a file name such as {output / 'model.onnx'}")
    check_output_file(output, args.force, "--output", suffixes=(".onnx",))
    start = time.perf_counter()
    path = export_qonnx_model(model, output, input_shape=(args.batch, *model.input_shape))
    print(f"exported {model.arch['family']} {tuple(model.input_shape)} -> {path} "
          f"({time.perf_counter() - start:.2f} s)")
    return 0
