"""Teacher calibration (CANDLE paper 3.1, 3.3, App. D): a new classifier on the frozen pretrained encoder.

The classifier sees every resolution through the size-interpolation & concat module (per-resolution 1x1 convs to
the student's channel count, nearest-neighbour resize to the identity resolution's feature size, channel-wise
concat), then a global-average-pool + linear layer. It is trained on the LT data with class-balanced sampling
and label-aware smoothing (MiSLAS). Training runs on cached pooled encoder features per fixed augmented view
(see teachers.pooled_features): the module takes them as 1x1 maps, with the same weights as on full maps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class SizeInterpConcat(nn.Module):
    """Per-resolution 1x1 conv (D -> C), nearest resize to the identity feature size, channel-wise concat."""

    def __init__(self, in_channels: int, out_channels: int, num_resolutions: int, identity_index: int):
        super().__init__()
        if not 0 <= identity_index < num_resolutions:
            raise ValueError(f"identity_index={identity_index} outside {num_resolutions} resolutions")
        self.proj = nn.ModuleList(nn.Conv2d(in_channels, out_channels, 1) for _ in range(num_resolutions))
        self.identity_index = identity_index
        self.out_channels = out_channels

    def project(self, maps: list[torch.Tensor]) -> list[torch.Tensor]:
        return [p(m) for p, m in zip(self.proj, maps)]

    def forward(self, maps: list[torch.Tensor]) -> torch.Tensor:
        projected = self.project(maps)
        size = projected[self.identity_index].shape[-2:]
        return torch.cat([F.interpolate(p, size=size, mode="nearest") if p.shape[-2:] != size else p
                          for p in projected], dim=1)


class CalibratedHead(nn.Module):
    """Size-interp & concat, global average pool, linear classifier. Inputs: one map (N, D, h, w) per resolution,
    or pooled features (N, R, D) taken as 1x1 maps."""

    def __init__(self, in_channels: int, student_channels: int, num_resolutions: int, identity_index: int,
                 num_classes: int):
        super().__init__()
        self.concat = SizeInterpConcat(in_channels, student_channels, num_resolutions, identity_index)
        self.fc = nn.Linear(student_channels * num_resolutions, num_classes)

    @staticmethod
    def _maps(feats: torch.Tensor | list[torch.Tensor]) -> list[torch.Tensor]:
        if isinstance(feats, torch.Tensor):  # pooled (N, R, D)
            return [feats[:, r, :, None, None].float() for r in range(feats.shape[1])]
        return [f.float() for f in feats]

    def forward(self, feats: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        return self.fc(self.concat(self._maps(feats)).mean(dim=(2, 3)))

    def identity_feature(self, feats: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        """The identity-resolution channels (the FS target), globally pooled: (N, student_channels)."""
        maps = self._maps(feats)
        i = self.concat.identity_index
        return self.concat.proj[i](maps[i]).mean(dim=(2, 3))


def label_aware_smoothing(class_counts: np.ndarray, smooth_head: float, smooth_tail: float) -> np.ndarray:
    """MiSLAS concave rule: eps_y = eps_tail + (eps_head - eps_tail) * sin(pi/2 * (N_y - N_min)/(N_max - N_min))."""
    counts = np.asarray(class_counts, dtype=np.float64)
    span = counts.max() - counts.min()
    if span == 0:
        return np.full(len(counts), smooth_head)
    return smooth_tail + (smooth_head - smooth_tail) * np.sin(np.pi / 2 * (counts - counts.min()) / span)


def las_loss(logits: torch.Tensor, target: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Cross-entropy with per-class smoothing eps[target] spread uniformly over all classes (MiSLAS LAS)."""
    logp = F.log_softmax(logits, dim=-1)
    e = eps[target]
    nll = -logp.gather(1, target[:, None]).squeeze(1)
    return ((1 - e) * nll + e * (-logp.mean(dim=-1))).mean()


def class_balanced_indices(labels: torch.Tensor, num: int, num_classes: int, generator: torch.Generator
                           ) -> torch.Tensor:
    """`num` indices drawn by first picking a class uniformly, then an image of it uniformly (with replacement)."""
    labels_cpu = labels.cpu()
    order = torch.argsort(labels_cpu, stable=True)
    counts = torch.bincount(labels_cpu, minlength=num_classes)
    starts = torch.cumsum(counts, 0) - counts
    present = torch.nonzero(counts).flatten()
    cls = present[torch.randint(0, len(present), (num,), generator=generator)]
    offs = (torch.rand(num, generator=generator) * counts[cls]).long().clamp_max(counts[cls] - 1)
    return order[starts[cls] + offs].to(labels.device)


@dataclass
class CalibrationConfig:
    epochs: int = 30
    batch: int = 256
    lr: float = 1e-3
    weight_decay: float = 5e-4
    smooth_head: float = 0.3  # MiSLAS CIFAR-10-LT setting
    smooth_tail: float = 0.0
    sampler: str = "class_balanced"  # or "instance"


def train_head(head: CalibratedHead, feats: torch.Tensor, labels: torch.Tensor, class_counts: np.ndarray,
               cfg: CalibrationConfig, seed: int, usable: torch.Tensor | None = None) -> list[float]:
    """Train the head on cached pooled features (K, N, R, D): each step draws images (class-balanced) and a random
    view of each, among the views that `usable` (K, N) bool marks (None: all; view 0 must be usable). Returns the
    mean loss per epoch."""
    device = feats.device
    g = torch.Generator().manual_seed(seed)
    num_views, num = feats.shape[:2]
    usable = None if usable is None else usable.cpu()
    steps_per_epoch = max(1, math.ceil(num / cfg.batch))
    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs * steps_per_epoch)
    eps = torch.tensor(label_aware_smoothing(class_counts, cfg.smooth_head, cfg.smooth_tail),
                       dtype=torch.float32, device=device)
    head.train()
    history = []
    for _ in range(cfg.epochs):
        if cfg.sampler == "class_balanced":
            idx_all = class_balanced_indices(labels, steps_per_epoch * cfg.batch, len(class_counts), g)
        else:
            idx_all = torch.randperm(num, generator=g).to(device)
        total = 0.0
        for s in range(steps_per_epoch):
            idx = idx_all[s * cfg.batch:(s + 1) * cfg.batch]
            view = _draw_views(usable, idx, num_views, g).to(device)
            loss = las_loss(head(feats[view, idx]), labels[idx], eps)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        history.append(total / steps_per_epoch)
    head.eval()
    return history


def _draw_views(usable: torch.Tensor | None, idx: torch.Tensor, num_views: int, g: torch.Generator
                ) -> torch.Tensor:
    """One view per image, uniform over all views, or over the image's usable ones (the largest of random scores
    among them; an unusable view scores -1 and loses to any usable one)."""
    if usable is None:
        return torch.randint(0, num_views, (len(idx),), generator=g)
    scores = torch.rand((len(idx), num_views), generator=g)
    ok = usable[:, idx.cpu()].T
    return torch.where(ok, scores, -1.0).argmax(dim=1)


@torch.no_grad()
def head_outputs(head: CalibratedHead, feats: torch.Tensor, batch: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher logits (K, N, classes) and FS targets (K, N, C) for every cached view (what distillation reads)."""
    head.eval()
    k, n = feats.shape[:2]
    flat = feats.reshape(k * n, *feats.shape[2:])
    logits, fs = [], []
    for s in range(0, k * n, batch):
        logits.append(head(flat[s:s + batch]))
        fs.append(head.identity_feature(flat[s:s + batch]))
    return (torch.cat(logits).reshape(k, n, -1), torch.cat(fs).reshape(k, n, -1))
