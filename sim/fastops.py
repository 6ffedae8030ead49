"""Fast forms of golden ops for the functional simulator, each equal to its golden function on every input the
simulator gives it (tests/sim/test_fastops.py compares them on random data, threshold ties and type bounds).

Why they exist: the golden functions are written for clarity and for any input (int64 accumulators, bounds read
from the data). On multi-bit layers that cost as much as the products themselves: an int64 round trip of every
accumulator, three int64 compares per output, a max/min pass over every input, int64 activations copied into
each sliding window. Here:
- the float32-exactness bound of a product comes from the node's input *type* and the weights (no pass over the
  data), and the accumulator stays in float32, where the thresholds are compared (clipped to the accumulator's
  range first, so they are exact float32 integers and every comparison keeps its outcome);
- a threshold count is kept in the narrowest unsigned type that holds it (uint8 for up to 255 thresholds): a pool
  moves an eighth of the bytes of int64, and the conversion to the next product's float32 reads one byte;
- a max-pool is k*k elementwise maxima of strided slices instead of a small-axis reduction of a strided view.
"""
from __future__ import annotations

import numpy as np

from candle_hw.sim import golden
from candle_hw.types import IntType


def count_dtype(n: int) -> type:
    """The narrowest unsigned dtype that holds a count of 0..n thresholds."""
    return np.uint8 if n <= 0xFF else np.uint16 if n <= 0xFFFF else np.int64


def magnitude(t: IntType) -> int:
    """The largest |value| of the type (1 for BIPOLAR)."""
    return 1 if t.bipolar else max(-t.min, t.max)


def product_bound(in_type: IntType, w: np.ndarray) -> int:
    """A bound on every partial sum of x @ w for x of ``in_type``: max|x| * max|w| * fan-in."""
    wmax = max(int(w.max(initial=0)), -int(w.min(initial=0)))
    return magnitude(in_type) * wmax * w.shape[0]


def threshold_count(acc: np.ndarray, thresholds: np.ndarray, bound: int) -> np.ndarray:
    """golden.multithreshold(acc, thresholds) (then to_bipolar with one threshold) for an accumulator of integer
    values with |acc| <= bound < 2**24 in any dtype that holds them (float32 from the product): the count in
    count_dtype(n), or int8 ±1 with one threshold.

    acc >= T keeps its outcome when T is clipped to [-bound, bound + 1] (below: always true; above: always false),
    and a clipped T is an integer of magnitude <= 2**24, exact in float32."""
    if bound >= golden.F32_EXACT:
        raise ValueError(f"threshold_count: bound {bound} is not below 2**24")
    t = np.clip(np.asarray(thresholds), -bound, bound + 1).astype(np.float32)
    n = t.shape[1]
    if n == 1:
        return golden.to_bipolar(acc >= t[:, 0])
    dtype = count_dtype(n)
    if n > golden.LOOP_THRESHOLDS:
        return (acc[..., None] >= t).sum(axis=-1, dtype=dtype)
    out = np.greater_equal(acc, t[:, 0]).view(np.uint8)
    if dtype is not np.uint8:
        out = out.astype(dtype)
    hit = np.empty(acc.shape, dtype=np.bool_)
    for i in range(1, n):
        np.greater_equal(acc, t[:, i], out=hit)
        out += hit.view(np.uint8)
    return out


def integer_mvu(x: np.ndarray, w: np.ndarray, thresholds: np.ndarray | None, in_type: IntType) -> np.ndarray:
    """golden.mvu(x, w, thresholds, binary_xnor=False) for x (V, mw) of element values of ``in_type``: the count
    (count_dtype), int8 ±1 with one threshold, or the int64 accumulator without thresholds."""
    bound = product_bound(in_type, w)
    if bound >= golden.F32_EXACT:
        return golden.mvu(x, w, thresholds, False)
    acc = np.matmul(x.astype(np.float32, copy=False), w.astype(np.float32))
    if thresholds is None or thresholds.shape[-1] == 0:
        return acc.astype(np.int64)
    return threshold_count(acc, thresholds, bound)


def maxpool(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """golden.maxpool(x, kernel, stride) for x (N, H, W, C), in x's dtype."""
    _, h, w, _ = x.shape
    oh, ow = (h - kernel) // stride + 1, (w - kernel) // stride + 1
    taps = [x[:, ky:ky + stride * (oh - 1) + 1:stride, kx:kx + stride * (ow - 1) + 1:stride]
            for ky in range(kernel) for kx in range(kernel)]
    out = taps[0].copy()
    for tap in taps[1:]:
        np.maximum(out, tap, out=out)
    return out
