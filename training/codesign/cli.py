"""``candle-hw codesign --config C.yaml --out DIR [--n-workers N | --scheduler ADDRESS] [--stage train]
[--minutes M]``.

Trains, exports, compiles and folds every student variant of the config for each target (device, FPS), marks
the accuracy-vs-LUT and tail-accuracy-vs-LUT Pareto fronts, synthesises the front with Yosys, and writes
DIR/pareto.json and DIR/pareto.html. Rerunning with the same DIR resumes: trained candidates are reused.
"""
from __future__ import annotations

import argparse
import re

from candle_hw import cli_types as T
from candle_hw.errors import UserError
from candle_hw.training.codesign.space import STAGES

ADDRESS = re.compile(r"^([a-z]+://)?[\w.\-\[\]:]+:\d+$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="codesign YAML (see configs/codesign_*.yaml)")
    parser.add_argument("--out", required=True, help="output folder (new, empty, or an earlier codesign run's)")
    parser.add_argument("--n-workers", dest="n_workers", type=T.int_range(1, 1024), default=None,
                        help="worker processes of the local Dask cluster (default: the config's n_workers, 2)")
    parser.add_argument("--scheduler", default=None,
                        help="address of an existing Dask scheduler (tcp://HOST:PORT) instead of a local cluster")
    parser.add_argument("--force", action="store_true",
                        help="write into OUT even if it exists and is not a candle-hw output folder")
    parser.add_argument("--stage", choices=STAGES, default="all",
                        help="train: stop after training the candidates (a GPU machine without the compiler); "
                             "the same command without --stage, with the same --out, finishes the search")
    parser.add_argument("--minutes", type=T.float_range(0.0, 1e6, lo_open=True), default=None,
                        help="time box for training: each candidate fits its schedule to what is left and stops "
                             "cleanly at the end; a rerun resumes the unfinished ones")
    parser.add_argument("--no-synth", dest="synth", action="store_false", default=None,
                        help="skip Yosys synthesis of the front")


def run(args: argparse.Namespace) -> int:
    from candle_hw.training.codesign.run import format_summary, run_codesign
    from candle_hw.training.codesign.space import load_codesign_config
    if args.n_workers is not None and args.scheduler is not None:
        raise UserError("--n-workers: only for the local cluster, not with --scheduler")
    if args.scheduler is not None and not ADDRESS.match(args.scheduler):
        raise UserError(f"--scheduler {args.scheduler!r}: expected an address such as tcp://HOST:8786")
    cfg = load_codesign_config(args.config)
    if args.synth is False:
        cfg.synth = False
    summary = run_codesign(cfg, args.out, args.scheduler, args.n_workers, force=args.force, stage=args.stage,
                           minutes=args.minutes)
    print(format_summary(summary))
    if args.stage == "train":
        print(f"wrote {args.out}/run.json (trained candidates under {args.out}/candidates)")
    else:
        print(f"wrote {args.out}/pareto.json and {args.out}/pareto.html")
    return 0


if __name__ == "__main__":
    # `python -m candle_hw.training.codesign.cli ... --stage train` on a GPU machine without the compiler, whose
    # modules `candle-hw` itself imports to build its parser
    import sys
    parser = argparse.ArgumentParser(prog="candle-hw codesign")
    add_arguments(parser)
    try:
        sys.exit(run(parser.parse_args()))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
