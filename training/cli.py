"""``candle-hw train``: CANDLE (calibrate and distill) on long-tailed data, from a YAML config and/or flags.

Writes OUT/NAME/{checkpoint.pt, metrics.json, plots/} and one folder per method of the ablation ladder;
``candle-hw export OUT/NAME/checkpoint.pt -o model.onnx`` turns the student into QONNX.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# nothing here imports torch: the options must parse (and a missing 'train' extra be named) without it
from candle_hw import cli_types as T

# flag -> dotted config key
FLAGS = {"name": "name", "out": "out_dir", "student": "student", "device": "device",
         "dataset": "data.dataset", "rho": "data.rho", "seed": "data.seed", "n_max": "data.n_max",
         "cifar_archive": "data.cifar_archive", "pad": "data.pad",
         "teacher": "teacher.name", "views": "teacher.views", "epochs": "distill.epochs",
         "batch": "distill.batch", "lr": "distill.lr", "calib_epochs": "calibration.epochs",
         "ft_blocks": "finetune.blocks", "ft_epochs": "finetune.epochs", "max_minutes": "distill.max_minutes",
         "fit_minutes": "distill.fit_minutes", "ensemble": "teacher.ensemble",
         "compile": "distill.compile"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML config (see configs/); flags below override it")
    parser.add_argument("--name", type=T.run_name, help="run name: results go to OUT/NAME/")
    parser.add_argument("--out", help="output folder (default runs)")
    parser.add_argument("--student", help="student preset from candle_hw.models.PRESETS (default cnv_w1a1)")
    parser.add_argument("--dataset", help="cifar10 | fashion_mnist | mnist5k | digits")
    parser.add_argument("--rho", type=T.float_range(1.0, 1e4), help="imbalance ratio in [1, 10000] (10 or 100 in the paper)")
    parser.add_argument("--seed", type=T.seed, help="data and training seed")
    parser.add_argument("--n-max", dest="n_max", type=T.int_range(1, 10_000_000), help="images of the head class (default: all)")
    parser.add_argument("--cifar-archive", dest="cifar_archive", help="path of cifar10_jpg.tar.gz")
    parser.add_argument("--pad", type=T.int_range(0, 64), help="random-crop padding in pixels, 0..64")
    parser.add_argument("--teacher", help="efficientnet_lite0 | efficientnet_lite2")
    parser.add_argument("--ensemble", type=lambda text: [n.strip() for n in text.split(",") if n.strip()],
                        help="teachers of the ensemble kind (cd_ens), e.g. efficientnet_lite0,efficientnet_lite2")
    parser.add_argument("--resolutions", type=T.int_list(8, 4096),
                        help="teacher resolutions down,identity,up (e.g. 128,224,480)")
    parser.add_argument("--views", type=T.int_range(1, 1000), help="cached augmented views per image")
    parser.add_argument("--methods", help="comma list of ladder methods (candle_hw.training.distill.METHOD_SPECS)")
    parser.add_argument("--epochs", type=T.int_range(1, 100_000), help="student epochs (paper: 400)")
    parser.add_argument("--batch", type=T.int_range(1, 1_000_000), help="student batch (paper: 256)")
    parser.add_argument("--lr", type=T.float_range(0.0, 10.0, lo_open=True), help="student Adam learning rate")
    parser.add_argument("--calib-epochs", dest="calib_epochs", type=T.int_range(0, 100_000), help="calibration epochs")
    parser.add_argument("--ft-blocks", dest="ft_blocks", type=T.int_range(0, 64), help="teacher blocks fine-tuned (extension)")
    parser.add_argument("--ft-epochs", dest="ft_epochs", type=T.int_range(0, 100_000), help="teacher fine-tuning epochs")
    parser.add_argument("--max-minutes", dest="max_minutes", type=T.float_range(0.0, 1e6, lo_open=True),
                        help="stop each student cleanly after this long (resume continues)")
    parser.add_argument("--fit-minutes", dest="fit_minutes", type=T.float_range(0.0, 1e6, lo_open=True),
                        help="shorten each student (and its cosine schedule) to the epochs that fit this long")
    parser.add_argument("--compile", action="store_true", default=None,
                        help="torch.compile the student's training forward (fewer, fused kernels per step)")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config key, dotted, value in YAML (e.g. finetune.full=true); repeatable")
    parser.add_argument("--device", type=T.torch_device, help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--force", action="store_true",
                        help="write into OUT/NAME even if it exists and is not a candle-hw run folder")
    parser.add_argument("--stage", choices=("all", "teacher", "students", "summary"), default="all",
                        help="which stage of the run to do")
    parser.add_argument("--jobs", type=T.int_range(1, 256), default=1, help="student methods trained in parallel processes")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    parser.add_argument("--no-summary", dest="summary", action="store_false", help=argparse.SUPPRESS)


def parse_settings(items: list[str]) -> dict:
    """--set KEY=VALUE items -> {dotted key: YAML value}; a UserError names a malformed item."""
    import yaml
    from candle_hw.errors import UserError
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set {item!r}: expected KEY=VALUE, e.g. finetune.full=true")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise UserError(f"--set {item!r}: value is not YAML") from None
    return out


def run(args: argparse.Namespace) -> int:
    from candle_hw.training.config import load_config
    from candle_hw.training.pipeline import run_training
    from candle_hw.outdir import claimed_dir
    overrides = {key: getattr(args, flag) for flag, key in FLAGS.items() if getattr(args, flag, None) is not None}
    if args.methods:
        overrides["methods"] = [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.resolutions:
        overrides["teacher.resolutions"] = args.resolutions
    overrides.update(parse_settings(args.settings))
    if not args.progress:
        overrides["progress"] = False
    cfg = load_config(args.config, overrides)
    with claimed_dir(Path(cfg.out_dir) / cfg.name, "train", args.force, "--out/--name"):
        summary = run_training(cfg, stage=args.stage, jobs=args.jobs, summary=args.summary)
    for method, res in summary.get("methods", {}).items():
        print(f"{method:14s} acc {res['accuracy']:6.2f}  head {res['head']:6.2f}  medium {res['medium']:6.2f}  "
              f"tail {res['tail']:6.2f}  ({res['epochs_done']} epochs, {res['train_seconds']:.0f} s)"
              + (f"  agree {res['teacher_test_agreement']:6.2f}" if res.get("teacher_test_agreement") is not None
                 else ""))
        if res.get("posthoc_test"):  # data.holdout > 0: the same student, logit-adjusted post hoc
            adj = res["posthoc_test"]
            print(f"{method + '+adj':14s} acc {adj['accuracy']:6.2f}  head {adj['head']:6.2f}  medium "
                  f"{adj['medium']:6.2f}  tail {adj['tail']:6.2f}  (post-hoc tau {res['posthoc_tau']:.2f})")
    for kind, rep in summary.get("teacher", {}).get("kinds", {}).items():
        if "accuracy" in rep:
            print(f"teacher {kind:8s} acc {rep['accuracy']:6.2f}  head {rep['head']:6.2f}  "
                  f"medium {rep['medium']:6.2f}  tail {rep['tail']:6.2f}")
            for name, m in rep.get("members", {}).items():  # the ensemble's members, each calibrated alone
                print(f"teacher {kind:8s} member {name} acc {m['accuracy']:6.2f}  head {m['head']:6.2f}  "
                      f"medium {m['medium']:6.2f}  tail {m['tail']:6.2f}")
            for f in rep.get("folds", []):  # the cross-fitted teacher's fold teachers, each calibrated alone
                print(f"teacher {kind:8s} fold {f['fold']} acc {f['accuracy']:6.2f}  head {f['head']:6.2f}  "
                      f"medium {f['medium']:6.2f}  tail {f['tail']:6.2f}  (own training views "
                      f"{f['train_view_accuracy_seen']:6.2f})")
            if "out_of_fold_train" in rep:
                oof = rep["out_of_fold_train"]
                print(f"teacher {kind:8s} out-of-fold training views acc {oof['accuracy']:6.2f}  "
                      f"head {oof['head']:6.2f}  medium {oof['medium']:6.2f}  tail {oof['tail']:6.2f}")
            if "train_view0" in rep:  # the blend: its accuracy on the training images it teaches (view 0)
                tv = rep["train_view0"]
                print(f"teacher {kind:8s} blend {rep['blend']:.2f} training views acc {tv['accuracy']:6.2f}  "
                      f"head {tv['head']:6.2f}  medium {tv['medium']:6.2f}  tail {tv['tail']:6.2f}  "
                      f"mean max prob {rep['train_mean_max_prob']:.3f}")
            own = rep.get("finetune", {}).get("own_head")
            if own:  # the fine-tuned network with its own (balanced-softmax) head, before calibration
                print(f"teacher {kind:8s} fine-tuned own head acc {own['accuracy']:6.2f}  head {own['head']:6.2f}  "
                      f"medium {own['medium']:6.2f}  tail {own['tail']:6.2f}  "
                      f"({rep['finetune']['epochs']} epochs, {rep['finetune']['seconds']:.0f} s)")
    if summary:
        print(json.dumps({"run": f"{cfg.out_dir}/{cfg.name}"}))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m candle_hw.training.cli``: the train command alone, without the compiler's imports (qonnx), for
    machines that only train (GPU devices, the parallel method processes)."""
    from candle_hw.errors import UserError
    parser = argparse.ArgumentParser(prog="candle-hw train", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return int(run(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
