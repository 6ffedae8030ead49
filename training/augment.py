"""Vectorised pad-crop-flip augmentation on device-resident uint8 images, described by explicit view parameters.

A *view* of image i is (dy, dx, flip): the crop offset into the zero-padded image and a horizontal flip. Making
the parameters explicit lets the teacher and the student see the very same augmented image, and lets teacher
outputs be cached for a fixed bank of views (the multi-resolution teacher then costs one pass per view, not
one pass per step).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def pad_images(images: torch.Tensor, pad: int) -> torch.Tensor:
    """Zero-pad (N, C, H, W) images by `pad` pixels on each side (kept as uint8)."""
    return F.pad(images, (pad, pad, pad, pad)) if pad else images


def crop_flip(padded: torch.Tensor, idx: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor,
              flip: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crops of padded[idx] at (dy, dx), flipped where `flip`: one gather, no Python loop over the batch."""
    h, w = size
    rows = dy[:, None] + torch.arange(h, device=padded.device)[None]  # (B, h)
    cols = torch.arange(w, device=padded.device)[None].expand(len(idx), w)
    cols = torch.where(flip[:, None], w - 1 - cols, cols) + dx[:, None]  # (B, w)
    chans = torch.arange(padded.shape[1], device=padded.device)
    return padded[idx[:, None, None, None], chans[None, :, None, None], rows[:, None, :, None],
                  cols[:, None, None, :]]


@dataclass
class ViewBank:
    """K fixed views per training image; view 0 is the un-augmented image (centre crop, no flip)."""

    dy: torch.Tensor  # (K, N) int64
    dx: torch.Tensor
    flip: torch.Tensor  # (K, N) bool

    @property
    def num_views(self) -> int:
        return int(self.dy.shape[0])

    @classmethod
    def make(cls, num_images: int, num_views: int, pad: int, seed: int, device: torch.device | str = "cpu",
             flip: bool = True) -> "ViewBank":
        """``flip=False`` for data whose mirror image is another class's (digits): crops only."""
        if num_views < 1:
            raise ValueError(f"num_views={num_views} must be >= 1")
        g = torch.Generator().manual_seed(seed)
        dy = torch.randint(0, 2 * pad + 1, (num_views, num_images), generator=g)
        dx = torch.randint(0, 2 * pad + 1, (num_views, num_images), generator=g)
        flips = torch.rand((num_views, num_images), generator=g) < 0.5
        flip = flips if flip else torch.zeros_like(flips)
        dy[0], dx[0], flip[0] = pad, pad, False
        return cls(dy.to(device), dx.to(device), flip.to(device))

    def to(self, device: torch.device | str) -> "ViewBank":
        return ViewBank(self.dy.to(device), self.dx.to(device), self.flip.to(device))

    def batch(self, padded: torch.Tensor, idx: torch.Tensor, view: torch.Tensor, size: tuple[int, int]
              ) -> torch.Tensor:
        """Images idx, each in its own view number `view` (both (B,) on the images' device)."""
        return crop_flip(padded, idx, self.dy[view, idx], self.dx[view, idx], self.flip[view, idx], size)


def random_views(batch: int, pad: int, generator: torch.Generator, device: torch.device | str
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fresh random (dy, dx, flip) for a batch, drawn from the CPU generator so runs replay exactly."""
    dy = torch.randint(0, 2 * pad + 1, (batch,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (batch,), generator=generator)
    flip = torch.rand((batch,), generator=generator) < 0.5
    return dy.to(device), dx.to(device), flip.to(device)
