"""Extension beyond the paper (named variant, off by default): fine-tune the teacher encoder on the LT data.

The paper keeps the teacher encoder frozen and only calibrates a classifier. Frozen EfficientNet-Lite features of
upsampled 32-px images plateau far below the paper's ResNet-152 teacher (anchors.md 7), so this variant unfreezes
the last `blocks` MBConv blocks and the head conv (or, with `full`, the whole encoder), trains them with a
temporary linear head under a long-tail-aware loss (balanced softmax = logit adjustment with tau 1: logits +
tau * log prior) on augmented images at the identity resolution, then freezes the encoder again; calibration then
runs on top of it exactly as for the frozen teacher.

Augmentations (`augment`): "crop_flip" (the pad-crop-flip of the cached views), "rrc" (random-resized crop and
flip) or "rrc_mix" (that, then mixup or cutmix with a partner of the batch; the loss mixes the two labels by
each image's own-pixel fraction). The tuned encoder can be saved to and reloaded from `encoder_path`, so one
fine-tuning serves several runs (and travels between machines: the weights package is then not needed).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from candle_hw.errors import UserError
from candle_hw.training.augment import crop_flip, random_views
from candle_hw.training.teachers import TeacherEncoder

AUGMENTS = ("crop_flip", "rrc", "rrc_mix")
OPTIMIZERS = ("adamw", "sgd")
FOLDS = 4  # finetune.folds' default; the teacher cache key leaves the default out (config.teacher_key)
BLEND = 0.5  # finetune.blend's default (the plain mean); likewise left out of the key


@dataclass
class FinetuneConfig:
    blocks: int = 0  # 0 = off (the paper's frozen teacher), else the last `blocks` MBConv blocks + head conv
    full: bool = False  # the whole encoder (stem, every block, head conv) instead of the last blocks
    epochs: int = 10
    batch: int = 128
    lr: float = 3e-4
    head_lr: float = 3e-3
    resolution: int = 0  # 0: the identity resolution
    tau: float = 1.0  # logit adjustment: logits + tau * log prior (1.0 = balanced softmax)
    augment: str = "crop_flip"
    crop_scale: list[float] = field(default_factory=lambda: [0.35, 1.0])  # rrc: area fraction
    mixup_alpha: float = 0.4
    cutmix_alpha: float = 1.0
    optimizer: str = "adamw"
    weight_decay: float = 1e-4
    warmup: float = 0.1  # fraction of the steps with a linear warm-up, then cosine to zero
    fit_minutes: float = 0.0  # > 0: after the first epoch, shorten the schedule to the epochs that fit
    encoder_path: str = ""  # load the tuned encoder from here if it exists, else tune and save it here
    folds: int = FOLDS  # the cross-fitted teacher (kind single_xf): one encoder tuned per held-out fold
    blend: float = BLEND  # kind single_xfb: the cross-fitted teacher's weight in the blend with `single`

    @property
    def enabled(self) -> bool:
        return self.full or self.blocks > 0

    def validate(self) -> str | None:
        """The first bad setting as 'key=value: why', or None."""
        if self.augment not in AUGMENTS:
            return f"finetune.augment={self.augment!r}: choose one of {AUGMENTS}"
        if self.optimizer not in OPTIMIZERS:
            return f"finetune.optimizer={self.optimizer!r}: choose one of {OPTIMIZERS}"
        if not 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1:
            return f"finetune.crop_scale={self.crop_scale}: need 0 < min <= max <= 1"
        if not 0 <= self.warmup < 1:
            return f"finetune.warmup={self.warmup}: need 0 <= warmup < 1"
        if self.mixup_alpha <= 0 or self.cutmix_alpha <= 0:
            return f"finetune: mixup_alpha={self.mixup_alpha}, cutmix_alpha={self.cutmix_alpha} must be > 0"
        if not 0.0 <= self.blend <= 1.0:  # also refuses NaN
            return f"finetune.blend={self.blend}: need 0 <= blend <= 1 (the cross-fitted teacher's weight)"
        if self.folds < 2:
            return f"finetune.folds={self.folds}: need >= 2 (each cross-fitted teacher holds out one fold)"
        if self.batch < 1 or self.epochs < 0 or self.blocks < 0:
            return f"finetune: batch={self.batch}, epochs={self.epochs}, blocks={self.blocks} out of range"
        return None


def balanced_softmax_loss(logits: torch.Tensor, target: torch.Tensor, log_prior: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on logits + log(class prior) (Ren et al. 2020): unbiased for a balanced test set."""
    return F.cross_entropy(logits + log_prior, target)


def lr_factor(step: int, total: int, warmup: float) -> float:
    """Linear warm-up over the first `warmup` fraction of `total` steps, then cosine to zero."""
    w = int(warmup * total)
    if step < w:
        return (step + 1) / w
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - w) / max(1, total - w))))


FIT_AT = (1, 2, 4)  # epochs after which fit_minutes refits the schedule (the first includes the warm-up)


def fitted_epochs(epochs: int, done: int, elapsed: float, pace: float, minutes: float) -> int:
    """The epochs that end within `minutes` when `done` took `elapsed` seconds and one more takes `pace`;
    never more than asked, never fewer than done."""
    return max(done, min(epochs, done + int((minutes * 60 - elapsed) / max(pace, 1e-9))))


def _trainable(encoder: TeacherEncoder, cfg: FinetuneConfig) -> list[nn.Module]:
    if cfg.full:  # everything extract_features uses: the ImageNet classifier (_fc) is not part of the encoder
        return [m for name, m in encoder.net.named_children() if name != "_fc"]
    return encoder.tail_modules(cfg.blocks)


def _augmented(padded: torch.Tensor, idx: torch.Tensor, labels: torch.Tensor, image_size: tuple[int, int],
               pad: int, g: torch.Generator, cfg: FinetuneConfig, flip: bool):
    """(images, labels, partner labels, own fraction) of one fine-tuning batch."""
    from candle_hw.training.online import FunctionMatchingConfig, mix_pairs, random_resized_crop
    y = labels[idx]
    if cfg.augment == "crop_flip":
        dy, dx, fl = random_views(len(idx), pad, g, padded.device)
        if not flip:
            fl = torch.zeros_like(fl)
        return crop_flip(padded, idx, dy, dx, fl, image_size), y, y, None
    aug = FunctionMatchingConfig(crop_scale=list(cfg.crop_scale), mix="both" if cfg.augment == "rrc_mix" else "none",
                                 mixup_alpha=cfg.mixup_alpha, cutmix_alpha=cfg.cutmix_alpha)
    x = padded[idx][..., pad:pad + image_size[0], pad:pad + image_size[1]].float()
    x, partner, own = mix_pairs(random_resized_crop(x, g, aug, flip), g, aug)
    return x.round().clamp(0, 255).to(torch.uint8), y, y[partner], own


def finetune_encoder(encoder: TeacherEncoder, padded: torch.Tensor, labels: torch.Tensor,
                     class_counts: np.ndarray, image_size: tuple[int, int], pad: int, resolution: int,
                     cfg: FinetuneConfig, seed: int, progress: bool = False, test_images: torch.Tensor | None = None,
                     test_labels: np.ndarray | None = None, flip: bool = True) -> dict:
    """Train the encoder (its last cfg.blocks blocks, or all of it) in place; returns the loss history, the wall
    time and, given test images, the balanced test accuracy of the encoder with its temporary head."""
    from tqdm import tqdm
    from candle_hw.training.evaluate import accuracy_report
    device = padded.device
    num_classes = len(class_counts)
    tail = _trainable(encoder, cfg)
    encoder.eval().requires_grad_(False)
    for m in tail:
        m.train().requires_grad_(True)
    if device.type == "cuda":
        encoder.to(memory_format=torch.channels_last)
    torch.manual_seed(seed)
    head = nn.Linear(encoder.out_channels, num_classes).to(device)
    params = [p for m in tail for p in m.parameters()]
    groups = [{"params": params, "lr": cfg.lr}, {"params": head.parameters(), "lr": cfg.head_lr}]
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(groups, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    base = [cfg.lr, cfg.head_lr]
    num = padded.shape[0]
    steps = max(1, num // cfg.batch)
    prior = torch.tensor(class_counts / class_counts.sum(), dtype=torch.float32, device=device)
    log_prior = cfg.tau * prior.log()
    g = torch.Generator().manual_seed(seed)
    use_amp = device.type == "cuda"
    planned = cfg.epochs
    history, start, step, t_epoch = [], time.perf_counter(), 0, time.perf_counter()
    bar = tqdm(total=planned, desc="fine-tune teacher", disable=not progress, leave=False)
    epoch = 0
    while epoch < planned:
        perm = torch.randperm(num, generator=g).to(device)
        total = torch.zeros((), device=device)
        for s in range(steps):
            idx = perm[s * cfg.batch:(s + 1) * cfg.batch]
            x, y, y2, own = _augmented(padded, idx, labels, image_size, pad, g, cfg, flip)
            for grp, lr in zip(opt.param_groups, base):
                grp["lr"] = lr * lr_factor(step, planned * steps, cfg.warmup)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                logits = head(encoder(x, resolution).mean(dim=(2, 3)).float())
            adjusted = logits.float() + log_prior
            if own is None:
                loss = F.cross_entropy(adjusted, y)
            else:
                own = own.to(device)
                loss = (own * F.cross_entropy(adjusted, y, reduction="none")
                        + (1 - own) * F.cross_entropy(adjusted, y2, reduction="none")).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            total += loss.detach()
        history.append(float(total) / steps)
        epoch += 1
        bar.update(1)
        now = time.perf_counter()
        if epoch in FIT_AT and cfg.fit_minutes > 0:
            # lr_factor reads `planned`: the rest of the cosine follows the new length and still ends at zero
            planned = fitted_epochs(cfg.epochs, epoch, now - start, now - t_epoch, cfg.fit_minutes)
            bar.total = planned
        t_epoch = now
    bar.close()
    encoder.eval().requires_grad_(False)
    report = {"loss": history, "seconds": time.perf_counter() - start, "blocks": cfg.blocks, "full": cfg.full,
              "epochs": planned, "epochs_requested": cfg.epochs, "resolution": resolution,
              "steps_per_epoch": steps, "trainable_params": int(sum(p.numel() for p in params))}
    if test_images is not None:
        pred = predict_head(encoder, head, test_images, resolution)
        report["own_head"] = {k: v for k, v in accuracy_report(pred, test_labels, class_counts).items()
                              if k in ("accuracy", "head", "medium", "tail", "per_class")}
    return report


@torch.no_grad()
def predict_head(encoder: TeacherEncoder, head: nn.Module, images: torch.Tensor, resolution: int,
                 batch: int = 256) -> np.ndarray:
    """Arg-max of the fine-tuning head (raw logits: the balanced-softmax model of a balanced test set)."""
    use_amp = images.device.type == "cuda"
    out = []
    for s in range(0, images.shape[0], batch):
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=use_amp):
            out.append(head(encoder(images[s:s + batch], resolution).float().mean(dim=(2, 3))).argmax(1).cpu())
    return torch.cat(out).numpy()


def save_encoder(path: Path, encoder: TeacherEncoder, report: dict, data_hash: str) -> None:
    """The tuned encoder's weights (without the unused ImageNet classifier) and its fine-tuning report."""
    state = {k: v.detach().cpu() for k, v in encoder.net.state_dict().items() if not k.startswith("_fc.")}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"teacher": encoder.name, "data_hash": data_hash, "report": report, "state": state}, tmp)
    tmp.replace(path)


def load_encoder(path: Path, encoder: TeacherEncoder, data_hash: str) -> dict:
    """Load a tuned encoder saved by save_encoder into `encoder` (same architecture, same data); its report."""
    blob = torch.load(path, map_location="cpu", weights_only=False)
    if blob.get("teacher") != encoder.name:
        raise UserError(f"finetune.encoder_path={path}: holds teacher {blob.get('teacher')!r}, "
                        f"the config's teacher is {encoder.name!r}")
    if blob.get("data_hash") != data_hash:
        raise UserError(f"finetune.encoder_path={path}: tuned on other data (hash {blob.get('data_hash')!r})")
    missing = encoder.net.load_state_dict(blob["state"], strict=False)
    bad = [k for k in missing.missing_keys if not k.startswith("_fc.")] + list(missing.unexpected_keys)
    if bad:
        raise UserError(f"finetune.encoder_path={path}: weights do not fit the encoder ({bad[0]})")
    encoder.eval().requires_grad_(False)
    return {**blob["report"], "loaded_from": str(path)}
