"""Building blocks shared by the model families: a binary layer block, the encoder and the student base class."""
from __future__ import annotations

import torch
from torch import nn

from candle_hw.models.quant import binary_act


class BinaryBlock(nn.Module):
    """[ConstantPad2d(-1)] -> binary QuantLinear/QuantConv2d -> BatchNorm -> binary QuantIdentity.

    The optional pad comes before an unpadded conv because a bipolar map padded with 0 has no 1-bit
    encoding; padding with -1 keeps every tap in {-1, +1}, so the compiler sees an ordinary ``Pad(-1)``.
    """

    def __init__(self, layer: nn.Module, bn: nn.Module, pad: nn.Module | None = None, act_bits: int = 1) -> None:
        super().__init__()
        self.pad = pad
        self.layer = layer
        self.bn = bn
        self.act = binary_act(act_bits)

    def pre_act(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad is not None:
            x = self.pad(x)
        return self.bn(self.layer(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.pre_act(x))


class ResidualBlock(BinaryBlock):
    """A block with an integer shortcut (Bi-Real/ReActNet-style, all-integer):
    act(round_int(BN(conv(x))) + x), where the conv branch is quantized to ``res_bits``-bit integers (scale 1)
    before the add, so the sum of branch and shortcut (x: ±1 or the multi-bit activation) is an exact integer.
    Shapes are preserved (padded conv, in = out channels)."""

    def __init__(self, layer: nn.Module, bn: nn.Module, pad: nn.Module | None, act_bits: int, res_bits: int) -> None:
        super().__init__(layer, bn, pad, act_bits)
        self.branch_quant = binary_act(res_bits)

    def pre_act(self, x: torch.Tensor) -> torch.Tensor:
        return self.branch_quant(super().pre_act(x)) + x


class DownsampleBlock(ResidualBlock):
    """A residual block that halves the map and changes the width (ReActNet's downsampling block, all-integer):
    act(round_int(BN(conv3x3_stride2(x))) + round_int(BN(conv1x1_stride2(x)))): the shortcut is a strided 1x1
    binary conv quantized to the same ``res_bits`` integers (scale 1) as the branch, so the sum stays exact."""

    def __init__(self, layer: nn.Module, bn: nn.Module, pad: nn.Module | None, act_bits: int, res_bits: int,
                 shortcut: nn.Module, shortcut_bn: nn.Module) -> None:
        super().__init__(layer, bn, pad, act_bits, res_bits)
        self.shortcut = shortcut
        self.shortcut_bn = shortcut_bn
        self.shortcut_quant = binary_act(res_bits)

    def pre_act(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.branch_quant(BinaryBlock.pre_act(self, x))
        return branch + self.shortcut_quant(self.shortcut_bn(self.shortcut(x)))


class Encoder(nn.Sequential):
    """Input quantizer and feature blocks; the last module is the last ``BinaryBlock`` (its output = features)."""

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(pre-binarisation BatchNorm output of the last block, binary encoder output)."""
        modules = list(self)
        for module in modules[:-1]:
            x = module(x)
        last = modules[-1]
        if not isinstance(last, BinaryBlock):  # ResidualBlock included
            raise TypeError(f"encoder must end in a BinaryBlock, not {type(last).__name__}")
        feat = last.pre_act(x)
        return feat, last.act(feat)


class BinaryStudent(nn.Module):
    """What training, export and the tests rely on (see candle_hw.models for the contract)."""

    arch: dict
    encoder: Encoder
    classifier: nn.Module
    feature_channels: int
    feature_hw: tuple[int, int] | None
    input_shape: tuple[int, ...]
    input_bits: int
    num_classes: int

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.encoder(x))

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat, out = self.encoder.forward_features(x)
        return feat, self.classifier(out)
