"""Biases of Conv/Gemm folded into the tail: an Add on the bias-free dot product, and when that is exact.

onnxruntime adds a Conv's bias after the whole dot product (one rounding: fl(S + b)), and so does Gemm when
the reduction fits one block of its matrix kernel; above that, Gemm initialises its output with the bias and
adds each K-block's partial sum to it, rounding each time, so its result depends on how the accumulator splits
over the blocks. Both agree with fl(S + b) whenever every partial sum plus the bias is a float32 number (a bias
on the accumulator's grid, e.g. a quantized bias); otherwise ``check_margin`` bounds the difference and
proves, per channel, that no value within the bound crosses the switch (docs/architecture.md). The same
margin check covers a dot product that float32 cannot compute exactly (non-dyadic input x weight scales).
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable

import numpy as np
import onnx
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper

from candle_hw.compile.tails import Tail, TailError, run_tail

# Gemm reductions of at most this many inputs add the bias once (onnxruntime's MLAS sgemm blocks K by 256;
# half of it leaves room for kernels with smaller blocks)
GEMM_BLOCK_K = 128


def bias_add(model: ModelWrapper, node: onnx.NodeProto, bias: np.ndarray, mh: int, layout: str) -> onnx.NodeProto:
    """An Add node (dot + bias) standing for the bias inside ``node``; its constant is put into ``model``."""
    v = np.asarray(bias, dtype=np.float32)
    if v.size not in (1, mh) or (v.ndim > 1 and v.shape[-1] != v.size):
        raise TailError(f"{node.name} ({node.op_type}): bias of shape {list(v.shape)} is not per channel ({mh})")
    vec = np.broadcast_to(v.reshape(-1), (mh,)).astype(np.float32)
    key = f"{node.name}__bias"
    model.set_initializer(key, vec.reshape(mh, 1, 1) if layout == "nchw" else vec)
    return helper.make_node("Add", [f"{node.output[0]}__dot", key], [node.output[0]], name=f"{node.name}.bias")


def _lsb_exp(x: float) -> int:
    """Exponent of the least significant set bit of a finite nonzero float."""
    f = Fraction(float(x))
    n = abs(f.numerator)
    return ((n & -n).bit_length() - 1) - (f.denominator.bit_length() - 1)


def dot_exact(zscale: np.ndarray, dmax: int) -> np.ndarray:
    """Per channel: whether qonnx's float32 MatMul/Conv is exact for every input, so it equals
    accumulator_value: inputs q*s_in, products q*s_in*s_c and every partial sum are then multiples of
    2^lsb(zscale) below 2^24 of them (zscale = s_in*s_c, |q| <= dmax, |partial sums| <= dmax*zscale)."""
    return np.array([z / math.ldexp(1.0, _lsb_exp(z)) * dmax < 2**24 for z in zscale.tolist()], dtype=bool)


def bias_exact(node: onnx.NodeProto, bias: np.ndarray, zscale: np.ndarray, mw: int, binary: bool, lo: int,
               hi: int) -> bool:
    """Whether onnxruntime's result is fl32(dot + bias) for every input: a Conv, a one-block Gemm, or every
    partial sum plus bias exactly representable (all are multiples of 2^min(lsb(b), lsb(zscale)) below
    2^24 of them)."""
    if node.op_type != "Gemm" or mw <= GEMM_BLOCK_K:
        return True
    dmax = mw if binary else max(abs(lo), abs(hi))
    b = np.broadcast_to(np.asarray(bias, dtype=np.float32).reshape(-1), zscale.shape)
    for bc, zc in zip(b.tolist(), zscale.tolist()):
        if bc == 0:
            continue
        q = min(_lsb_exp(bc), _lsb_exp(zc))
        if (abs(bc) + dmax * zc) >= math.ldexp(1.0, 24 + q):
            return False
    return True


def dot_error(zscale: np.ndarray, k: int | np.ndarray, qmax: int, exact: np.ndarray,
              rounded_weights: np.ndarray | bool = False, value: np.ndarray | None = None) -> np.ndarray:
    """Bound on |qonnx's float32 dot product - d * zscale| per channel (0 where ``dot_exact``).

    With L = k * qmax * zscale, the largest sum of |terms| (qmax: the largest |input x weight| integer product;
    ``k`` the number of terms, or each channel's count of nonzero weights: a zero weight's product is exactly
    ±0 and adding it is exact in any order): each input fl(q*s_in), each product and, where
    ``rounded_weights``, each weight's fl(q*s_c) rounds with relative error <= 2^-24, together at most
    2^-24 * L per source; each of the (at most k) additions rounds by at most half an ulp of its result, a
    partial sum over some subset of the terms, whatever the order. Without ``value`` that is at most L. With
    ``value`` (|the dot product's value|, per channel), a subset sum A also equals value - (the rest), so
    |A| <= min(L1(A), value + L1(rest)) <= (L + value) / 2, and half an ulp of it is at most 2^(e - 24) with
    2^e <= that bound (plus the error itself, for the rounded partial sums); the rounding of our own
    candidate is check_margin's."""
    k = np.asarray(k, dtype=np.float64)
    big = k * qmax * np.asarray(zscale, dtype=np.float64)
    sources = 2 + np.asarray(rounded_weights, dtype=np.float64)
    loose = (k + sources) * 2.0**-24 * big
    if value is None:
        return np.where(exact, 0.0, loose)
    top = (big + np.abs(np.asarray(value, dtype=np.float64))) / 2 + loose
    half_ulp = np.exp2(np.floor(np.log2(np.maximum(top, np.finfo(np.float64).tiny))) - 24)
    return np.where(exact, 0.0, np.minimum(loose, k * half_ulp + sources * 2.0**-24 * big))


def check_margin(model: ModelWrapper, name: str, node: onnx.NodeProto, tail: Tail, end: onnx.NodeProto,
                 layout: str, thresholds: np.ndarray, flip: np.ndarray, bounds: tuple[int, int],
                 dot_value: Callable[[np.ndarray], np.ndarray], dot_err: Callable[[np.ndarray], np.ndarray],
                 bias_inexact: bool, cut: float = 0.0) -> None:
    """Refuse a channel whose decision could depend on float32 rounding qonnx does in another order than ours.

    qonnx's value at the tail's input differs from ours, v = fl32(dot) (+ bias), by at most delta: the dot
    product's error bound ``dot_err(|fl32(dot)|)`` (per channel, dot_error) plus, for a Gemm float bias off the accumulator's grid, (blocks + 1)
    half-ulps of |b| + max|dot| (one rounding per block addition), plus one ulp of v. With the tail monotone,
    the decision is the same for every value in [v - delta, v + delta] iff it is the same at both ends; checked
    by qonnx on the accumulators on both sides of each switch (or the range ends of a constant channel).
    The decision is quantizer output > ``cut`` (0 for a bipolar step; between two levels of a multi-bit one)."""
    lo, hi = bounds
    mh = thresholds.size
    t = thresholds.reshape(-1)
    const_on, const_off = ~flip & (t == lo), ~flip & (t == hi + 1)
    rising = ~flip & ~const_on & ~const_off
    a1 = np.where(rising, t - 1, np.where(flip, -t, lo))
    a2 = np.where(rising, t, np.where(flip, -t + 1, hi))
    want1 = np.where(rising, False, np.where(flip, True, const_on))
    want2 = np.where(rising, True, np.where(flip, False, const_on))
    has_bias = bool(tail.nodes) and tail.nodes[0].name == f"{node.name}.bias"
    b = tail.consts[0][0] if has_bias else np.zeros(mh, np.float32)
    dmax = np.abs(dot_value(np.array([[lo] * mh, [hi] * mh]))).max(axis=0).astype(np.float64)
    bias_err = np.zeros(mh)
    if bias_inexact:
        blocks = -(-node_inputs(node, model) // GEMM_BLOCK_K)
        bias_err = (blocks + 1) * 0.5 * np.spacing(np.float32(np.abs(b) + dmax)).astype(np.float64)
    probes, deltas, dot_errs = [], [], []
    for a in (a1, a2):
        dot = dot_value(a[None, :])[0]
        dot_errs.append(np.asarray(dot_err(np.abs(dot).astype(np.float64) + np.spacing(np.abs(dot))), np.float64))
        v = (dot + b).astype(np.float32)
        deltas.append(dot_errs[-1] + bias_err)
        d = deltas[-1] + np.spacing(np.abs(v)).astype(np.float64)
        v = v.astype(np.float64)
        probes += [np.nextafter(np.float32(v - d), np.float32(-np.inf)),
                   np.nextafter(np.float32(v + d), np.float32(np.inf))]
    nodes = list(tail.nodes[1:] if has_bias else tail.nodes) + [end]
    out = run_tail(model, nodes, node.output[0], end.output[0], np.stack(probes).astype(np.float32), layout)
    want = np.stack([want1, want1, want2, want2])
    bad = np.argwhere((out > cut) != want)
    if bad.size:
        c, side = int(bad[0][1]), int(bad[0][0]) // 2
        acc = int((a1, a2)[side][c])
        delta = deltas[side]
        why = (f"{node.name}'s float bias {float(b[c])!r} (added inside onnxruntime's K-blocked Gemm sum)"
               if bias_inexact and dot_errs[side][c] == 0 else
               f"the float32 rounding of {node.name}'s dot product (its input x weight scale is not exact in float32)")
        raise TailError(
            f"{name}: channel {c}: the switch lies within {delta[c]:.3g} of the value at accumulator {acc}, where "
            f"{why}, not the accumulator, decides; use power-of-two (or few-bit) scales or a quantized bias")


def node_inputs(node: onnx.NodeProto, model: ModelWrapper) -> int:
    """The reduction length K of a Gemm (its first input's last dimension)."""
    return int(model.get_tensor_shape(node.input[0])[-1])
