"""How much the post-hoc adjustment's test accuracy depends on which held-out images chose tau (a diagnostic:
it reads the test set at every tau and for every draw, so nothing it prints may choose a deployed tau).

    python scripts/tau_spread.py STUDENT.pt --config configs/cifar10_lt100.yaml [--draws 10] [--per-class 100]

STUDENT is the *unadjusted* trained student. For draw d = 0 .. DRAWS-1 the held-out set is
``data.holdout_indices(..., seed=data.seed + d)`` (d = 0 is the draw `candle-hw adjust` and `data.holdout` use), tau
is chosen on it by ``posthoc.choose_tau`` (the one-standard-error rule), and the test set is read at that tau. Also
printed: the test accuracy at every tau of the grid, and tau chosen on the union of all draws' images (more
held-out images, a less noisy choice). One JSON object on stdout.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("student")
    p.add_argument("--config", required=True)
    p.add_argument("--draws", type=int, default=10)
    p.add_argument("--per-class", dest="per_class", type=int, default=100)
    a = p.parse_args(argv)
    if a.draws < 1 or a.per_class < 1:
        print(f"tau_spread: --draws {a.draws} / --per-class {a.per_class}: both must be >= 1", file=sys.stderr)
        return 2

    import torch

    from candle_hw.models import load_checkpoint
    from candle_hw.training import posthoc
    from candle_hw.training.config import load_config
    from candle_hw.training.data import SOURCES, holdout_indices
    from candle_hw.training.evaluate import accuracy_report, short_report
    from candle_hw.training.pipeline import load_data, source_kwargs

    cfg = load_config(a.config, {})
    ds = load_data(cfg)
    source, _, _ = SOURCES[cfg.data.dataset][0](**source_kwargs(cfg))
    model = load_checkpoint(a.student)
    if posthoc.is_adjusted(model):
        print(f"tau_spread: {a.student} is already adjusted (it has a LogitBias); give the trained student",
              file=sys.stderr)
        return 2
    scale = posthoc.logit_scale(model)
    counts = ds.class_counts

    draws = [holdout_indices(source.labels, ds.train_indices, a.per_class, ds.seed + d) for d in range(a.draws)]
    pool = np.unique(np.concatenate(draws))
    acc_pool = posthoc.accumulators(model, torch.from_numpy(source.images[pool]))
    acc_test = posthoc.accumulators(model, torch.from_numpy(ds.test.images))

    def test_at(tau: float) -> dict:
        off = posthoc.integer_offsets(counts, tau, scale)
        pred = posthoc.adjusted_logits(acc_test, off, scale).argmax(axis=1)
        return short_report(accuracy_report(pred, ds.test.labels, counts))

    def choose(idx: np.ndarray) -> float:
        return posthoc.choose_tau(acc_pool[np.searchsorted(pool, idx)], source.labels[idx], counts, scale)[0]

    curve = {tau: test_at(tau) for tau in posthoc.TAUS}
    per_draw = []
    for d, idx in enumerate(draws):
        tau = choose(idx)
        per_draw.append({"draw": d, "images": int(len(idx)), "tau": tau, "test": curve[tau]})
    accs = np.array([r["test"]["accuracy"] for r in per_draw])
    tau_union = choose(pool)
    out = {"student": str(a.student), "per_class": a.per_class, "draws": per_draw,
           "test_accuracy": {"min": float(accs.min()), "median": float(np.median(accs)), "max": float(accs.max()),
                             "mean": float(accs.mean()), "std": float(accs.std(ddof=1)) if len(accs) > 1 else 0.0},
           "union": {"images": int(len(pool)), "tau": tau_union, "test": curve[tau_union]},
           "test_by_tau": [{"tau": t, "accuracy": r["accuracy"], "tail": r["tail"]} for t, r in curve.items()]}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
