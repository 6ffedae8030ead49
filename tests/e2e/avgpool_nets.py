"""Small Brevitas convnets with windowed average pooling (AccPool + Thresholding), for the tests at every level:
a pool on a ±1 or multi-bit map before a quantizer, and a residual block whose downsampling shortcut is an
average pool (Bi-Real / ReActNet style), optionally followed by a 1x1 binary conv."""
from __future__ import annotations

import torch
from torch import nn

from candle_hw.models.blocks import BinaryBlock
from candle_hw.models.quant import BN_EPS, binary_act, binary_conv, binary_linear, input_quant


class AvgPoolNet(nn.Module):
    """input quant -> binary conv 2x2 -> BN -> act (sign or ``act_bits`` signed narrow) -> AvgPool(k, s) ->
    [BN] -> quantizer (sign or ``pool_bits``) -> Flatten -> binary FC, or (``head="out"``) the pool's
    1x1 average as the output."""

    def __init__(self, in_ch: int, img: int, ch: int, input_bits: int, kernel: int, stride: int, act_bits: int = 1,
                 pool_bits: int = 1, bn: bool = False, head: str = "fc", classes: int = 3):
        super().__init__()
        self.input_shape = (in_ch, img, img)
        self.input_bits = input_bits
        blocks: list[nn.Module] = [input_quant(input_bits),
                                   BinaryBlock(binary_conv(in_ch, ch, 2), nn.BatchNorm2d(ch, eps=BN_EPS),
                                               act_bits=act_bits),
                                   nn.AvgPool2d(kernel, stride)]
        hw = (img - 1 - kernel) // stride + 1
        self.pool_bn = nn.BatchNorm2d(ch, eps=BN_EPS) if bn else None
        if bn:
            blocks.append(self.pool_bn)
        if head == "fc":
            blocks += [binary_act(pool_bits), nn.Flatten(), binary_linear(ch * hw * hw, classes)]
        else:
            blocks.append(nn.Flatten())
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class AvgShortcutNet(nn.Module):
    """input quant -> stem conv 3x3 (zero padded) -> BN -> sign = x; one downsampling residual block:
    branch = conv 3x3 stride 2 (zero padded) -> BN -> quant(``bits``), shortcut = AvgPool 2x2 -> quant(``bits``)
    (``conv1x1``: AvgPool 2x2 -> sign -> 1x1 binary conv -> BN -> quant(``bits``)); their sum requantized to a
    sign; Flatten -> binary FC. The map is even, so both paths give (H/2, W/2)."""

    def __init__(self, in_ch: int, img: int, ch: int, out_ch: int, input_bits: int, bits: int, conv1x1: bool,
                 classes: int = 3):
        super().__init__()
        self.input_shape = (in_ch, img, img)
        self.input_bits = input_bits
        self.inp = input_quant(input_bits)
        self.stem = nn.Sequential(binary_conv(in_ch, ch, 3, padding=1), nn.BatchNorm2d(ch, eps=BN_EPS), binary_act())
        conv = binary_conv(ch, out_ch, 3, padding=1)
        conv.stride = (2, 2)
        self.branch = nn.Sequential(conv, nn.BatchNorm2d(out_ch, eps=BN_EPS), binary_act(bits))
        if conv1x1:
            self.shortcut = nn.Sequential(nn.AvgPool2d(2), binary_act(), binary_conv(ch, out_ch, 1),
                                          nn.BatchNorm2d(out_ch, eps=BN_EPS), binary_act(bits))
        else:
            assert ch == out_ch
            self.shortcut = nn.Sequential(nn.AvgPool2d(2), binary_act(bits))
        self.act = binary_act()
        self.fc = binary_linear(out_ch * (img // 2) ** 2, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(self.inp(x))
        z = self.act(self.branch(x) + self.shortcut(x))
        return self.fc(torch.flatten(z, 1))
