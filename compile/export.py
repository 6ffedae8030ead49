"""Brevitas student -> QONNX file that qonnx's ModelWrapper loads and ``execute_onnx`` runs bit-exactly.

The exported graph (after qonnx cleanup) for the zoo in candle_hw.models, in order:

- input: ``Quant(bitwidth 8, signed 0, narrow 0, scale 1, zeropt 0)`` for 8-bit models, or
  ``Mul(2) -> Sub(1) -> BipolarQuant(scale 1)`` for 1-bit-input MLPs (x >= 0.5 -> +1);
- per binary layer: ``[Pad(-1)] -> Conv | MatMul`` whose weight input is ``BipolarQuant(W, scale 1)`` over an
  initializer that already holds exactly ±1 (the latent float weights are replaced by their sign before
  export, so the initializer itself is the binary weight), then ``BatchNormalization -> BipolarQuant(scale 1)``;
  ``MaxPool`` (2x2) follows the BipolarQuant; ``Flatten`` between the input/conv part and the first MatMul;
- head: ``MatMul`` (integer-valued logits) optionally followed by ``Mul(scalar > 0)`` (the logit scale).
"""
from __future__ import annotations

import copy
import os
import tempfile
import warnings
from pathlib import Path

import torch

with warnings.catch_warnings():
    # brevitas.export pulls in its graph-equalisation module, which warns about an optional CUDA kernel
    # package on import; it is irrelevant to export and would break the CLI's one-line error output.
    warnings.filterwarnings("ignore", message="fast_hadamard_transform package not found")
    warnings.filterwarnings("ignore", message="brevitas.fx is deprecated", category=DeprecationWarning)
    from brevitas.export import export_qonnx
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.cleanup import cleanup_model
from torch import nn

from candle_hw.models.quant import is_binary_layer


def binarize_weights(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode whose binary layers' latent weights are replaced by sign(w) (0 -> +1),
    the values Brevitas computes with; the forward function is unchanged."""
    model = copy.deepcopy(model).eval()
    with torch.no_grad():
        for module in model.modules():
            if is_binary_layer(module):
                module.weight.copy_(module.quant_weight().value)
    return model


def export_qonnx_model(model: nn.Module, out_path: str | Path,
                       input_shape: tuple[int, ...] | None = None) -> Path:
    """Export ``model`` to QONNX at ``out_path`` and return the path.

    ``input_shape`` includes the batch dimension; default ``(1, *model.input_shape)``. The file is written
    to a temporary name in the same folder and renamed, so a failed export leaves nothing half-written.
    """
    out_path = Path(out_path)
    if input_shape is None:
        input_shape = (1, *model.input_shape)
    exported = binarize_weights(model)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with torch.no_grad():
            export_qonnx(exported, args=torch.zeros(tuple(input_shape)), export_path=str(tmp), dynamo=False)
        wrapper = cleanup_model(ModelWrapper(str(tmp)))
        wrapper.save(str(tmp))
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path
