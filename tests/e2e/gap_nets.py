"""Small Brevitas convnets ending in global average pooling (FINN's GlobalAccPool), for the tests at every level."""
from __future__ import annotations

import torch
from torch import nn

from candle_hw.models.blocks import BinaryBlock
from candle_hw.models.quant import BN_EPS, binary_act, binary_conv, binary_linear, input_quant


class GapNet(nn.Module):
    """input quant -> [binary conv (stride 1) -> BN -> sign] per entry -> [2x2 max-pool] -> GlobalAveragePool ->
    head. ``head="out"``: Flatten, the pooled averages are the output (the last conv is the classifier, no FC);
    ``head="fc"``: BatchNorm -> sign (or a ``head_bits``-bit quantizer) -> Flatten -> binary QuantLinear (FINN's
    GlobalAccPool + Thresholding). ``act_bits`` > 1: the convs' activations are multi-bit integers (the pool sums
    integers)."""

    def __init__(self, in_ch: int, img: int, convs: list[int], input_bits: int, head: str, pool: bool = False,
                 classes: int = 4, act_bits: int = 1, head_bits: int = 1):
        super().__init__()
        self.input_shape = (in_ch, img, img)
        self.input_bits = input_bits
        blocks: list[nn.Module] = [input_quant(input_bits)]
        ch = in_ch
        for out in convs:
            blocks.append(BinaryBlock(binary_conv(ch, out, 2), nn.BatchNorm2d(out, eps=BN_EPS), act_bits=act_bits))
            ch = out
        if pool:
            blocks.append(nn.MaxPool2d(2))
        blocks.append(nn.AdaptiveAvgPool2d(1))
        if head == "fc":
            self.head_bn = nn.BatchNorm2d(ch, eps=BN_EPS)
            blocks += [self.head_bn, binary_act(head_bits), nn.Flatten(), binary_linear(ch, classes)]
        else:
            blocks.append(nn.Flatten())
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
