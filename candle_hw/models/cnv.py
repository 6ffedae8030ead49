"""Binary VGG-class convolutional networks (BNN-PYNQ CNV)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from torch import nn

from candle_hw.models.blocks import BinaryBlock, BinaryStudent, DownsampleBlock, Encoder, ResidualBlock
from candle_hw.models.quant import BN_EPS, LogitBias, LogitScale, binary_act, binary_conv, binary_linear, input_quant

POOL = "M"
RESIDUAL = "R"  # a shape-preserving block with an integer shortcut at the current width
DOWNSAMPLE = "D"  # a residual block that halves the map and doubles the width (strided 1x1 conv shortcut)
SHORTCUTS = ("conv", "avgpool")  # a "D" block's shortcut: strided 1x1 conv, or Bi-Real's AvgPool 2x2 -> 1x1 conv
BLOCKS = (POOL, RESIDUAL, DOWNSAMPLE)
KERNEL = 3
PAD_VALUES = (-1, 0)


def scale_channels(channels: int, width: float) -> int:
    """Channel count times ``width``; a scaled count is rounded to a multiple of 8 (at least 8) so that
    SIMD/PE foldings stay plentiful; ``width == 1`` keeps the count as given."""
    if width == 1.0:
        return int(channels)
    return max(8, int(round(channels * width / 8.0)) * 8)


class CNV(BinaryStudent):
    """8-bit input quant -> [conv3x3 -> BN -> sign (-> MaxPool2d(2) for each 'M')] ... -> flatten -> FC head.

    Defaults are FINN's CNV-W1A1: 32x32x3 input, conv 64, 64, pool, 128, 128, pool, 256, 256 unpadded, then
    FC 256 -> 512 -> 512 -> 10. Max-pool follows the sign (conv -> BN -> sign -> pool), so it pools ±1 values.
    ``padding > 0``: the first conv zero-pads its integer input (pixel 0); every later conv pads its ±1
    input with ``pad_value``: -1 through an explicit ``ConstantPad2d(padding, -1)`` in front of an unpadded
    conv (every tap stays ±1), or 0 through the conv's own padding (what Brevitas users write; a zero tap has
    no 1-bit encoding, so the compiler needs zero-padding support for it).
    ``weight_bits`` / ``act_bits`` > 1: signed narrow-range integer weights / activations with scale 1 (BNN-PYNQ
    CNV-W1A2/W2A2 style; 2 bits = {-1, 0, 1}). An ``"R"`` entry is a residual block (see ``ResidualBlock``) at
    the current width; its conv branch is quantized to ``res_bits`` before the integer shortcut add. A ``"D"``
    entry is a downsampling residual block (see ``DownsampleBlock``): stride 2, twice the channels, its shortcut a
    strided 1x1 binary conv quantized to ``res_bits`` like the branch; with ``shortcut="avgpool"`` (Bi-Real's
    downsampling) an AvgPool 2x2, quantized like the activations (a sign at 1 bit), then an unstrided 1x1 binary
    conv (the map must then be even at every "D": the pool floors, the strided branch rounds up).
    Input: float (N, in_ch, img, img) pixel values 0..255. Flatten order is PyTorch's (C, H, W).
    The encoder ends at the last conv block; pools after it belong to the classifier so that the encoder
    output and ``forward_features``' pre-activation have the same (H, W) = ``feature_hw``.
    """

    def __init__(self, channels: Sequence[int | str] = (64, 64, POOL, 128, 128, POOL, 256, 256),
                 fc: Sequence[int] = (512, 512), num_classes: int = 10, in_ch: int = 3, img: int = 32,
                 width: float = 1.0, padding: int = 0, logit_scale: bool = True, pad_value: int = -1,
                 weight_bits: int = 1, act_bits: int = 1, res_bits: int = 4, shortcut: str = "conv",
                 logit_bias: bool = False) -> None:
        super().__init__()
        spec = [c if c in BLOCKS else int(c) for c in channels]
        fc = [int(f) for f in fc]
        _validate(spec, fc, num_classes, in_ch, img, width, padding)
        _validate_quant(spec, padding, pad_value, weight_bits, act_bits, res_bits)
        if shortcut not in SHORTCUTS:
            raise ValueError(f"cnv: shortcut={shortcut!r} must be one of {SHORTCUTS}")
        self.arch = {"family": "cnv", "channels": spec, "fc": fc, "num_classes": int(num_classes),
                     "in_ch": int(in_ch), "img": int(img), "width": float(width), "padding": int(padding),
                     "logit_scale": bool(logit_scale), "pad_value": int(pad_value),
                     "weight_bits": int(weight_bits), "act_bits": int(act_bits), "res_bits": int(res_bits),
                     "shortcut": shortcut}
        if logit_bias:  # only when set: every arch (and checkpoint) written before it existed stays the same
            self.arch["logit_bias"] = True
        self.input_shape = (int(in_ch), int(img), int(img))
        self.input_bits = 8
        self.num_classes = int(num_classes)

        q = _Quant(padding, pad_value, weight_bits, act_bits, res_bits)
        last_conv = max(i for i, c in enumerate(spec) if c != POOL)
        encoder: list[nn.Module] = [input_quant(8)]
        ch, hw = int(in_ch), int(img)
        for i, c in enumerate(spec[: last_conv + 1]):
            if c == POOL:
                encoder.append(nn.MaxPool2d(2))
                hw = _pooled(hw, i)
                continue
            if c == RESIDUAL:
                encoder.append(_conv_block(ch, ch, q, first=False, residual=True))
                continue
            if c == DOWNSAMPLE:
                if shortcut == "avgpool" and hw % 2:
                    raise ValueError(f"cnv: entry #{i} (D) gets a {hw}x{hw} map; an avgpool shortcut needs an even map")
                encoder.append(_downsample_block(ch, 2 * ch, q, shortcut))
                ch, hw = 2 * ch, (hw - 1) // 2 + 1  # 3x3 padded 1 and 1x1, both stride 2
                continue
            out = scale_channels(c, width)
            encoder.append(_conv_block(ch, out, q, first=(i == 0)))
            ch, hw = out, _convolved(hw, padding, i)
        self.encoder = Encoder(*encoder)
        self.feature_channels = ch
        self.feature_hw = (hw, hw)

        head: list[nn.Module] = []
        for i in range(last_conv + 1, len(spec)):
            head.append(nn.MaxPool2d(2))
            hw = _pooled(hw, i)
        head.append(nn.Flatten())
        features = ch * hw * hw
        for out in fc:
            head.append(BinaryBlock(binary_linear(features, out, weight_bits), nn.BatchNorm1d(out, eps=BN_EPS),
                                    act_bits=act_bits))
            features = out
        head.append(binary_linear(features, num_classes, weight_bits))
        if logit_bias:
            head.append(LogitBias(num_classes))
        if logit_scale:
            head.append(LogitScale(1.0 / math.sqrt(features)))
        self.classifier = nn.Sequential(*head)


class _Quant(NamedTuple):
    padding: int
    pad_value: int
    weight_bits: int
    act_bits: int
    res_bits: int


def _conv_block(in_ch: int, out_ch: int, q: _Quant, first: bool, residual: bool = False) -> BinaryBlock:
    bn = nn.BatchNorm2d(out_ch, eps=BN_EPS)
    if first or q.padding == 0 or q.pad_value == 0:
        conv, pad = binary_conv(in_ch, out_ch, KERNEL, padding=q.padding, bits=q.weight_bits), None
    else:
        conv = binary_conv(in_ch, out_ch, KERNEL, padding=0, bits=q.weight_bits)
        pad = nn.ConstantPad2d(q.padding, float(q.pad_value))
    if residual:
        return ResidualBlock(conv, bn, pad, q.act_bits, q.res_bits)
    return BinaryBlock(conv, bn, pad, q.act_bits)


def _downsample_block(in_ch: int, out_ch: int, q: _Quant, shortcut: str = "conv") -> DownsampleBlock:
    block = _conv_block(in_ch, out_ch, q, first=False, residual=True)
    block.layer.stride = (2, 2)
    conv = binary_conv(in_ch, out_ch, 1, padding=0, bits=q.weight_bits)
    if shortcut == "avgpool":  # the average is quantized before the conv: a conv reads integers only
        path: nn.Module = nn.Sequential(nn.AvgPool2d(2), binary_act(q.act_bits), conv)
    else:
        conv.stride = (2, 2)
        path = conv
    return DownsampleBlock(block.layer, block.bn, block.pad, q.act_bits, q.res_bits, path,
                           nn.BatchNorm2d(out_ch, eps=BN_EPS))


def _convolved(hw: int, padding: int, index: int) -> int:
    out = hw + 2 * padding - KERNEL + 1
    if out < 1:
        raise ValueError(f"cnv: conv #{index} gets a {hw}x{hw} map, too small for a {KERNEL}x{KERNEL} kernel "
                         f"with padding {padding}")
    return out


def _pooled(hw: int, index: int) -> int:
    if hw < 2:
        raise ValueError(f"cnv: pool #{index} gets a {hw}x{hw} map, too small for 2x2 max-pool")
    return hw // 2


def _validate_quant(spec: list, padding: int, pad_value: int, weight_bits: int, act_bits: int,
                    res_bits: int) -> None:
    if pad_value not in PAD_VALUES:
        raise ValueError(f"cnv: pad_value={pad_value} must be one of {PAD_VALUES}")
    for name, bits in (("weight_bits", weight_bits), ("act_bits", act_bits)):
        if not 1 <= bits <= 8:
            raise ValueError(f"cnv: {name}={bits} must be in 1..8")
    if RESIDUAL in spec or DOWNSAMPLE in spec:
        if 2 * padding != KERNEL - 1:
            raise ValueError(f"cnv: residual blocks need shape-preserving convs (padding={(KERNEL - 1) // 2}), "
                             f"got padding={padding}")
        if not 2 <= res_bits <= 8:
            raise ValueError(f"cnv: res_bits={res_bits} must be in 2..8")


def _validate(spec: list, fc: list[int], num_classes: int, in_ch: int, img: int, width: float,
              padding: int) -> None:
    if not spec or spec[0] in BLOCKS:
        raise ValueError(f"cnv: channels={spec} must start with a conv (pooling 8-bit pixels is not binary)")
    if any(c not in BLOCKS and c < 1 for c in spec) or any(f < 1 for f in fc):
        raise ValueError(f"cnv: channel and fc widths must be positive, got channels={spec}, fc={fc}")
    if num_classes < 1 or in_ch < 1 or img < 1:
        raise ValueError(f"cnv: num_classes={num_classes}, in_ch={in_ch}, img={img} must be positive")
    if not width > 0:
        raise ValueError(f"cnv: width={width} must be positive")
    if padding < 0:
        raise ValueError(f"cnv: padding={padding} must be >= 0")
