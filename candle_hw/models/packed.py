"""Trained students in a small, exact file: 1-bit weights as packed bits, everything else as stored.

``save_packed(model, path)`` writes a compressed ``.npz``: the arch as JSON, each quantized layer's integer
weights (1 bit -> ``numpy.packbits`` of w > 0, i.e. 8 weights a byte; multi-bit -> int8) and every other
state_dict entry unchanged. ``load_packed(path)`` rebuilds the very same network (weights are integers, the
rest is copied bit for bit), ~30x smaller than a float32 checkpoint of a binary net.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from candle_hw.errors import UserError
from candle_hw.models.quant import is_binary_layer, weight_bits
from candle_hw.models.registry import build_model

_BITS, _INT = "::bits", "::int8"


def save_packed(model: nn.Module, path: str | Path, **meta) -> Path:
    """Write ``model`` (any zoo student) to ``path`` (.npz); ``meta`` (JSON-able) is stored beside the arch."""
    path = Path(path)
    quantized = {f"{name}.weight": module for name, module in model.named_modules() if is_binary_layer(module)}
    arrays: dict[str, np.ndarray] = {"__arch__": np.array(json.dumps(model.arch)),
                                     "__meta__": np.array(json.dumps(meta))}
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if key in quantized:
                q = quantized[key].quant_weight().value.detach().cpu().numpy()
                if weight_bits(quantized[key]) == 1:
                    arrays[key + _BITS] = np.packbits((q > 0).reshape(-1))
                    arrays[key + "::shape"] = np.array(q.shape, dtype=np.int64)
                else:
                    arrays[key + _INT] = q.astype(np.int8)
            else:
                arrays[key] = value.detach().cpu().numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)
    return path


def load_packed(path: str | Path) -> nn.Module:
    """The student stored by ``save_packed``, in eval mode."""
    path = Path(path)
    try:
        blob = np.load(path, allow_pickle=False)
        arch = json.loads(str(blob["__arch__"]))
    except (OSError, KeyError, ValueError) as exc:
        raise UserError(f"packed student {path}: not readable ({type(exc).__name__}: {exc})") from None
    state: dict[str, torch.Tensor] = {}
    for key in blob.files:
        if key.startswith("__") or key.endswith("::shape"):
            continue
        if key.endswith(_BITS):
            name = key[: -len(_BITS)]
            shape = tuple(int(s) for s in blob[name + "::shape"])
            bits = np.unpackbits(blob[key], count=int(np.prod(shape))).reshape(shape)
            state[name] = torch.from_numpy(np.where(bits == 1, 1.0, -1.0).astype(np.float32))
        elif key.endswith(_INT):
            state[key[: -len(_INT)]] = torch.from_numpy(blob[key].astype(np.float32))
        else:
            state[key] = torch.from_numpy(blob[key].copy())
    model = build_model(arch)
    model.load_state_dict(state)
    return model.eval()


def packed_meta(path: str | Path) -> dict:
    return json.loads(str(np.load(path, allow_pickle=False)["__meta__"]))
