"""What averaging several trained students would buy (a diagnostic of capacity and variance, not a deployed
model: the compiler has no join of two logit streams, and the test set is read for every subset).

    python scripts/logit_ensemble.py A.pt B.pt [C.pt ...] --config configs/cifar10_lt100.yaml [--per-class 100]

For every subset of the given *unadjusted* students: the test accuracy of the sum of their last-layer integer
accumulators (equal integer weights: what one adder would compute), and the post-hoc adjusted accuracy with tau
chosen by ``posthoc.choose_tau`` on the held-out images that `candle-hw adjust` uses (data.holdout = --per-class),
at the mean of the subset's logit scales. One JSON line per subset on stdout.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys

import numpy as np


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("students", nargs="+")
    p.add_argument("--config", required=True)
    p.add_argument("--per-class", dest="per_class", type=int, default=100)
    a = p.parse_args(argv)
    if a.per_class < 1:
        print(f"logit_ensemble: --per-class {a.per_class}: must be >= 1", file=sys.stderr)
        return 2

    import torch

    from candle_hw.models import load_checkpoint
    from candle_hw.training import posthoc
    from candle_hw.training.config import load_config
    from candle_hw.training.evaluate import accuracy_report
    from candle_hw.training.pipeline import load_data

    ds = load_data(load_config(a.config, {"data.holdout": a.per_class}))
    test, hold = torch.from_numpy(ds.test.images), torch.from_numpy(ds.holdout.images)
    acc = {}
    for path in a.students:
        model = load_checkpoint(path)
        if posthoc.is_adjusted(model):
            print(f"logit_ensemble: {path} is already adjusted (it has a LogitBias); give the trained student",
                  file=sys.stderr)
            return 2
        acc[path] = (posthoc.accumulators(model, test), posthoc.accumulators(model, hold),
                     posthoc.logit_scale(model))
    counts = ds.class_counts
    for r in range(1, len(a.students) + 1):
        for subset in itertools.combinations(a.students, r):
            t = sum(acc[s][0] for s in subset)
            h = sum(acc[s][1] for s in subset)
            scale = float(np.mean([acc[s][2] for s in subset]))
            tau, _ = posthoc.choose_tau(h, ds.holdout.labels, counts, scale)
            off = posthoc.integer_offsets(counts, tau, scale)
            raw = accuracy_report(t.argmax(axis=1), ds.test.labels, counts)
            adj = accuracy_report(posthoc.adjusted_logits(t, off, scale).argmax(axis=1), ds.test.labels, counts)
            print(json.dumps({"students": list(subset), "raw": {k: raw[k] for k in ("accuracy", "tail")},
                              "tau": tau, "adjusted": {k: adj[k] for k in ("accuracy", "tail")}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
