"""Vectorised pad-crop-flip augmentation on device-resident uint8 images, described by explicit view parameters.

A *view* of image i is (dy, dx, flip): the crop offset into the zero-padded image and a horizontal flip. Making
the parameters explicit lets the teacher and the student see the very same augmented image, and lets teacher
outputs be cached for a fixed bank of views (the multi-resolution teacher then costs one pass per view, not
one pass per step).

Extension (``teacher.mix: cutmix``): a fraction of the cached views (never view 0) are CutMix images, a box of a
partner image pasted into the image's crop. They stay uint8 and are cached like any other view, so the teacher's
outputs on them cost nothing per step ("function matching" on a fixed bank, which keeps the paper's cached-target
training). The box is kept per (view, image) so the very same pixels reach the teacher, the student and the
calibration's exclusion of mixed views (a mixed view has no single true label).
"""
from __future__ import annotations

import dataclasses
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


MIX_MODES = ("none", "cutmix")


def box_mask(y0: torch.Tensor, x0: torch.Tensor, y1: torch.Tensor, x1: torch.Tensor, size: tuple[int, int]
             ) -> torch.Tensor:
    """(B, h, w) bool: the pixels of each image's box [y0, y1) x [x0, x1) (each (B,)), on the boxes' device."""
    rows = torch.arange(size[0], device=y0.device)[None]
    cols = torch.arange(size[1], device=y0.device)[None]
    return (((rows >= y0[:, None]) & (rows < y1[:, None]))[:, :, None]
            & ((cols >= x0[:, None]) & (cols < x1[:, None]))[:, None, :])


def cutmix_boxes(num_views: int, num_images: int, size: tuple[int, int], prob: float, g: torch.Generator
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Partner index (K, N) and box (K, N, 4) = (y0, x0, y1, x1), end exclusive, of each view.

    A view other than view 0 is mixed with probability `prob`; its partner is another image (never itself), and
    its box is CutMix's (Yun et al. 2019): pasted area fraction 1 - lambda, lambda ~ Beta(1, 1) = U(0, 1), sides
    sqrt(1 - lambda) of the image's, centred uniformly on the image and clipped to it (so the pasted area is at
    most 1 - lambda). An un-mixed view has partner = itself and the empty box (0, 0, 0, 0).
    """
    h, w = size
    shape = (num_views, num_images)
    chosen = torch.rand(shape, generator=g) < prob
    chosen[0] = False  # view 0 is the un-augmented image
    if num_images < 2:
        chosen[:] = False
    own = torch.arange(num_images).expand(shape)
    partner = (own + torch.randint(1, max(2, num_images), shape, generator=g)) % num_images
    side = (1.0 - torch.rand(shape, generator=g)).sqrt()
    bh, bw = (side * h).long(), (side * w).long()
    cy = torch.randint(0, h, shape, generator=g)
    cx = torch.randint(0, w, shape, generator=g)
    box = torch.stack([(cy - bh // 2).clamp(0, h), (cx - bw // 2).clamp(0, w),
                       (cy - bh // 2 + bh).clamp(0, h), (cx - bw // 2 + bw).clamp(0, w)], dim=-1)
    # A box clipped (or rounded) to nothing pastes nothing: the view is un-mixed and says so.
    chosen &= (box[..., 2] > box[..., 0]) & (box[..., 3] > box[..., 1])
    box = torch.where(chosen[..., None], box, torch.zeros_like(box))
    return torch.where(chosen, partner, own).contiguous(), box


@dataclass
class ViewBank:
    """K fixed views per training image; view 0 is the un-augmented image (centre crop, no flip). With CutMix
    views, `partner` (K, N) and `box` (K, N, 4) say what each view pastes (see cutmix_boxes); None: no mixing."""

    dy: torch.Tensor  # (K, N) int64
    dx: torch.Tensor
    flip: torch.Tensor  # (K, N) bool
    partner: torch.Tensor | None = None  # (K, N) int64
    box: torch.Tensor | None = None  # (K, N, 4) int64: y0, x0, y1, x1 in the crop, end exclusive

    @property
    def num_views(self) -> int:
        return int(self.dy.shape[0])

    @property
    def mixed(self) -> torch.Tensor:
        """(K, N) bool: views that paste a partner's pixels (they carry no single true label)."""
        if self.box is None:
            return torch.zeros_like(self.flip)
        return (self.box[..., 2] > self.box[..., 0]) & (self.box[..., 3] > self.box[..., 1])

    @classmethod
    def make(cls, num_images: int, num_views: int, pad: int, seed: int, device: torch.device | str = "cpu",
             flip: bool = True, mix: str = "none", mix_prob: float = 0.5, size: tuple[int, int] | None = None
             ) -> "ViewBank":
        """``flip=False`` for data whose mirror image is another class's (digits): crops only. ``mix="cutmix"``
        (crop `size` needed) mixes about `mix_prob` of views 1..K-1; its draws follow the crops' from the same
        generator, so the crops and flips are those of the un-mixed bank of the same seed."""
        if num_views < 1:
            raise ValueError(f"num_views={num_views} must be >= 1")
        if mix not in MIX_MODES:
            raise ValueError(f"mix={mix!r}: choose one of {MIX_MODES}")
        g = torch.Generator().manual_seed(seed)
        dy = torch.randint(0, 2 * pad + 1, (num_views, num_images), generator=g)
        dx = torch.randint(0, 2 * pad + 1, (num_views, num_images), generator=g)
        flips = torch.rand((num_views, num_images), generator=g) < 0.5
        flip = flips if flip else torch.zeros_like(flips)
        dy[0], dx[0], flip[0] = pad, pad, False
        bank = cls(dy, dx, flip)
        if mix == "cutmix":
            if size is None:
                raise ValueError("mix='cutmix' needs the crop size")
            bank.partner, bank.box = cutmix_boxes(num_views, num_images, size, mix_prob, g)
        return bank.to(device)

    def to(self, device: torch.device | str) -> "ViewBank":
        moved = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return ViewBank(**{k: None if t is None else t.to(device) for k, t in moved.items()})

    def batch(self, padded: torch.Tensor, idx: torch.Tensor, view: torch.Tensor, size: tuple[int, int]
              ) -> torch.Tensor:
        """Images idx, each in its own view number `view` (both (B,) on the images' device). A mixed view is the
        image's crop with the box filled from the partner's crop in the partner's own view of the same number."""
        own = crop_flip(padded, idx, self.dy[view, idx], self.dx[view, idx], self.flip[view, idx], size)
        if self.box is None:
            return own
        j = self.partner[view, idx]
        other = crop_flip(padded, j, self.dy[view, j], self.dx[view, j], self.flip[view, j], size)
        inside = box_mask(*self.box[view, idx].unbind(1), size)  # (B, h, w)
        return torch.where(inside[:, None], other, own)


def random_views(batch: int, pad: int, generator: torch.Generator, device: torch.device | str
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fresh random (dy, dx, flip) for a batch, drawn from the CPU generator so runs replay exactly."""
    dy = torch.randint(0, 2 * pad + 1, (batch,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (batch,), generator=generator)
    flip = torch.rand((batch,), generator=generator) < 0.5
    return dy.to(device), dx.to(device), flip.to(device)
