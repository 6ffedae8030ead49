"""Shared helpers for the model zoo tests: export a model and run it with qonnx's reference executor."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


def run_qonnx(path: Path, x: np.ndarray) -> np.ndarray:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    wrapper = ModelWrapper(str(path))
    return execute_onnx(wrapper, {wrapper.graph.input[0].name: x})[wrapper.graph.output[0].name]


@pytest.fixture
def qonnx_run() -> Callable[[Path, np.ndarray], np.ndarray]:
    """(onnx path, input) -> qonnx execute_onnx output."""
    return run_qonnx


@pytest.fixture
def export_and_run(tmp_path: Path) -> Callable[[torch.nn.Module, torch.Tensor, str], tuple[np.ndarray, np.ndarray]]:
    """(model, x, name) -> (Brevitas output, qonnx execute_onnx output of the exported file) for input x."""
    from candle_hw.compile.export import export_qonnx_model

    def _run(model: torch.nn.Module, x: torch.Tensor, name: str = "model") -> tuple[np.ndarray, np.ndarray]:
        model.eval()
        with torch.no_grad():
            expected = model(x).numpy()
        path = export_qonnx_model(model, tmp_path / f"{name}.onnx", input_shape=tuple(x.shape))
        return expected, run_qonnx(path, x.numpy())

    return _run
