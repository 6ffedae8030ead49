"""Binary multilayer perceptrons of the TFC/SFC/LFC family (BNN-PYNQ FC)."""
from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from candle_hw.models.blocks import BinaryBlock, BinaryStudent, Encoder
from candle_hw.models.quant import BN_EPS, INPUT_BITS, LogitBias, LogitScale, binary_linear, input_quant


class MLP(BinaryStudent):
    """input quant -> Flatten -> [QuantLinear -> BatchNorm1d -> sign] x len(hidden) -> QuantLinear [-> scale].

    Input: float tensor of shape (N, *in_shape) holding what the QONNX model takes: pixel values 0..255 for
    ``input_bits=8``, x in [0, 1] for ``input_bits=1`` (binarised as x >= 0.5, like TFC_1W1A).
    Output: integer-valued logits (the ±1 dot products) times a positive scalar if ``logit_scale``.
    """

    def __init__(self, in_features: int = 784, hidden: Sequence[int] = (64, 64, 64), num_classes: int = 10,
                 input_bits: int = 1, in_shape: Sequence[int] | None = (1, 28, 28),
                 logit_scale: bool = True, logit_bias: bool = False) -> None:
        super().__init__()
        hidden = [int(h) for h in hidden]
        in_shape = [int(in_features)] if in_shape is None else [int(s) for s in in_shape]
        _validate(in_features, hidden, num_classes, input_bits, in_shape)
        self.arch = {"family": "mlp", "in_features": int(in_features), "hidden": hidden,
                     "num_classes": int(num_classes), "input_bits": int(input_bits), "in_shape": in_shape,
                     "logit_scale": bool(logit_scale)}
        if logit_bias:  # only when set: every arch (and checkpoint) written before it existed stays the same
            self.arch["logit_bias"] = True
        self.input_shape = tuple(in_shape)
        self.input_bits = int(input_bits)
        self.num_classes = int(num_classes)
        self.feature_channels = hidden[-1]
        self.feature_hw = None

        blocks: list[nn.Module] = [input_quant(input_bits), nn.Flatten()]
        width = int(in_features)
        for out in hidden:
            blocks.append(BinaryBlock(binary_linear(width, out), nn.BatchNorm1d(out, eps=BN_EPS)))
            width = out
        self.encoder = Encoder(*blocks)
        head: list[nn.Module] = [binary_linear(width, num_classes)]
        if logit_bias:
            head.append(LogitBias(num_classes))
        if logit_scale:
            head.append(LogitScale(1.0 / math.sqrt(width)))
        self.classifier = nn.Sequential(*head)


def _validate(in_features: int, hidden: list[int], num_classes: int, input_bits: int,
              in_shape: list[int]) -> None:
    if not hidden:
        raise ValueError("mlp: hidden must name at least one layer (the encoder output is the last hidden layer)")
    if any(h < 1 for h in hidden) or in_features < 1 or num_classes < 1:
        raise ValueError(f"mlp: widths must be positive, got in_features={in_features}, hidden={hidden}, "
                         f"num_classes={num_classes}")
    if input_bits not in INPUT_BITS:
        raise ValueError(f"mlp: input_bits={input_bits} is not supported (expected one of {INPUT_BITS})")
    if math.prod(in_shape) != in_features:
        raise ValueError(f"mlp: in_shape={in_shape} has {math.prod(in_shape)} elements, in_features={in_features}")
