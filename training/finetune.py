"""Extension beyond the paper (named variant, off by default): fine-tune the teacher's last blocks on the LT data.

The paper keeps the teacher encoder frozen and only calibrates a classifier. Frozen EfficientNet-Lite features of
upsampled 32-px images plateau far below the paper's ResNet-152 teacher (anchors.md 7), so this variant unfreezes
the last `blocks` MBConv blocks and the head conv, trains them with a temporary linear head under the balanced
softmax loss (logits + log prior: an LT-aware cross-entropy) on random crops/flips at the identity resolution,
then freezes the encoder again; calibration then runs on top of it exactly as for the frozen teacher.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from candle_hw.training.augment import crop_flip, random_views
from candle_hw.training.teachers import TeacherEncoder


@dataclass
class FinetuneConfig:
    blocks: int = 0  # 0 = off (the paper's frozen teacher)
    epochs: int = 10
    batch: int = 128
    lr: float = 3e-4
    head_lr: float = 3e-3
    resolution: int = 0  # 0: the identity resolution


def balanced_softmax_loss(logits: torch.Tensor, target: torch.Tensor, log_prior: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on logits + log(class prior) (Ren et al. 2020): unbiased for a balanced test set."""
    return F.cross_entropy(logits + log_prior, target)


def finetune_encoder(encoder: TeacherEncoder, padded: torch.Tensor, labels: torch.Tensor,
                     class_counts: np.ndarray, image_size: tuple[int, int], pad: int, resolution: int,
                     cfg: FinetuneConfig, seed: int, progress: bool = False) -> dict:
    """Train the encoder's last cfg.blocks blocks in place; returns loss history and the wall time."""
    from tqdm import tqdm
    device = padded.device
    num_classes = len(class_counts)
    tail = encoder.tail_modules(cfg.blocks)
    encoder.eval().requires_grad_(False)
    for m in tail:
        m.train().requires_grad_(True)
    head = nn.Linear(encoder.out_channels, num_classes).to(device)
    params = [p for m in tail for p in m.parameters()]
    opt = torch.optim.AdamW([{"params": params, "lr": cfg.lr}, {"params": head.parameters(), "lr": cfg.head_lr}],
                            weight_decay=1e-4)
    num = padded.shape[0]
    steps = max(1, num // cfg.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[cfg.lr, cfg.head_lr], total_steps=cfg.epochs * steps,
                                                pct_start=0.1)
    prior = torch.tensor(class_counts / class_counts.sum(), dtype=torch.float32, device=device)
    log_prior = prior.log()
    g = torch.Generator().manual_seed(seed)
    use_amp = device.type == "cuda"
    history, start = [], time.perf_counter()
    for _ in tqdm(range(cfg.epochs), desc="fine-tune teacher", disable=not progress, leave=False):
        perm = torch.randperm(num, generator=g).to(device)
        total = 0.0
        for s in range(steps):
            idx = perm[s * cfg.batch:(s + 1) * cfg.batch]
            dy, dx, flip = random_views(len(idx), pad, g, device)
            x = crop_flip(padded, idx, dy, dx, flip, image_size)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                logits = head(encoder(x, resolution).mean(dim=(2, 3)).float())
            loss = balanced_softmax_loss(logits.float(), labels[idx], log_prior)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        history.append(total / steps)
    encoder.eval().requires_grad_(False)
    return {"loss": history, "seconds": time.perf_counter() - start, "blocks": cfg.blocks,
            "epochs": cfg.epochs, "resolution": resolution, "steps_per_epoch": steps,
            "trainable_params": int(sum(p.numel() for p in params))}
