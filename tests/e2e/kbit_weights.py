"""k-bit (2..4) weights for the small multi-bit test nets: every hidden QuantLinear/QuantConv2d of a net is
replaced by one with an integer weight quantizer, either the zoo's (signed narrow range, constant scale
1/(2^(b-1) - 1): {-1, 0, 1} at 2 bits, as BNN-PYNQ's W2A2) or Brevitas' per-output-channel float scale (scales
absorbed into the next thresholds). The last layer keeps its 1-bit weights unless ``last`` is set (a last layer
with a non-power-of-two scale is refused: its float output would depend on float32 rounding)."""
from __future__ import annotations

import torch
from brevitas.nn import QuantConv2d, QuantLinear
from brevitas.quant import Int8WeightPerChannelFloat

from candle_hw.models.quant import IntWeightQuant


def _replacement(m, bits: int, per_channel_float: bool):
    quant = Int8WeightPerChannelFloat if per_channel_float else IntWeightQuant
    kw = dict(bias=False, weight_quant=quant, weight_bit_width=bits, return_quant_tensor=False)
    if isinstance(m, QuantLinear):
        new = QuantLinear(m.in_features, m.out_features, **kw)
    else:
        new = QuantConv2d(m.in_channels, m.out_channels, m.kernel_size, padding=m.padding, **kw)
    with torch.no_grad():
        # spread the weights over every level (both quantizers span [-1, 1])
        new.weight.copy_(torch.rand(new.weight.shape) * 2 - 1)
    return new


def with_weight_bits(net: torch.nn.Module, bits: int, per_channel_float: bool = False, last: bool = False):
    """``net`` with k-bit weights in place of its 1-bit ones (see the module docstring); returns ``net``."""
    seq = net.net
    layers = [i for i, m in enumerate(seq) if isinstance(m, (QuantLinear, QuantConv2d))]
    for i in layers if last else layers[:-1]:
        seq[i] = _replacement(seq[i], bits, per_channel_float)
    return net
