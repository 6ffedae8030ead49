"""Brevitas quantizers and small layers whose export is exact integer arithmetic.

Every scale here is a constant 1.0 so that the exported QONNX graph computes on integers held in float32:
binary weights are exactly +-1, binary activations exactly +-1 (``BipolarQuant`` with scale 1, and
``x = 0 -> +1`` as both Brevitas and QONNX define it), and the 8-bit input is the raw pixel value 0..255
(``Quant`` with bitwidth 8, signed 0, scale 1, zero point 0). Brevitas' stock binary weight quantizer uses a
scale of 0.1, which makes accumulators non-integer and lets Brevitas and QONNX disagree in the last ulp.
"""
from __future__ import annotations

import torch
from brevitas.core.bit_width import BitWidthImplType
from brevitas.core.quant import QuantType
from brevitas.core.restrict_val import FloatToIntImplType, RestrictValueType
from brevitas.core.scaling import ScalingImplType
from brevitas.core.zero_point import ZeroZeroPoint
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from brevitas.quant.binary import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
from brevitas.inject import ExtendedInjector
from brevitas.quant.solver import ActQuantSolver, WeightQuantSolver
from torch import nn

# BNN-PYNQ's BatchNorm epsilon; the compiler reads the exported value, this only keeps models comparable.
BN_EPS = 1e-4

INPUT_BITS = (1, 8)


class BinaryWeightQuant(SignedBinaryWeightPerTensorConst):
    """Weights -> sign(w) in {-1, +1} (0 -> +1), scale exactly 1.0; clamps the float weights to [-1, 1]."""

    scaling_const = 1.0


class BinaryActQuant(SignedBinaryActPerTensorConst):
    """Activations -> {-1, +1} with scale 1.0 (x >= 0 -> +1); straight-through gradient clipped to [-1, 1]."""

    scaling_const = 1.0


class _IntConst(ExtendedInjector):
    """Integers with a constant bit width and a constant per-tensor scale, zero point 0, rounded: the part every
    integer quantizer here shares (signedness, range and scale are each quantizer's own)."""

    quant_type = QuantType.INT
    bit_width_impl_type = BitWidthImplType.CONST
    scaling_impl_type = ScalingImplType.CONST
    restrict_scaling_type = RestrictValueType.FP
    zero_point_impl = ZeroZeroPoint
    float_to_int_impl_type = FloatToIntImplType.ROUND
    scaling_per_output_channel = False


class _IntConstScale(_IntConst):
    """Signed narrow-range integers with a constant scale of 1.0 (BNN-PYNQ's CommonQuant): b bits give the
    levels -(2^(b-1)-1) .. 2^(b-1)-1, so 2 bits are {-1, 0, +1} and every product and sum stays an integer."""

    narrow_range = True
    signed = True
    scaling_const = 1.0


class IntWeightQuant(_IntConstScale, WeightQuantSolver):
    """Multi-bit weights (bit width given per layer as ``weight_bit_width``), scale exactly 1.0."""


class IntActQuant(_IntConstScale, ActQuantSolver):
    """Multi-bit activations (``bit_width`` per layer), scale exactly 1.0 when built by ``binary_act`` (which sets
    min/max to the integer range: Brevitas' const-scale solver makes the scale max_val / (2^(b-1) - 1))."""

    min_val = -1.0
    max_val = 1.0


class Uint8InputQuant(_IntConst, ActQuantSolver):
    """Unsigned 8-bit input with scale 1.0 and zero point 0: float pixel values 0..255 pass through unchanged
    (rounded, clipped to [0, 255]) and export as ``Quant(bitwidth=8, signed=0, narrow=0, scale=1, zeropt=0)``."""

    bit_width = 8
    narrow_range = False
    signed = False
    min_val = 0.0
    max_val = 255.0


def binary_act(bits: int = 1) -> QuantIdentity:
    """The activation quantizer: bipolar ±1 for 1 bit, else signed narrow-range integers (scale 1)."""
    if bits == 1:
        return QuantIdentity(act_quant=BinaryActQuant, return_quant_tensor=False)
    # the const-scale solver derives the scale from max_val / (2^(b-1) - 1): the range's ends give scale 1
    top = float(2 ** (int(bits) - 1) - 1)
    return QuantIdentity(act_quant=IntActQuant, bit_width=int(bits), min_val=-top, max_val=top,
                         return_quant_tensor=False)


def _weight_kwargs(bits: int) -> dict:
    if bits == 1:
        return {"weight_quant": BinaryWeightQuant}
    return {"weight_quant": IntWeightQuant, "weight_bit_width": int(bits)}


def binary_linear(in_features: int, out_features: int, bits: int = 1) -> QuantLinear:
    layer = QuantLinear(in_features, out_features, bias=False, return_quant_tensor=False, **_weight_kwargs(bits))
    # Uniform in [-1, 1] as BNN-PYNQ: the clamp keeps latent weights there, so start them spread over it.
    nn.init.uniform_(layer.weight, -1.0, 1.0)
    return layer


def binary_conv(in_ch: int, out_ch: int, kernel_size: int = 3, padding: int = 0, bits: int = 1) -> QuantConv2d:
    layer = QuantConv2d(in_ch, out_ch, kernel_size, padding=padding, bias=False, return_quant_tensor=False,
                        **_weight_kwargs(bits))
    nn.init.uniform_(layer.weight, -1.0, 1.0)
    return layer


class BipolarInput(nn.Module):
    """1-bit input as TFC_1W1A of the QONNX zoo: x in [0, 1] -> sign(2x - 1), i.e. +1 iff x >= 0.5.

    Exports as ``Mul(2) -> Sub(1) -> BipolarQuant(scale 1)``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.act = binary_act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(2.0 * x - 1.0)


def input_quant(input_bits: int) -> nn.Module:
    """The first module of every model: maps the float input the QONNX graph takes to its integer domain."""
    if input_bits == 8:
        return QuantIdentity(act_quant=Uint8InputQuant, return_quant_tensor=False)
    if input_bits == 1:
        return BipolarInput()
    raise ValueError(f"input_bits={input_bits!r} is not supported (expected one of {INPUT_BITS})")


class LogitScale(nn.Module):
    """Positive learnable scalar temperature on the integer logits (FINN's TensorNorm plays this role).

    ``abs`` rather than ``exp`` keeps it positive because abs is exact: the exported constant (folded by
    qonnx) is bit-identical to the value PyTorch multiplies by, so the float logits match exactly.
    """

    def __init__(self, init: float) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale.abs()


class LogitBias(nn.Module):
    """Per-class integer offsets added to the last layer's integer dot products, before ``LogitScale``.

    Post-hoc logit adjustment (``candle_hw.training.posthoc``) writes them; a fresh one adds zeros. On the
    accumulator's integer grid, so the exported Add is exact in float32 and in hardware it is a per-class
    constant on the last accumulator.
    """

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.register_buffer("offset", torch.zeros(int(num_classes)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.offset


def is_binary_layer(module: nn.Module) -> bool:
    """A quantized-weight layer (1-bit or multi-bit): what export and deployment replace by its integer weights."""
    return isinstance(module, (QuantLinear, QuantConv2d))


def weight_bits(module: nn.Module) -> int:
    """Bit width of a quantized-weight layer's weights."""
    return int(module.quant_weight().bit_width)
