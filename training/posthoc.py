"""Post-hoc logit adjustment of a trained student (extension; Menon et al., "Long-tail learning via logit
adjustment", ICLR 2021): predict arg max_y f_y(x) - tau * log pi_y, with pi the LT training set's class prior.
A student that learned the LT posterior (from the labels, or from a teacher that carries the prior) then moves
its decisions towards the balanced-error optimum; tau = 1 is that optimum for a calibrated posterior, and
students distilled from a calibrated teacher are not one, so tau is chosen on data.

Deployed, not simulated: the shift becomes integer offsets on the last layer's accumulator (``LogitBias``, before
``LogitScale``), so the compiled design computes exactly the adjusted logits and the argmax it reports.
tau is chosen on held-out images of the source's training set that the LT subset left out
(``data.holdout_indices``; none of a class that the LT subset took whole), by the one-standard-error rule
(``choose_tau``), never on the test set; the test set is evaluated once, before and at the chosen tau.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from candle_hw.errors import UserError
from candle_hw.models import build_model
from candle_hw.models.quant import LogitBias, LogitScale, is_binary_layer
from candle_hw.training.evaluate import student_input

TAUS = tuple(round(0.05 * i, 2) for i in range(31))  # 0 .. 1.5


def _classifier_parts(model: nn.Module) -> tuple[nn.Module, float]:
    """The last quantized layer of ``model`` (its output is the integer accumulator) and the logit scale after
    it (1 without a LogitScale)."""
    layers = [m for m in model.modules() if is_binary_layer(m)]
    scales = [m for m in model.modules() if isinstance(m, LogitScale)]
    if not layers:
        raise UserError(f"student {model.arch.get('family')}: no quantized layer, nothing to adjust")
    scale = float(scales[-1].scale.detach().abs()) if scales else 1.0
    return layers[-1], scale


def logit_scale(model: nn.Module) -> float:
    """The scale from the last layer's integer accumulator to the student's logits (1 without a LogitScale)."""
    return _classifier_parts(model)[1]


def is_adjusted(model: nn.Module) -> bool:
    """Whether ``model`` already carries post-hoc offsets (a LogitBias)."""
    return any(isinstance(m, LogitBias) for m in model.modules())


@torch.no_grad()
def accumulators(model: nn.Module, images: torch.Tensor, batch: int = 1000) -> np.ndarray:
    """(N, classes) int64: the last layer's integer dot products on uint8 ``images`` (before any offset)."""
    last, _ = _classifier_parts(model)
    out: list[torch.Tensor] = []
    handle = last.register_forward_hook(lambda _m, _i, o: out.append(o.detach().float().cpu()))
    was_training = model.training
    model.eval()
    try:
        for s in range(0, len(images), batch):
            model(student_input(model, images[s:s + batch]))
    finally:
        handle.remove()
        model.train(was_training)
    acc = torch.cat(out).double().numpy()
    rounded = np.rint(acc)
    if not np.array_equal(acc, rounded):
        raise UserError("student: its last layer's outputs are not integers; post-hoc offsets need an integer "
                        "accumulator (a quantized last layer with integer inputs)")
    return rounded.astype(np.int64)


def integer_offsets(class_counts: np.ndarray, tau: float, scale: float) -> np.ndarray:
    """Per-class integer offsets, in accumulator units, that subtract tau * log prior from the logits (centred,
    which leaves every arg max as it is and keeps the offsets small); rounding moves each by < scale / 2."""
    log_prior = np.log(np.asarray(class_counts, dtype=np.float64))
    return np.rint(-float(tau) * (log_prior - log_prior.mean()) / float(scale)).astype(np.int64)


def adjusted_logits(acc: np.ndarray, offsets: np.ndarray, scale: float) -> np.ndarray:
    """What the adjusted student outputs, in its own float32 operations: (acc + offset) * scale."""
    return (acc.astype(np.float32) + offsets.astype(np.float32)) * np.float32(scale)


def balanced_accuracy(pred: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Mean over the classes present in ``labels`` of each class's accuracy, and its binomial standard error
    (sqrt(sum_c a_c (1 - a_c) / n_c) / C), both in percent."""
    classes = np.unique(labels)
    a = np.array([(pred[labels == c] == c).mean() for c in classes])
    n = np.array([(labels == c).sum() for c in classes])
    return float(100.0 * a.mean()), float(100.0 * np.sqrt((a * (1 - a) / n).sum()) / len(classes))


def choose_tau(acc: np.ndarray, labels: np.ndarray, class_counts: np.ndarray, scale: float,
               taus: tuple[float, ...] = TAUS) -> tuple[float, list[dict]]:
    """The smallest tau of ``taus`` whose held-out balanced accuracy is within one standard error of the best
    (the one-standard-error rule). Why not the best itself: the held-out set lacks the classes that the LT draw
    took whole, and those are the most frequent ones, which a too-large tau hurts first; the held-out curve is
    flat near its top, so its arg max drifts towards over-correction. Returns tau and the table of every tau."""
    table = []
    for tau in taus:
        off = integer_offsets(class_counts, tau, scale)
        balanced, se = balanced_accuracy(adjusted_logits(acc, off, scale).argmax(axis=1), labels)
        table.append({"tau": float(tau), "balanced": balanced, "se": se})
    best = max(table, key=lambda r: (r["balanced"], -r["tau"]))
    chosen = min((r for r in table if r["balanced"] >= best["balanced"] - best["se"]), key=lambda r: r["tau"])
    return chosen["tau"], table


def with_offsets(model: nn.Module, offsets: np.ndarray) -> nn.Module:
    """A copy of ``model`` with a LogitBias holding ``offsets`` (replacing any it had), in eval mode."""
    new = build_model({**model.arch, "logit_bias": True})
    key = next(f"{name}.offset" for name, m in new.named_modules() if isinstance(m, LogitBias))
    # the LogitBias shifts the classifier's later indices: entries pair up in order, the offset aside
    old = [v for k, v in model.state_dict().items() if not k.endswith(".offset")]
    names = [k for k in new.state_dict() if k != key]
    state = dict(zip(names, old, strict=True))
    state[key] = torch.as_tensor(np.asarray(offsets), dtype=torch.float32)
    new.load_state_dict(state)
    return new.eval()


def adjust(model: nn.Module, holdout_images: torch.Tensor, holdout_labels: np.ndarray, class_counts: np.ndarray,
           taus: tuple[float, ...] = TAUS) -> tuple[nn.Module, dict]:
    """Choose tau on the held-out images and return the adjusted student and what was chosen and why."""
    classes = np.unique(holdout_labels)
    if len(classes) < 2:
        raise UserError(f"held-out set: images of {len(classes)} class(es); choosing tau needs two or more")
    scale = logit_scale(model)
    tau, table = choose_tau(accumulators(model, holdout_images), np.asarray(holdout_labels), class_counts,
                            scale, taus)
    offsets = integer_offsets(class_counts, tau, scale)
    info = {"tau": tau, "rule": "one standard error", "offsets": offsets.tolist(), "logit_scale": scale,
            "class_counts": np.asarray(class_counts).tolist(),
            "holdout": {"images": int(len(holdout_labels)), "classes": classes.tolist(),
                        "per_class": np.bincount(holdout_labels, minlength=len(class_counts)).tolist(),
                        "table": table}}
    return with_offsets(model, offsets), info
