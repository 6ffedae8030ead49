"""Distillation losses, the adversarial balancer AB_phi, and the per-step gradient rules of every method.

Methods (the ablation ladder; one switchable name each):
- ``scratch``: cross-entropy on the labels only (no teacher).
- ``baseline``: the paper's Tab. 3/10 baseline read as "pretrained teacher without calibration": CE on labels for
  the whole student plus feature similarity to the uncalibrated teacher's identity-resolution features (through a
  fixed, randomly initialised 1x1 projection, since an uncalibrated teacher has no trained projection).
- ``cd``: Calibrate & Distill, Eq. 1 with a fixed lambda: (1-lambda) KL + lambda FS for all student weights.
- ``cd_ab``: + adversarial balancing, Alg. 1 (single-resolution calibrated teacher).
- ``candle``: + multi-resolution calibrated teacher (the full method).
Extensions beyond the paper add a label term (``label_weight`` > 0, balanced-softmax CE), a logit-adjusted KL
(``*_la``: the student's training logits shifted by tau log prior inside the KL), a fine-tuned teacher (or
cross-fitted fine-tuned teachers, ``cd_xf``: out-of-fold targets on the training views; or their blend with the
frozen calibrated teacher, ``cd_xfb``), an
ensemble of calibrated teachers (``cd_ens``), or function matching (``*_fm``: the teacher evaluated online on a
fresh crop/flip/mixup/cutmix of every batch, training/online.py, instead of on the cached views).

Alg. 1 (one forward, three parameter groups): the classifier theta_c descends KL only; lambda = AB_phi(KL, FS)
from detached loss values; phi ascends L = (1-lambda) KL + lambda FS (one max step per min step); the encoder
theta_e descends L with lambda held constant. KL flows into theta_e through the classifier, FS never reaches
theta_c.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

METHODS = ("scratch", "baseline", "cd", "cd_ab", "candle")


@dataclass(frozen=True)
class MethodSpec:
    teacher: str | None  # None or a teacher kind of training/teacher_stage.py KIND_DOC
    rule: str  # "ce", "ce_fs", "eq1", "alg1"
    paper: bool = True
    online: bool = False  # function matching: teacher outputs computed each step on fresh augmentations
    # Logit-adjusted KL: the student's logits enter the KL shifted by tau * log(class prior) (training only; the
    # deployed student is the raw network). A teacher whose targets on the training images are close to their
    # long-tailed labels (a fine-tuned one) would otherwise teach the training set's class prior.
    prior_adjusted: bool = False


METHOD_SPECS: dict[str, MethodSpec] = {
    "scratch": MethodSpec(None, "ce"),
    "baseline": MethodSpec("uncalibrated", "ce_fs"),
    "cd": MethodSpec("single", "eq1"),
    "cd_ab": MethodSpec("single", "alg1"),
    "candle": MethodSpec("multi", "alg1"),
    # Extensions (never replace the paper's method; measured beside it).
    "cd_lt": MethodSpec("single", "eq1", paper=False),  # C&D + balanced-softmax label term
    "candle_lt": MethodSpec("multi", "alg1", paper=False),  # + balanced-softmax label term
    "candle_ft": MethodSpec("multi_ft", "alg1", paper=False),  # teacher's last blocks fine-tuned
    "candle_ft_lt": MethodSpec("multi_ft", "alg1", paper=False),  # both
    "cd_ft": MethodSpec("single_ft", "eq1", paper=False),  # C&D from the fine-tuned teacher
    "cd_ens": MethodSpec("ensemble", "eq1", paper=False),  # C&D from an ensemble of calibrated teachers
    "cd_la": MethodSpec("single", "eq1", paper=False, prior_adjusted=True),  # C&D, logit-adjusted KL
    "cd_ft_la": MethodSpec("single_ft", "eq1", paper=False, prior_adjusted=True),  # the same from the tuned teacher
    # C&D from cross-fitted tuned teachers: each image's targets from the fold teacher that never trained on it
    "cd_xf": MethodSpec("single_xf", "eq1", paper=False),
    "cd_xf_la": MethodSpec("single_xf", "eq1", paper=False, prior_adjusted=True),  # the same, logit-adjusted KL
    # C&D from the blend of the frozen calibrated teacher and the cross-fitted ones (finetune.blend)
    "cd_xfb": MethodSpec("single_xfb", "eq1", paper=False),
    "cd_fm": MethodSpec("single", "eq1", paper=False, online=True),  # C&D by function matching
    "candle_fm": MethodSpec("multi", "alg1", paper=False, online=True),  # CANDLE by function matching
}
LABEL_TERM_METHODS = ("cd_lt", "candle_lt", "candle_ft_lt")


def kl_loss(teacher_logits: torch.Tensor, student_logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """T^2 * KL(softmax(t/T) || softmax(s/T)), averaged over the batch."""
    t = F.log_softmax(teacher_logits.float() / temperature, dim=-1)
    s = F.log_softmax(student_logits.float() / temperature, dim=-1)
    return F.kl_div(s, t, log_target=True, reduction="batchmean") * temperature ** 2


def fs_loss(teacher_feat: torch.Tensor, student_feat: torch.Tensor) -> torch.Tensor:
    """Cosine distance 1 - cos(e_T, e_B) between channel vectors; spatial student maps are pooled first."""
    if student_feat.dim() == 4:
        student_feat = student_feat.mean(dim=(2, 3))
    return (1.0 - F.cosine_similarity(teacher_feat.float(), student_feat.float(), dim=1)).mean()


class AdversarialBalancer(nn.Module):
    """AB_phi: (KL, FS) -> lambda in (0, 1); MLP 2 -> 16 -> 32 -> 48 -> 1 with ReLU, then a sigmoid (App. D)."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 48)):
        super().__init__()
        layers: list[nn.Module] = []
        prev = 2
        for w in widths:
            layers += [nn.Linear(prev, w), nn.ReLU()]
            prev = w
        layers.append(nn.Linear(prev, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, kl: torch.Tensor, fs: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.mlp(torch.stack([kl, fs]).float()[None])).squeeze()


def _losses(total: torch.Tensor, **parts: torch.Tensor | float) -> dict[str, torch.Tensor]:
    """Detached scalars (no host sync per step: the loop averages them on the device once per epoch)."""
    out = {"total": total.detach()}
    for name, value in parts.items():
        out[name] = value.detach() if isinstance(value, torch.Tensor) else torch.tensor(float(value), device=total.device)
    return out


def _grads(loss: torch.Tensor, params: list[torch.Tensor], retain: bool) -> list[torch.Tensor]:
    grads = torch.autograd.grad(loss, params, retain_graph=retain, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


def compute_gradients(rule: str, enc_params: list[torch.Tensor], cls_params: list[torch.Tensor],
                      balancer: AdversarialBalancer | None, student_feat: torch.Tensor,
                      student_logits: torch.Tensor, labels: torch.Tensor, teacher_logits: torch.Tensor | None,
                      teacher_feat: torch.Tensor | None, lam_fixed: float, temperature: float,
                      label_weight: float, log_prior: torch.Tensor | None, kl_shift: torch.Tensor | None = None
                      ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor], dict[str, torch.Tensor]]:
    """Gradients for (encoder, classifier, balancer) under one method's rule; nothing is stepped here. `kl_shift`
    (classes,), if given, is added to the student's logits inside the KL only (the logit-adjusted extensions)."""
    ab_params = list(balancer.parameters()) if balancer is not None else []
    if rule == "ce":
        ce = F.cross_entropy(student_logits.float(), labels)
        g = _grads(ce, enc_params + cls_params, retain=False)
        return g[:len(enc_params)], g[len(enc_params):], [], _losses(ce, ce=ce)
    fs = fs_loss(teacher_feat, student_feat)
    if rule == "ce_fs":
        ce = F.cross_entropy(student_logits.float(), labels)
        loss = (1 - lam_fixed) * ce + lam_fixed * fs
        g = _grads(loss, enc_params + cls_params, retain=False)
        return (g[:len(enc_params)], g[len(enc_params):], [],
                _losses(loss, fs=fs, ce=ce, lam=lam_fixed))
    kl = kl_loss(teacher_logits, student_logits if kl_shift is None else student_logits + kl_shift, temperature)
    label = torch.zeros((), device=kl.device)
    if label_weight > 0:
        label = F.cross_entropy(student_logits.float() + log_prior, labels)
    if rule == "eq1":
        loss = (1 - lam_fixed) * kl + lam_fixed * fs + label_weight * label
        g = _grads(loss, enc_params + cls_params, retain=False)
        return (g[:len(enc_params)], g[len(enc_params):], [],
                _losses(loss, kl=kl, fs=fs, label=label, lam=lam_fixed))
    if rule != "alg1":
        raise ValueError(f"unknown distillation rule '{rule}'")
    lam = balancer(kl.detach(), fs.detach())
    lam_c = lam.detach()
    g_cls = _grads(kl + label_weight * label, cls_params, retain=True)
    enc_loss = (1 - lam_c) * kl + lam_c * fs + label_weight * label
    g_enc = _grads(enc_loss, enc_params, retain=False)
    g_ab = _grads((1 - lam) * kl.detach() + lam * fs.detach(), ab_params, retain=False)
    return g_enc, g_cls, g_ab, _losses(enc_loss, kl=kl, fs=fs, label=label, lam=lam_c)
