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
