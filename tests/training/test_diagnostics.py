"""The student diagnostics' train-view figures: pooled over images and class-balanced, for the student and its
teacher, against hand counts on a long-tailed toy set where the two differ."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from candle_hw.training.evaluate import student_diagnostics


class PixelClass(torch.nn.Module):
    """Predicts the class written in an image's first pixel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(x[:, 0, 0, 0].long(), 3).float()


def test_train_view_accuracy_pooled_and_balanced():
    # class 0: 8 images, all right; class 1: 4 images, 2 right; class 2: 2 images, 0 right
    labels = np.array([0] * 8 + [1] * 4 + [2] * 2)
    written = np.array([0] * 8 + [1, 1, 0, 0] + [1, 0])
    images = torch.zeros((len(labels), 3, 2, 2), dtype=torch.uint8)
    images[:, 0, 0, 0] = torch.from_numpy(written)
    counts = np.bincount(labels)
    # the teacher: right on every image of class 0 and 2, on 1 of class 1's 4
    teacher = np.array([0] * 8 + [1, 0, 0, 0] + [2, 2])
    t_logits = torch.nn.functional.one_hot(torch.from_numpy(teacher), 3).float()
    test_labels = np.array([0, 1, 2])
    diag = student_diagnostics(PixelClass(), images, labels, test_labels, test_labels, counts, t_logits,
                               test_labels)
    assert diag["train_view_accuracy"] == pytest.approx(100.0 * 10 / 14)
    assert diag["train_view_balanced"] == pytest.approx(100.0 * (1.0 + 0.5 + 0.0) / 3)
    assert diag["train_view_per_class"] == pytest.approx([100.0, 50.0, 0.0])
    assert diag["teacher_train_view_accuracy"] == pytest.approx(100.0 * 11 / 14)
    assert diag["teacher_train_view_balanced"] == pytest.approx(100.0 * (1.0 + 0.25 + 1.0) / 3)


def test_run_summary_reads_diagnostics_recorded_before_the_balanced_figure():
    from candle_hw.training.pipeline import _agreement_summary
    old = {"train_view_accuracy": 90.0, "train_view_per_class": [90.0], "teacher_test_agreement": None,
           "teacher_train_agreement": None}
    assert _agreement_summary(old)["train_view_balanced"] is None
    assert _agreement_summary({**old, "train_view_balanced": 80.0})["train_view_balanced"] == 80.0
