"""Small Brevitas convnets whose binary convs zero-pad their ±1 maps (padding=1 on QuantConv2d, as users write
VGG/ResNet-style BNNs), for the zero-padding tests at every level."""
from __future__ import annotations

import torch
from brevitas.nn import QuantConv2d
from torch import nn

from candle_hw.models.blocks import BinaryBlock
from candle_hw.models.quant import BN_EPS, BinaryWeightQuant, binary_linear, input_quant


def padded_conv(in_ch: int, out_ch: int, stride: int, padding: int = 1) -> QuantConv2d:
    layer = QuantConv2d(in_ch, out_ch, 3, stride=stride, padding=padding, bias=False,
                        weight_quant=BinaryWeightQuant, return_quant_tensor=False)
    nn.init.uniform_(layer.weight, -1.0, 1.0)
    return layer


class ZeroPadNet(nn.Module):
    """input quant -> [3x3 binary conv zero-padded by ``pad`` (stride s_i) -> BN -> sign] per entry -> Flatten ->
    QuantLinear.

    ``input_bits=8``: the first conv zero-pads an integer map (pixel 0, representable); every other conv pads a
    ±1 map with 0. ``input_bits=1``: every conv, the first too, zero-pads a ±1 map. ``explicit_pad``: the ±1
    maps are padded by ``ConstantPad2d(pad, 0)`` in front of an unpadded conv (QONNX: Pad(0) -> Conv).
    """

    def __init__(self, in_ch: int, img: int, convs: list[tuple[int, int]], input_bits: int, classes: int = 5,
                 explicit_pad: bool = False, pad: int = 1):
        super().__init__()
        self.input_shape = (in_ch, img, img)
        self.input_bits = input_bits
        blocks: list[nn.Module] = [input_quant(input_bits)]
        ch, hw = in_ch, img
        for i, (out, stride) in enumerate(convs):
            # explicit_pad: the ±1 maps are zero-padded by a ConstantPad2d(1, 0) (an ONNX Pad(0)) instead
            zero = nn.ConstantPad2d(pad, 0.0) if explicit_pad and (i or input_bits == 1) else None
            conv = padded_conv(ch, out, stride, padding=0 if zero is not None else pad)
            blocks.append(BinaryBlock(conv, nn.BatchNorm2d(out, eps=BN_EPS), pad=zero))
            ch, hw = out, (hw + 2 * pad - 3) // stride + 1
        blocks += [nn.Flatten(), binary_linear(ch * hw * hw, classes)]
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
