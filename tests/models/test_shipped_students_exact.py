"""Every shipped student, through the compiler: its build's functional simulator gives the very logits of the
PyTorch network it was packed from (float32, bit for bit) and qonnx agrees, on random 8-bit images. The full
test-set check (all 10,000 CIFAR-10 images, accuracies in docs/results.md) is scripts/check_student.py; this is
the part that needs no dataset."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from candle_hw.cli import main
from candle_hw.compile.pipeline import load_graph
from candle_hw.compile.verify import qonnx_forward_batched
from candle_hw.models import load_checkpoint
from candle_hw.sim.functional import run_model

SHIPPED = sorted((Path(__file__).resolve().parents[2] / "candle_hw" / "models" / "students").glob("*.npz"))


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
