"""``candle-hw train``: CANDLE (calibrate and distill) on long-tailed data, from a YAML config and/or flags.

Writes OUT/NAME/{checkpoint.pt, metrics.json, plots/} and one folder per method of the ablation ladder;
``candle-hw export OUT/NAME/checkpoint.pt -o model.onnx`` turns the student into QONNX.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from candle_hw.training.distill import METHOD_SPECS

# flag -> dotted config key
FLAGS = {"name": "name", "out": "out_dir", "student": "student", "device": "device",
         "dataset": "data.dataset", "rho": "data.rho", "seed": "data.seed", "n_max": "data.n_max",
         "cifar_archive": "data.cifar_archive", "pad": "data.pad",
         "teacher": "teacher.name", "views": "teacher.views", "epochs": "distill.epochs",
         "batch": "distill.batch", "lr": "distill.lr", "calib_epochs": "calibration.epochs",
         "ft_blocks": "finetune.blocks", "ft_epochs": "finetune.epochs", "max_minutes": "distill.max_minutes",
         "compile": "distill.compile"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML config (see configs/); flags below override it")
    parser.add_argument("--name", help="run name: results go to OUT/NAME/")
    parser.add_argument("--out", help="output folder (default runs)")
    parser.add_argument("--student", help="student preset from candle_hw.models.PRESETS (default cnv_w1a1)")
    parser.add_argument("--dataset", help="cifar10 | fashion_mnist | mnist5k | digits")
    parser.add_argument("--rho", type=float, help="imbalance ratio (10 or 100 in the paper)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--n-max", dest="n_max", type=int, help="images of the head class (default: all)")
    parser.add_argument("--cifar-archive", dest="cifar_archive", help="path of cifar10_jpg.tar.gz")
    parser.add_argument("--pad", type=int, help="random-crop padding in pixels")
    parser.add_argument("--teacher", help="efficientnet_lite0 | efficientnet_lite2")
    parser.add_argument("--resolutions", help="teacher resolutions down,identity,up (e.g. 128,224,480)")
    parser.add_argument("--views", type=int, help="cached augmented views per image")
    parser.add_argument("--methods", help=f"comma list from {','.join(METHOD_SPECS)}")
    parser.add_argument("--epochs", type=int, help="student epochs (paper: 400)")
    parser.add_argument("--batch", type=int, help="student batch (paper: 256)")
    parser.add_argument("--lr", type=float, help="student Adam learning rate")
    parser.add_argument("--calib-epochs", dest="calib_epochs", type=int)
    parser.add_argument("--ft-blocks", dest="ft_blocks", type=int, help="teacher blocks fine-tuned (extension)")
    parser.add_argument("--ft-epochs", dest="ft_epochs", type=int)
    parser.add_argument("--max-minutes", dest="max_minutes", type=float,
                        help="stop each student cleanly after this long (resume continues)")
    parser.add_argument("--compile", action="store_true", default=None,
                        help="torch.compile the student's training forward (fewer, fused kernels per step)")
    parser.add_argument("--device", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--force", action="store_true",
                        help="write into OUT/NAME even if it exists and is not a candle-hw run folder")
    parser.add_argument("--stage", choices=("all", "teacher", "students", "summary"), default="all")
    parser.add_argument("--jobs", type=int, default=1, help="student methods trained in parallel processes")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    parser.add_argument("--no-summary", dest="summary", action="store_false", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from candle_hw.training.config import load_config
    from candle_hw.training.pipeline import run_training
    from candle_hw.outdir import claim_dir
    overrides = {key: getattr(args, flag) for flag, key in FLAGS.items() if getattr(args, flag, None) is not None}
    if args.methods:
        overrides["methods"] = [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.resolutions:
        overrides["teacher.resolutions"] = [int(r) for r in args.resolutions.split(",")]
    if not args.progress:
        overrides["progress"] = False
    cfg = load_config(args.config, overrides)
    claim_dir(Path(cfg.out_dir) / cfg.name, "train", args.force, "--out/--name")
    summary = run_training(cfg, stage=args.stage, jobs=args.jobs, summary=args.summary)
    for method, res in summary.get("methods", {}).items():
        print(f"{method:14s} acc {res['accuracy']:6.2f}  head {res['head']:6.2f}  medium {res['medium']:6.2f}  "
              f"tail {res['tail']:6.2f}  ({res['epochs_done']} epochs, {res['train_seconds']:.0f} s)")
    for kind, rep in summary.get("teacher", {}).get("kinds", {}).items():
        if "accuracy" in rep:
            print(f"teacher {kind:8s} acc {rep['accuracy']:6.2f}  head {rep['head']:6.2f}  "
                  f"medium {rep['medium']:6.2f}  tail {rep['tail']:6.2f}")
    if summary:
        print(json.dumps({"run": f"{cfg.out_dir}/{cfg.name}"}))
    return 0
