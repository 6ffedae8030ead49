"""Function matching (extension, not the paper's method): the calibrated frozen teacher evaluated online on a
fresh augmentation of every batch, instead of on a few cached views.

Each step draws a random-resized crop and flip of every image, then mixes it with another image of the batch
(mixup or cutmix); the teacher and the student see the very same mixed uint8 image, and the student matches the
teacher's outputs on it (Beyer et al., "Knowledge distillation: a good teacher is patient and consistent", 2022).
The student then cannot memorise a handful of cached views of the rare classes: every step shows it new images
between and around the training samples, on which the teacher's function is still defined.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from candle_hw.training.augment import box_mask
from candle_hw.training.calibrate import CalibratedHead
from candle_hw.training.teachers import TeacherEncoder, pooled_batch

MIX_MODES = ("none", "mixup", "cutmix", "both")


@dataclass
class FunctionMatchingConfig:
    crop_scale: list[float] = field(default_factory=lambda: [0.35, 1.0])  # area fraction of the crop
    crop_ratio: list[float] = field(default_factory=lambda: [0.75, 4 / 3])  # aspect ratio w/h
    mix: str = "both"  # per image: mixup or cutmix with equal probability ("both"), one of them, or none
    mixup_alpha: float = 0.4  # lambda ~ Beta(alpha, alpha)
    cutmix_alpha: float = 1.0
    amp: bool = True  # bf16 teacher on GPU

    def validate(self) -> str | None:
        """The first bad setting as 'key=value: why', or None."""
        lo, hi = self.crop_scale
        if not 0 < lo <= hi <= 1:
            return f"function_matching.crop_scale={self.crop_scale}: need 0 < min <= max <= 1"
        if not 0 < self.crop_ratio[0] <= self.crop_ratio[1]:
            return f"function_matching.crop_ratio={self.crop_ratio}: need 0 < min <= max"
        if self.mix not in MIX_MODES:
            return f"function_matching.mix={self.mix!r}: choose one of {MIX_MODES}"
        if self.mixup_alpha <= 0 or self.cutmix_alpha <= 0:
            return f"function_matching: mixup_alpha={self.mixup_alpha}, cutmix_alpha={self.cutmix_alpha} must be > 0"
        return None


def _uniform(n: int, lo: float, hi: float, g: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def _beta(n: int, alpha: float, g: torch.Generator) -> torch.Tensor:
    """Beta(alpha, alpha) samples, seeded from `g` (torch's Beta sampler takes no generator)."""
    seed = int(torch.randint(0, 2 ** 62, (1,), generator=g))
    return torch.from_numpy(np.random.default_rng(seed).beta(alpha, alpha, n)).float()


def random_resized_crop(images: torch.Tensor, g: torch.Generator, cfg: FunctionMatchingConfig,
                        flip: bool) -> torch.Tensor:
    """Float images (B, C, H, W) -> crops of random area and aspect, resized back to (H, W) bilinearly, and
    mirrored at random when `flip`; all parameters from the CPU generator `g` (runs replay exactly)."""
    b = images.shape[0]
    area = _uniform(b, *cfg.crop_scale, g)
    log_r = _uniform(b, math.log(cfg.crop_ratio[0]), math.log(cfg.crop_ratio[1]), g)
    w = (area * log_r.exp()).sqrt().clamp(max=1.0)  # fractions of the side
    h = (area / log_r.exp()).sqrt().clamp(max=1.0)
    cx = (2 * torch.rand(b, generator=g) - 1) * (1 - w)  # crop centre in [-1, 1] coordinates
    cy = (2 * torch.rand(b, generator=g) - 1) * (1 - h)
    sign = torch.where(torch.rand(b, generator=g) < 0.5, -1.0, 1.0) if flip else torch.ones(b)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = w * sign, cx
    theta[:, 1, 1], theta[:, 1, 2] = h, cy
    grid = F.affine_grid(theta.to(images.device), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def mix(images: torch.Tensor, g: torch.Generator, cfg: FunctionMatchingConfig) -> torch.Tensor:
    """Each image mixed with a partner of the batch (a random permutation): mixup blends the two, cutmix pastes a
    box of the partner whose area is 1 - lambda."""
    return mix_pairs(images, g, cfg)[0]


def mix_pairs(images: torch.Tensor, g: torch.Generator, cfg: FunctionMatchingConfig
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """mix(), and for each image its partner's index and its own pixels' weight (mean over the image; what a
    label mix uses)."""
    b, _, hgt, wid = images.shape
    if cfg.mix == "none" or b < 2:
        return images, torch.arange(b), torch.ones(b)
    order = torch.randperm(b, generator=g)
    partner = images[order.to(images.device)]
    lam_mix = _beta(b, cfg.mixup_alpha, g)
    lam_cut = _beta(b, cfg.cutmix_alpha, g)
    side = (1 - lam_cut).sqrt()
    bh, bw = (side * hgt).round().long(), (side * wid).round().long()
    y0 = (torch.rand(b, generator=g) * (hgt - bh + 1)).long()
    x0 = (torch.rand(b, generator=g) * (wid - bw + 1)).long()
    use_cut = torch.rand(b, generator=g) < 0.5 if cfg.mix == "both" else torch.full((b,), cfg.mix == "cutmix")
    box = box_mask(y0, x0, y0 + bh, x0 + bw, (hgt, wid))  # (B, H, W)
    weight = torch.where(use_cut[:, None, None], (~box).float(), lam_mix[:, None, None].expand(b, hgt, wid))
    own = weight.mean(dim=(1, 2))
    weight = weight[:, None].to(images.device)
    return weight * images + (1 - weight) * partner, order, own


def fm_batch(padded: torch.Tensor, idx: torch.Tensor, image_size: tuple[int, int], g: torch.Generator,
             cfg: FunctionMatchingConfig, flip: bool) -> torch.Tensor:
    """One fresh function-matching batch of images idx as uint8 (what both teacher and student see: the
    student's 8-bit input stays on the grid it is deployed on)."""
    pad = (padded.shape[-1] - image_size[-1]) // 2
    x = padded[idx][..., pad:pad + image_size[0], pad:pad + image_size[1]].float()
    x = mix(random_resized_crop(x, g, cfg, flip), g, cfg)
    return x.round().clamp(0, 255).to(torch.uint8)


class OnlineTeacher:
    """The frozen encoder and a calibrated head: uint8 images -> (logits, FS target) as the cached targets are
    made (pooled features per resolution, then the head), but for any image."""

    def __init__(self, encoder: TeacherEncoder, head: CalibratedHead, resolutions: list[int], amp: bool):
        self.encoder, self.head, self.resolutions, self.amp = encoder.eval(), head.eval(), resolutions, amp
        if next(encoder.parameters()).is_cuda:
            self.encoder.to(memory_format=torch.channels_last)

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = pooled_batch(self.encoder, images, self.resolutions, self.amp).float()
        return self.head(feats), self.head.identity_feature(feats)

    @classmethod
    def from_head(cls, encoder: TeacherEncoder, head_spec: dict, amp: bool) -> "OnlineTeacher":
        """Rebuild the calibrated head that the teacher stage saved beside its cached targets."""
        state, resolutions = head_spec["state"], list(head_spec["resolutions"])
        channels, dim = state["concat.proj.0.weight"].shape[:2]
        head = CalibratedHead(dim, channels, len(resolutions), head_spec["identity"], state["fc.weight"].shape[0])
        head.load_state_dict(state)
        device = next(encoder.parameters()).device
        return cls(encoder, head.to(device), resolutions, amp)
