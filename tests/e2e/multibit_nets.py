"""Small Brevitas nets with multi-bit (2..4-bit unsigned) activations and binary weights (W1A2-style), for the
multi-bit tests at every level."""
from __future__ import annotations

import torch
from brevitas.nn import QuantIdentity
from torch import nn

from candle_hw.models.quant import BN_EPS, Uint8InputQuant, binary_conv, binary_linear, input_quant


def uint_act(bits: int, max_val: float) -> QuantIdentity:
    """Unsigned ``bits``-bit activation with the constant scale max_val / (2^bits - 1) (exports one Quant)."""
    return QuantIdentity(act_quant=Uint8InputQuant, bit_width=bits, max_val=max_val,
                         return_quant_tensor=False)


def last_max(bits: int, max_val: float, i: int, layers: list) -> float:
    """The last activation gets a power-of-two scale (0.5): the float logits of the final binary layer are a
    function of its accumulator only then (compile/frontend.py refuses otherwise); earlier ones keep max_val."""
    return (2 ** bits - 1) * 0.5 if i == len(layers) - 1 else max_val


class MultiBitMLP(nn.Module):
    """input quant -> [binary QuantLinear -> BN -> uint act] per hidden width -> binary QuantLinear."""

    def __init__(self, in_features: int, hidden: list[int], bits: int, input_bits: int, classes: int = 4,
                 max_val: float = 3.0):
        super().__init__()
        self.input_shape = (in_features,)
        self.input_bits = input_bits
        blocks: list[nn.Module] = [input_quant(input_bits)]
        f = in_features
        for i, h in enumerate(hidden):
            blocks += [binary_linear(f, h), nn.BatchNorm1d(h, eps=BN_EPS), uint_act(bits, last_max(bits, max_val, i, hidden))]
            f = h
        blocks.append(binary_linear(f, classes))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MultiBitCNV(nn.Module):
    """input quant -> [3x3 binary conv -> BN -> uint act (-> 2x2 max-pool)] per entry -> Flatten -> binary FC."""

    def __init__(self, in_ch: int, img: int, convs: list[tuple[int, bool]], bits: int, input_bits: int,
                 classes: int = 4, max_val: float = 3.0):
        super().__init__()
        self.input_shape = (in_ch, img, img)
        self.input_bits = input_bits
        blocks: list[nn.Module] = [input_quant(input_bits)]
        ch, hw = in_ch, img
        for i, (out, pool) in enumerate(convs):
            blocks += [binary_conv(ch, out), nn.BatchNorm2d(out, eps=BN_EPS), uint_act(bits, last_max(bits, max_val, i, convs))]
            ch, hw = out, hw - 2
            if pool:
                blocks.append(nn.MaxPool2d(2))
                hw //= 2
        blocks += [nn.Flatten(), binary_linear(ch * hw * hw, classes)]
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
