"""Small Brevitas nets with multi-bit (2..4-bit, signed or unsigned) activations and binary weights (W1A2-style), for the
multi-bit tests at every level."""
from __future__ import annotations

import torch
from brevitas.nn import QuantIdentity
from torch import nn

from candle_hw.models.quant import BN_EPS, Uint8InputQuant, binary_act, binary_conv, binary_linear, input_quant


class SignedConstQuant(Uint8InputQuant):
    signed = True


def act(bits: int, max_val: float, signed: bool = False, narrow: bool = False) -> QuantIdentity:
    """``bits``-bit activation with a constant scale (exports one Quant): unsigned max_val / (2^bits - 1);
    signed max_val / 2^(bits-1), narrow max_val / (2^(bits-1) - 1) (Brevitas' constant scaling)."""
    if signed:
        return QuantIdentity(act_quant=SignedConstQuant, bit_width=bits, max_val=max_val, min_val=-max_val,
                             narrow_range=narrow, return_quant_tensor=False)
    return QuantIdentity(act_quant=Uint8InputQuant, bit_width=bits, max_val=max_val, narrow_range=narrow,
                         return_quant_tensor=False)


def last_max(bits: int, max_val: float, i: int, layers: list, signed: bool, narrow: bool) -> float:
    """The last activation gets a power-of-two scale (0.5): the float logits of the final binary layer are a
    function of its accumulator only then (compile/frontend.py refuses otherwise); earlier ones keep max_val."""
    if i != len(layers) - 1:
        return max_val
    levels = 2 ** (bits - 1) - int(narrow) if signed else 2 ** bits - 1 - int(narrow)
    return levels * 0.5


class MultiBitMLP(nn.Module):
    """input quant -> [binary QuantLinear -> BN -> n-bit act] per hidden width -> binary QuantLinear."""

    def __init__(self, in_features: int, hidden: list[int], bits: int, input_bits: int, classes: int = 4,
                 max_val: float = 3.0, signed: bool = False, narrow: bool = False, relu: bool = False,
                 binary: tuple[int, ...] = ()):
        super().__init__()
        self.input_shape = (in_features,)
        self.input_bits = input_bits
        blocks: list[nn.Module] = [input_quant(input_bits)]
        f = in_features
        for i, h in enumerate(hidden):
            # relu: BN -> ReLU -> Quant, as Brevitas' QuantReLU exports (Relu -> Quant)
            # hidden layers listed in ``binary`` end in a ±1 activation instead (a mix with 1-bit layers)
            quant = binary_act() if i in binary else act(bits, last_max(bits, max_val, i, hidden, signed, narrow), signed, narrow)
            blocks += [binary_linear(f, h), nn.BatchNorm1d(h, eps=BN_EPS), *([nn.ReLU()] if relu and i not in binary else []), quant]
            f = h
        blocks.append(binary_linear(f, classes))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MultiBitCNV(nn.Module):
    """input quant -> [3x3 binary conv -> BN -> n-bit act (-> max-pool, 2x2 or ``pool`` = (kernel, stride))] per
    entry -> Flatten -> binary FC."""

    def __init__(self, in_ch: int, img: int, convs: list[tuple[int, bool]], bits: int, input_bits: int,
                 classes: int = 4, max_val: float = 3.0, signed: bool = False, narrow: bool = False, pad: int = 0,
                 pool: tuple[int, int] = (2, 2)):
        super().__init__()
        self.input_shape = (in_ch, img, img)
        self.input_bits = input_bits
        blocks: list[nn.Module] = [input_quant(input_bits)]
        ch, hw = in_ch, img
        for i, (out, with_pool) in enumerate(convs):
            # pad > 0 zero-pads the convs after the first (a multi-bit map pads with the count of the value 0)
            blocks += [binary_conv(ch, out, padding=pad if i else 0), nn.BatchNorm2d(out, eps=BN_EPS), act(bits, last_max(bits, max_val, i, convs, signed, narrow), signed, narrow)]
            ch, hw = out, hw - 2 + (2 * pad if i else 0)
            if with_pool:
                blocks.append(nn.MaxPool2d(*pool))
                hw = (hw - pool[0]) // pool[1] + 1
        blocks += [nn.Flatten(), binary_linear(ch * hw * hw, classes)]
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
