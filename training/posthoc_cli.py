"""``candle-hw adjust STUDENT --config CFG -o OUT``: post-hoc logit adjustment of a trained student.

Chooses tau on held-out training images that the LT subset of CFG's data left out, writes the student with
its per-class integer offsets to OUT (.pt checkpoint or packed .npz; both compile like any student), and prints
one JSON object: tau, the offsets, the held-out table and the test accuracy before and after
(``candle_hw.training.posthoc``).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from candle_hw import cli_types as T

SUFFIXES = (".pt", ".npz")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("student", metavar="STUDENT", type=Path,
                        help="trained student: a checkpoint of `candle-hw train` or a packed .npz")
    parser.add_argument("--config", required=True,
                        help="the training config of STUDENT (its data section gives the LT set and the prior)")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, as for `candle-hw train`")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="adjusted student to write (.pt checkpoint or packed .npz); never overwritten")
    parser.add_argument("--per-class", dest="per_class", type=T.int_range(1, 100_000), default=100,
                        help="held-out images per class (left-out training images; fewer where fewer exist)")


def run(args: argparse.Namespace) -> int:
    import torch

    from candle_hw.errors import UserError
    from candle_hw.models import load_checkpoint, save_checkpoint
    from candle_hw.models.packed import save_packed
    from candle_hw.training.cli import parse_settings
    from candle_hw.training.config import load_config
    from candle_hw.training.evaluate import accuracy_report, predict, short_report
    from candle_hw.training.pipeline import load_data
    from candle_hw.training.posthoc import adjust

    out = args.output
    if out.suffix not in SUFFIXES:
        raise UserError(f"-o {out}: suffix must be one of {'/'.join(SUFFIXES)}")
    if out.exists():
        raise UserError(f"-o {out}: exists; not overwritten (choose a new name)")
    cfg = load_config(args.config, {**parse_settings(args.settings), "data.holdout": args.per_class})
    model = load_checkpoint(args.student)
    ds = load_data(cfg)
    if model.num_classes != ds.num_classes:
        raise UserError(f"student {args.student}: {model.num_classes} classes, but {cfg.data.dataset} has "
                        f"{ds.num_classes}")
    adjusted, info = adjust(model, torch.from_numpy(ds.holdout.images), ds.holdout.labels, ds.class_counts)
    test = torch.from_numpy(ds.test.images)
    info["test_before"] = short_report(accuracy_report(predict(model, test), ds.test.labels, ds.class_counts))
    info["test_after"] = short_report(accuracy_report(predict(adjusted, test), ds.test.labels, ds.class_counts))
    info["data"] = {"dataset": ds.name, "rho": ds.rho, "seed": ds.seed,
                    "construction_sha256": ds.construction_hash}
    posthoc = {k: info[k] for k in ("tau", "rule", "offsets", "logit_scale", "holdout", "data")}
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        save_packed(adjusted, out, posthoc=posthoc)
    else:
        tmp = out.with_name(out.name + ".tmp")
        save_checkpoint(adjusted, tmp, posthoc=posthoc)
        tmp.replace(out)
    print(json.dumps(info))
    return 0

