"""Packed students: the .npz holds the same network as the model it came from; the shipped ones load."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from candle_hw.errors import UserError
from candle_hw.models import PRESETS, build_model, load_checkpoint, randomize_bn, sample_input
from candle_hw.models.packed import packed_meta, save_packed
from candle_hw.models.quant import is_binary_layer, weight_bits

SHIPPED = sorted((Path(__file__).resolve().parents[2] / "candle_hw" / "models" / "students").glob("*.npz"))


@pytest.mark.parametrize("arch", [
    {"family": "cnv", "channels": [6, "M", 8], "fc": [12], "img": 8, "num_classes": 4},
    {"family": "cnv", "channels": [6, "R", "M"], "fc": [], "img": 8, "padding": 1, "weight_bits": 2,
     "act_bits": 2, "num_classes": 4},
    PRESETS["mlp_digits"],
])
def test_packed_roundtrip_is_the_same_network(arch: dict, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model(arch)
    randomize_bn(model, 2)
    model.eval()
    path = save_packed(model, tmp_path / "s.npz", note="x")
    back = load_checkpoint(path)
    x = sample_input(model, 6, 1)
    with torch.no_grad():
        assert torch.equal(model(x), back(x))
    assert back.arch == model.arch and packed_meta(path) == {"note": "x"}


def test_unreadable_packed_file_is_a_user_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(UserError, match="bad.npz"):
        load_checkpoint(bad)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_students_load_as_quantized_networks(path: Path) -> None:
    model = load_checkpoint(path)
    meta = packed_meta(path)
    assert model.arch == build_model(model.arch).arch and meta["rho"] in (10, 100)
    assert 0 < meta["test_accuracy_pytorch_gpu"] < 100
    layers = [m for m in model.modules() if is_binary_layer(m)]
    assert layers
    for m in layers:
        bits = weight_bits(m)
        levels = {-1.0, 1.0} if bits == 1 else set(range(-(2 ** (bits - 1) - 1), 2 ** (bits - 1)))
        assert set(torch.unique(m.weight).tolist()) <= levels
    weight_bits_total = sum(weight_bits(m) * m.weight.numel() for m in layers)
    assert 8 * path.stat().st_size < 1.6 * weight_bits_total  # the integer weights, compressed, and little else
