"""Brevitas binary students (weights and activations ±1) whose QONNX export is exact integer arithmetic.

Contract used by training, export and tests:

- ``build_model(arch)`` with ``arch = {"family": "cnv"|"mlp", **kwargs}`` (or a name in ``PRESETS``);
  every model keeps the full JSON-able arch as ``model.arch``.
- ``model.encoder``: input -> binary output of the last encoder block ((N, C, H, W) for CNV, (N, F) for MLP);
  ``model.classifier``: encoder output -> logits (N, num_classes); ``forward(x) = classifier(encoder(x))``.
- ``model.feature_channels`` (C), ``model.feature_hw`` ((H, W) or None for MLP), ``model.input_shape``
  (without batch), ``model.input_bits`` (8: pixel values 0..255, 1: x in [0, 1] binarised as x >= 0.5).
- ``model.forward_features(x) -> (feat, logits)``, feat = the last encoder BatchNorm output (real valued).
- Checkpoints: ``torch.save({"arch": model.arch, "state_dict": model.state_dict(), ...}, path)``;
  ``load_checkpoint(path)`` rebuilds the model in eval mode.
- ``randomize_bn(model, seed)``: random, non-trivial BatchNorm statistics including ties and negative gammas.
"""
from candle_hw.models.bn_init import randomize_bn
from candle_hw.models.cnv import CNV
from candle_hw.models.mlp import MLP
from candle_hw.models.registry import FAMILIES, PRESETS, build_model, load_checkpoint, sample_input, save_checkpoint

__all__ = ["CNV", "FAMILIES", "MLP", "PRESETS", "build_model", "load_checkpoint", "randomize_bn", "sample_input",
           "save_checkpoint"]
