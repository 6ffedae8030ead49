"""Packed students: the .npz holds the same network as the model it came from; the shipped ones load, and each
compiles to a build whose functional simulator gives the very logits of its PyTorch network (float32, bit for bit)
and qonnx agrees, on random 8-bit images. The full test-set check (all 10,000 CIFAR-10 images, accuracies in
docs/results.md) is scripts/check_student.py; the part here needs no dataset."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from candle_hw.cli import main
from candle_hw.compile.pipeline import load_graph
from candle_hw.compile.verify import qonnx_forward_batched
from candle_hw.errors import UserError
from candle_hw.models import PRESETS, build_model, load_checkpoint, randomize_bn, sample_input
from candle_hw.models.packed import packed_meta, save_packed
from candle_hw.models.quant import is_binary_layer, weight_bits
from candle_hw.sim.functional import run_model

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
    # measured where it was trained (GPU), or on CPU for a student adjusted after training (`candle-hw adjust`)
    assert 0 < meta.get("test_accuracy_pytorch_gpu", meta.get("test_accuracy_pytorch_cpu", 0)) < 100
    layers = [m for m in model.modules() if is_binary_layer(m)]
    assert layers
    for m in layers:
        bits = weight_bits(m)
        levels = {-1.0, 1.0} if bits == 1 else set(range(-(2 ** (bits - 1) - 1), 2 ** (bits - 1)))
        assert set(torch.unique(m.weight).tolist()) <= levels
    weight_bits_total = sum(weight_bits(m) * m.weight.numel() for m in layers)
    assert 8 * path.stat().st_size < 1.6 * weight_bits_total  # the integer weights, compressed, and little else


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_student_compiles_and_simulates_bit_exact(path: Path, tmp_path: Path) -> None:
    onnx = tmp_path / "s.onnx"
    assert main(["export", str(path), "-o", str(onnx)]) == 0
    # A folding for 3,000 FPS on a device every shipped student fits (the default, fully folded, makes FIFO
    # sizing simulate ~10^7 cycles per frame).
    assert main(["compile", str(onnx), "-o", str(tmp_path / "b"), "--no-rtl", "-q", "--target", "xczu7ev",
                 "--fps", "3000"]) == 0
    x = np.random.default_rng(7).integers(0, 256, (12, 3, 32, 32)).astype(np.float32)
    x[0] = 0.0  # the extremes of the 8-bit input grid
    x[1] = 255.0
    with torch.no_grad():
        ref = load_checkpoint(path)(torch.from_numpy(x)).numpy()
    sim = run_model(load_graph(tmp_path / "b"), x)
    assert np.array_equal(_bits(sim), _bits(ref))
    q = qonnx_forward_batched(str(onnx), x[:3])
    assert np.array_equal(_bits(q), _bits(ref[:3]))
