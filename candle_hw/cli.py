"""The ``candle-hw`` command: one subcommand per stage, each implemented in the module that owns the stage.

Each subcommand module exposes ``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported
lazily so that, e.g., ``candle-hw compile`` never imports torch.

Exit codes: 0 success, 2 bad input (one line on stderr naming the node/layer and the value), 1 other failure.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from candle_hw.errors import UserError

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "train": ("candle_hw.training.cli", "train a binary student with CANDLE (calibrate and distill)"),
    "export": ("candle_hw.compile.export_cli", "export a trained student checkpoint to QONNX"),
    "compile": ("candle_hw.compile.compile_cli", "compile a QONNX model to a dataflow build (IR, RTL, reports)"),
    "simulate": ("candle_hw.sim.simulate_cli", "run a model or build at functional, cycle or RTL level"),
    "synth": ("candle_hw.compile.synth_cli", "synthesise a build with Yosys and report resources"),
    "bitstream": ("candle_hw.compile.bitstream_cli", "place, route and pack a bitstream (iCE40/ECP5) or emit a Vivado project"),
    "report": ("candle_hw.compile.report_cli", "write reports/report.json and report.html for a build"),
    "demo": ("candle_hw.demo", "the whole flow on built-in data, in minutes"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="candle-hw", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        # The module owns its options; importing it here keeps --help complete. A module whose optional
        # dependencies are missing still gets a subcommand that explains what to install.
        try:
            importlib.import_module(module).add_arguments(p)
        except ImportError as exc:
            p.set_defaults(_import_error=str(exc))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_import_error", None):
        print(f"candle-hw {args.command}: cannot run: {args._import_error}", file=sys.stderr)
        return 2
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
