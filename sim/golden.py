"""One golden integer function per dataflow op (the reference every simulator, testbench and test reuses).

All functions take and return numpy arrays of *element values*: BIPOLAR tensors hold -1/+1, integer tensors
their integer values. Inputs may be any numeric dtype that holds the integers exactly (the simulator passes
float32 containers to avoid conversions); outputs are int8 (BIPOLAR) or int64. Feature maps are channel-last with a leading batch axis, (N, H, W, C);
vectors are (N, ..., K). Exactness: the products below are formed either in int64 or in float32 on operands
whose every partial sum is an integer of magnitude < 2**24 (exactly representable), which is checked.
"""
from __future__ import annotations

import numpy as np

F32_EXACT = 1 << 24
LOOP_THRESHOLDS = 16


def _exact_matmul(x: np.ndarray, w: np.ndarray, bound: int) -> np.ndarray:
    """x @ w for integer arrays, int64 result; BLAS float32 when every partial sum is below 2**24."""
    if bound < F32_EXACT:
        return np.matmul(x.astype(np.float32, copy=False), w.astype(np.float32, copy=False)).astype(np.int64)
    return np.matmul(x.astype(np.int64), w.astype(np.int64))


def bipolar_dot(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """z = x @ w for x in {-1,+1}^(..., K) and w in {-1,+1}^(K, M)."""
    return _exact_matmul(x, w, w.shape[0])


def xnor_popcount(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """P = number of positions where x and w agree (x, w bipolar): the XNOR-popcount, P = (x.w + K) / 2."""
    k = w.shape[0]
    return (bipolar_dot(x, w) + k) >> 1


def xnor_popcount_bits(x_bits: np.ndarray, w_bits: np.ndarray) -> np.ndarray:
    """Definitional XNOR-popcount on {0,1} bits, for tests: sum_k [x_k == w_k]."""
    x_bits = np.asarray(x_bits, dtype=np.int64)
    w_bits = np.asarray(w_bits, dtype=np.int64)
    return (x_bits[..., :, None] == w_bits[None, :, :]).sum(axis=-2)


def integer_matmul(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """acc = x @ w for integer (or ±1) x (..., K) and integer (or ±1) weights w (K, M): the non-XNOR unit."""
    x = np.asarray(x)
    w = np.asarray(w)
    wmax = max(int(w.max(initial=0)), -int(w.min(initial=0)))
    bound = max(int(x.max(initial=0)), -int(x.min(initial=0))) * wmax * w.shape[0]  # no |x| temporary
    return _exact_matmul(x, w, bound)


def multithreshold(acc: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """out[..., c] = sum_i [acc[..., c] >= T[c, i]] (FINN/qonnx MultiThreshold with >=); T is (C, n).

    With one threshold per channel the result is the bool [acc >= T] (0/1)."""
    t = np.asarray(thresholds)
    if t.shape[-1] == 1:
        return acc >= t[:, 0]
    if t.shape[-1] > LOOP_THRESHOLDS:
        return (acc[..., None] >= t).sum(axis=-1).astype(np.int64)
    # a few thresholds (k-bit activations): one compare per threshold on the contiguous (..., C) accumulator is
    # ~4x faster than broadcasting to (..., C, n) and reducing the short last axis
    out = np.zeros(acc.shape, dtype=np.int64)
    for i in range(t.shape[-1]):
        out += acc >= t[:, i]
    return out


def to_bipolar(bits: np.ndarray) -> np.ndarray:
    """{0,1} -> {-1,+1}."""
    b = np.asarray(bits)
    b = b.view(np.int8) if b.dtype == np.bool_ else b.astype(np.int8)
    return 2 * b - np.int8(1)


def mvu(
    x: np.ndarray, w: np.ndarray, thresholds: np.ndarray | None, binary_xnor: bool,
    padded: np.ndarray | None = None,
) -> np.ndarray:
    """Matrix-vector unit: accumulate (XNOR-popcount P, or the integer dot x . w), then threshold.

    x is (V, mw). With one threshold per channel the result is BIPOLAR (-1/+1); with n > 1 it is the count in
    [0, n]; without thresholds it is the accumulator itself. ``padded`` (V, mw) bool marks the taps of a
    zero-padded ±1 window (binary_xnor only): they count 0 in the dot product, and the accumulator is
    acc = sum_{k not padded} 2*[x_k == W_k] + (number of padded taps) = z + mw, z the zero-padded dot.
    """
    if padded is not None:
        acc = bipolar_dot(np.where(padded, 0, x), w) + w.shape[0]
    else:
        acc = xnor_popcount(x, w) if binary_xnor else integer_matmul(x, w)
    if thresholds is None or thresholds.shape[-1] == 0:
        return acc
    out = multithreshold(acc, thresholds)
    return to_bipolar(out) if thresholds.shape[1] == 1 else out


def padded_rows_cols(ifm_dim: tuple[int, int], kernel: int, stride: int, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Which kernel rows (OH, k) and columns (OW, k) of each output row/column's window fall outside the image."""
    def axis(n: int) -> np.ndarray:
        o = (n + 2 * pad - kernel) // stride + 1
        pos = np.arange(o)[:, None] * stride - pad + np.arange(kernel)[None, :]
        return (pos < 0) | (pos >= n)

    return axis(ifm_dim[0]), axis(ifm_dim[1])


def padded_taps(ifm_dim: tuple[int, int], kernel: int, stride: int, pad: int, channels: int) -> np.ndarray:
    """(OH*OW, k*k*channels) bool: the window elements ((ky, kx, c) order) that lie in the padding."""
    rows, cols = padded_rows_cols(ifm_dim, kernel, stride, pad)
    taps = rows[:, None, :, None] | cols[None, :, None, :]  # (OH, OW, ky, kx)
    return np.repeat(taps.reshape(len(rows) * len(cols), kernel * kernel), channels, axis=1)


def sliding_window(x: np.ndarray, kernel: int, stride: int, pad: int, pad_value: int) -> np.ndarray:
    """(N, H, W, C) -> (N, OH, OW, k*k*C), window elements in (ky, kx, c) order (channel fastest)."""
    if pad:
        x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=pad_value)
    v = np.lib.stride_tricks.sliding_window_view(x, (kernel, kernel), axis=(1, 2))  # N, OH', OW', C, ky, kx
    v = v[:, ::stride, ::stride]
    n, oh, ow, c = v.shape[:4]
    return np.ascontiguousarray(v.transpose(0, 1, 2, 4, 5, 3)).reshape(n, oh, ow, kernel * kernel * c)


def maxpool(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """(N, H, W, C) -> (N, OH, OW, C) max over k x k windows, stride s, no padding (OR on bipolar bits)."""
    v = np.lib.stride_tricks.sliding_window_view(x, (kernel, kernel), axis=(1, 2))[:, ::stride, ::stride]
    return v.max(axis=(-2, -1))


def acc_pool(x: np.ndarray, kernel: int, stride: int, bipolar: bool) -> np.ndarray:
    """(N, H, W, C) -> (N, OH, OW, C) int64 sums over k x k windows, stride s, no padding; on a BIPOLAR map the
    count of +1s in each window (AccPool; an average pool before its division)."""
    x = np.asarray(x, dtype=np.int64)
    v = np.lib.stride_tricks.sliding_window_view((x > 0).astype(np.int64) if bipolar else x, (kernel, kernel),
                                                 axis=(1, 2))[:, ::stride, ::stride]
    return v.sum(axis=(-2, -1))


def global_acc_pool(x: np.ndarray, bipolar: bool) -> np.ndarray:
    """(N, H, W, C) -> (N, C) int64 per-channel sums over all pixels; on a BIPOLAR map the count of +1s."""
    x = np.asarray(x, dtype=np.int64)
    return (x > 0).sum(axis=(1, 2)) if bipolar else x.sum(axis=(1, 2))


def label_select(x: np.ndarray, k: int) -> np.ndarray:
    """(N, L) -> (N, k) indices of the k largest values, largest first; ties: the lower index first."""
    if k == 1:
        return np.argmax(x, axis=-1)[:, None].astype(np.int64)
    return np.argsort(-np.asarray(x, dtype=np.int64), axis=-1, kind="stable")[:, :k].astype(np.int64)


def element_values(x: np.ndarray, t) -> np.ndarray:
    """A tensor of IntType ``t`` as the functional simulator stores it -> its element values (int64).

    The functional simulator stores BIPOLAR tensors as their values -1/+1 (int8 from ``to_bipolar``, or the
    frames as given) and integers as their values, so those pass through; a bool array of a BIPOLAR type is
    read as bits (bit b -> 2b - 1, as the streams carry it). Anything outside the type is refused (ValueError)."""
    x = np.asarray(x)
    if t.bipolar and x.dtype == np.bool_:
        return 2 * x.astype(np.int64) - 1
    v = x.astype(np.int64)
    if v.size and (t.bipolar and not np.all(np.abs(v) == 1) or not t.bipolar and (v.min() < t.min or v.max() > t.max)):
        raise ValueError(f"element_values: values outside {t}")
    return v


def add_streams(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """AddStreams: the elementwise integer sum of two tensors of element values (±1 for BIPOLAR), int64."""
    return np.asarray(a, dtype=np.int64) + np.asarray(b, dtype=np.int64)
