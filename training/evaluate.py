"""Accuracy on the balanced test set: average, per class, head/medium/tail thirds and many/medium/few-shot."""
from __future__ import annotations

import numpy as np
import torch

from candle_hw.training.data import GROUP_RULE, class_groups


def accuracy_report(pred: np.ndarray, labels: np.ndarray, class_counts: np.ndarray) -> dict:
    """Percentages; a group's accuracy is the mean of its classes' accuracies (equal to the pooled accuracy on
    a balanced test set). Groups without classes report None."""
    pred, labels = np.asarray(pred), np.asarray(labels)
    num_classes = len(class_counts)
    per_class = []
    for c in range(num_classes):
        mask = labels == c
        per_class.append(float(100.0 * (pred[mask] == c).mean()) if mask.any() else float("nan"))
    per_class_arr = np.array(per_class)
    report = {"accuracy": float(100.0 * (pred == labels).mean()), "per_class": per_class}
    groups = class_groups(class_counts)
    for name, members in groups.items():
        report[name] = float(np.nanmean(per_class_arr[members])) if members else None
    report["groups"] = groups
    report["group_rule"] = GROUP_RULE
    return report


# what a post-hoc record keeps of a test report (metrics.json `posthoc`, `candle-hw adjust`'s JSON)
SHORT_KEYS = ("accuracy", "head", "medium", "tail", "per_class")


def short_report(report: dict) -> dict:
    return {k: report[k] for k in SHORT_KEYS}


def student_input(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """uint8 images -> what the student takes: pixel values 0..255 (8-bit input) or x in [0, 1] (1-bit input)."""
    x = images.float()
    return x if getattr(model, "input_bits", 8) == 8 else x / 255.0


@torch.no_grad()
def predict(model: torch.nn.Module, images: torch.Tensor, batch: int = 1000) -> np.ndarray:
    """Arg-max predictions of the student (eval mode) on uint8 images already on the model's device."""
    was_training = model.training
    model.eval()
    out = [model(student_input(model, images[s:s + batch])).argmax(dim=1) for s in range(0, len(images), batch)]
    model.train(was_training)
    return torch.cat(out).cpu().numpy()


def classifier_weight_norms(model: torch.nn.Module) -> list[float]:
    """L2 norm per class of the last linear layer's latent (real-valued) weights, as in the paper's Fig. 4."""
    last = None
    for module in model.classifier.modules():
        if hasattr(module, "weight") and getattr(module, "weight") is not None and module.weight.dim() == 2:
            last = module
    if last is None:
        return []
    return [float(v) for v in last.weight.detach().float().norm(dim=1).cpu()]


def agreement(pred_a: np.ndarray, pred_b: np.ndarray, labels: np.ndarray, num_classes: int) -> dict:
    """How often two classifiers pick the same class, in %: overall and per true class (balanced mean too)."""
    same = np.asarray(pred_a) == np.asarray(pred_b)
    labels = np.asarray(labels)
    per_class = [float(100.0 * same[labels == c].mean()) if (labels == c).any() else float("nan")
                 for c in range(num_classes)]
    return {"agreement": float(100.0 * same.mean()), "balanced_agreement": float(np.nanmean(per_class)),
            "per_class_agreement": per_class}


def student_diagnostics(model: torch.nn.Module, train_view0: torch.Tensor, train_labels: np.ndarray,
                        test_pred: np.ndarray, test_labels: np.ndarray, class_counts: np.ndarray,
                        teacher_train_logits: torch.Tensor | None, teacher_test_pred: np.ndarray | None) -> dict:
    """What limits a student: its accuracy on its own (un-augmented) training images against the test set, and
    its agreement with its teacher on both (None where the method has no teacher classifier)."""
    train_pred = predict(model, train_view0)
    train = accuracy_report(train_pred, train_labels, class_counts)
    # On a long-tailed training set the pooled figure is mostly the head's; the balanced one weighs each class
    # once, as the test accuracy does.
    out = {"train_view_accuracy": train["accuracy"], "train_view_balanced": _balanced(train),
           "train_view_per_class": train["per_class"], "teacher_test_agreement": None,
           "teacher_train_agreement": None}
    num_classes = len(class_counts)
    if teacher_test_pred is not None:
        out["teacher_test_agreement"] = agreement(test_pred, teacher_test_pred, test_labels, num_classes)
    if teacher_train_logits is not None:
        t_train = teacher_train_logits.argmax(dim=-1).cpu().numpy()
        out["teacher_train_agreement"] = agreement(train_pred, t_train, train_labels, num_classes)
        t_report = accuracy_report(t_train, train_labels, class_counts)
        out["teacher_train_view_accuracy"] = t_report["accuracy"]
        out["teacher_train_view_balanced"] = _balanced(t_report)
    return out


def _balanced(report: dict) -> float:
    """An accuracy_report's mean over the classes present (a class without images has no accuracy)."""
    return float(np.nanmean(report["per_class"]))
