"""Building models from JSON-able arch dicts, the preset zoo, checkpoints and input samples."""
from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn

from candle_hw.errors import UserError
from candle_hw.models.cnv import CNV
from candle_hw.models.mlp import MLP

FAMILIES: dict[str, type[nn.Module]] = {"mlp": MLP, "cnv": CNV}

PRESETS: dict[str, dict] = {
    # BNN-PYNQ TFC/SFC/LFC: MNIST 28x28, 1-bit input (x >= 0.5), three hidden layers.
    "tfc": {"family": "mlp", "in_features": 784, "hidden": [64, 64, 64], "num_classes": 10, "input_bits": 1,
            "in_shape": [1, 28, 28]},
    "sfc": {"family": "mlp", "in_features": 784, "hidden": [256, 256, 256], "num_classes": 10, "input_bits": 1,
            "in_shape": [1, 28, 28]},
    "lfc": {"family": "mlp", "in_features": 784, "hidden": [1024, 1024, 1024], "num_classes": 10,
            "input_bits": 1, "in_shape": [1, 28, 28]},
    # FINN CNV-W1A1: CIFAR-10 32x32x3, 8-bit input, unpadded 3x3 convs, FC 256 -> 512 -> 512 -> 10.
    "cnv_w1a1": {"family": "cnv", "channels": [64, 64, "M", 128, 128, "M", 256, 256], "fc": [512, 512],
                 "num_classes": 10, "in_ch": 3, "img": 32, "width": 1.0, "padding": 0},
    # CNV-W1A1 twice as wide (every conv and FC layer doubled): the wider FINN-mappable student for CANDLE
    # (4x the MACs, ~4x the weight bits); still XNOR-popcount from layer 2 on.
    "cnv_w1a1_x2": {"family": "cnv", "channels": [128, 128, "M", 256, 256, "M", 512, 512], "fc": [1024, 1024],
                    "num_classes": 10, "in_ch": 3, "img": 32, "width": 1.0, "padding": 0},
    # Padded students (issue 10). CNV-W1A1 with 3x3 convs padded by 1 (±1 maps padded with -1, which the compiler
    # accepts today) and a third pool: 32 -> 16 -> 8 -> 4, FC 4096 -> 512 -> 512 -> 10.
    "cnv_w1a1_pad": {"family": "cnv", "channels": [64, 64, "M", 128, 128, "M", 256, 256, "M"], "fc": [512, 512],
                     "num_classes": 10, "in_ch": 3, "img": 32, "width": 1.0, "padding": 1},
    # VGG-small (LQ-Nets / ReActNet's CIFAR baseline) binarised throughout: conv 128-128-M-256-256-M-512-512-M,
    # one FC 8192 -> 10; ±1 maps padded with -1 (compiles today) ...
    "vgg_small_w1a1": {"family": "cnv", "channels": [128, 128, "M", 256, 256, "M", 512, 512, "M"], "fc": [],
                       "num_classes": 10, "in_ch": 3, "img": 32, "width": 1.0, "padding": 1},
    # ... and with the conv's own zero padding (Brevitas' usual form; needs the compiler's zero-padding support).
    "vgg_small_w1a1_zp": {"family": "cnv", "channels": [128, 128, "M", 256, 256, "M", 512, 512, "M"], "fc": [],
                          "num_classes": 10, "in_ch": 3, "img": 32, "width": 1.0, "padding": 1, "pad_value": 0},
    # FINN's CNV-W1A2 / CNV-W2A2 topology: 2-bit activations (and weights) = {-1, 0, 1}, scale 1. QONNX only:
    # the compiler has no multi-bit layers yet.
    "cnv_w1a2": {"family": "cnv", "channels": [64, 64, "M", 128, 128, "M", 256, 256], "fc": [512, 512],
                 "num_classes": 10, "in_ch": 3, "img": 32, "width": 1.0, "padding": 0, "act_bits": 2},
    "cnv_w2a2": {"family": "cnv", "channels": [64, 64, "M", 128, 128, "M", 256, 256], "fc": [512, 512],
                 "num_classes": 10, "in_ch": 3, "img": 32, "width": 1.0, "padding": 0, "weight_bits": 2,
                 "act_bits": 2},
    # CNV-W2A2 with every 3x3 conv zero-padded by 1 (a 2-bit activation has a 0) and a third pool: the maps stay
    # 32 -> 16 -> 8 -> 4 instead of shrinking by 2 per conv, FC 4096 -> 512 -> 512 -> 10 (~2.4x CNV's MACs).
    "cnv_w2a2_pad": {"family": "cnv", "channels": [64, 64, "M", 128, 128, "M", 256, 256, "M"], "fc": [512, 512],
                     "num_classes": 10, "in_ch": 3, "img": 32, "width": 1.0, "padding": 1, "pad_value": 0,
                     "weight_bits": 2, "act_bits": 2},
    # Binary residual network (Bi-Real/ReActNet-style, all-integer): every "R" block adds its 4-bit-quantized
    # 3x3 conv branch to the ±1 shortcut before the sign; every "D" block halves the map and doubles the width,
    # its shortcut a strided 1x1 binary conv quantized to 4 bits like the branch. Stages 64-128-256 as
    # ResNet-18's CIFAR variants, then max-pool and one FC 4096 -> 10.
    "resnet_w1a1": {"family": "cnv", "channels": [64, "R", "R", "D", "R", "D", "R", "M"],
                    "fc": [], "num_classes": 10, "in_ch": 3, "img": 32, "width": 1.0, "padding": 1, "res_bits": 4},
    # CNV-class but small enough for tests and the demo: 16x16x3 -> 14 -> 12 -> pool 6 -> 4 -> 2, FC 128 -> 64.
    "cnv_small": {"family": "cnv", "channels": [16, 16, "M", 32, 32], "fc": [64], "num_classes": 10,
                  "in_ch": 3, "img": 16, "width": 1.0, "padding": 0},
    # scikit-learn digits (8x8, 64 inputs), 8-bit input: 64-64-64-10.
    "mlp_digits": {"family": "mlp", "in_features": 64, "hidden": [64, 64], "num_classes": 10, "input_bits": 8,
                   "in_shape": [1, 8, 8]},
}


def build_model(arch: dict | str) -> nn.Module:
    """Build a fresh model from ``{"family": "cnv"|"mlp", **kwargs}`` (or a preset name); ``model.arch`` is the
    complete JSON-able arch (defaults filled in), so ``build_model(model.arch)`` rebuilds the same topology."""
    if isinstance(arch, str):
        if arch not in PRESETS:
            raise ValueError(f"unknown preset {arch!r} (known: {', '.join(sorted(PRESETS))})")
        arch = PRESETS[arch]
    kwargs = copy.deepcopy(dict(arch))
    family = kwargs.pop("family", None)
    if family not in FAMILIES:
        raise ValueError(f"arch family={family!r} is not one of {sorted(FAMILIES)}")
    return FAMILIES[family](**kwargs)


def load_checkpoint(path: str | Path) -> nn.Module:
    """Rebuild the model stored as ``{"arch": ..., "state_dict": ..., ...}`` by ``torch.save`` (or a packed
    ``.npz`` student from ``candle_hw.models.packed``); eval mode."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path}: no such file")
    if path.suffix == ".npz":  # a packed student (candle_hw.models.packed)
        from candle_hw.models.packed import load_packed
        return load_packed(path)
    try:
        # Checkpoints may carry training extras (configs, numpy metrics) that the weights-only unpickler
        # refuses; a checkpoint is the user's own training output, as trusted as their training code.
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many unrelated types for a corrupt or foreign file
        raise UserError(f"checkpoint {path}: not a readable torch checkpoint ({type(exc).__name__}: "
                        f"{_first_line(exc)})") from exc
    if not isinstance(ckpt, dict) or "arch" not in ckpt or "state_dict" not in ckpt:
        found = sorted(ckpt)[:8] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise UserError(f"checkpoint {path}: expected a dict with keys 'arch' and 'state_dict', found {found}")
    try:
        model = build_model(ckpt["arch"])
    except (TypeError, ValueError) as exc:
        raise UserError(f"checkpoint {path}: bad arch {ckpt['arch']!r}: {_first_line(exc)}") from exc
    try:
        model.load_state_dict(ckpt["state_dict"])
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise UserError(f"checkpoint {path}: state_dict does not fit arch {ckpt['arch']!r}: "
                        f"{_first_line(exc)}") from exc
    return model.eval()


def save_checkpoint(model: nn.Module, path: str | Path, **extra) -> Path:
    """Write the checkpoint format ``load_checkpoint`` reads (what training writes)."""
    path = Path(path)
    torch.save({"arch": copy.deepcopy(model.arch), "state_dict": model.state_dict(), **extra}, path)
    return path


def sample_input(model: nn.Module, n: int, seed: int = 0) -> torch.Tensor:
    """Random inputs of the model's value domain, shape (n, *model.input_shape): integer pixel values 0..255
    for 8-bit inputs; for 1-bit inputs x in [0, 1] with about 1 in 8 exactly 0.5 (binarises to +1)."""
    gen = torch.Generator().manual_seed(int(seed))
    shape = (int(n), *model.input_shape)
    if model.input_bits == 8:
        return torch.randint(0, 256, shape, generator=gen).to(torch.float32)
    x = torch.rand(shape, generator=gen)
    ties = torch.rand(shape, generator=gen) < 0.125
    return torch.where(ties, torch.full_like(x, 0.5), x)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
