"""Host-side prologue and epilogue: model tensor <-> dataflow integers, exactly as QONNX computes them.

The prologue replays the model's float ops up to the input quantizer in float32 (elementwise Mul/Add/Sub/Div
are single IEEE operations, identical in numpy and onnxruntime) and then calls qonnx's own quantizer functions.
The epilogue replays the last layer's per-channel float ops the same way (``Epilogue.replay`` in
compile/host_ir.py, checked against qonnx when the graph was built).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from candle_hw.compile.ir import DataflowGraph
from candle_hw.errors import UserError
from candle_hw.types import IntType, value_index

def run_prologue(graph: DataflowGraph, x: np.ndarray) -> np.ndarray:
    """Model input (N, ...) as QONNX takes it -> dataflow input frames (N, *input_stream.shape) of element values."""
    pro = graph.prologue
    x = np.asarray(x, dtype=np.float32)
    want = tuple(graph.model_input_shape[1:])
    if x.ndim == len(want):
        x = x[None]
    if tuple(x.shape[1:]) != want:
        raise UserError(f"input: shape {list(x.shape)} does not match the model input (N, {', '.join(map(str, want))})")
    n = x.shape[0]
    steps = input_steps(graph)
    if steps is None:
        vals = _quantized(graph, x)
    else:
        for op in pro.ops:  # the chain is elementwise with scalars: only its reshapes shape the result
            if op.op == "reshape":
                x = x.reshape(n, *op.shape[1:])
        vals = count_steps(x, *steps)
    if pro.layout == "nchw":
        vals = vals.transpose(0, 2, 3, 1)
    return np.ascontiguousarray(vals).reshape(n, *graph.input_stream.shape)


def _quantized(graph: DataflowGraph, x: np.ndarray) -> np.ndarray:
    """The prologue's float ops and quantizer on x (N, *model input shape), float32 as qonnx computes them."""
    pro = graph.prologue
    n = x.shape[0]
    fresh = False  # whether x is a temporary this function owns (then later ops may work in place)
    for op in pro.ops:
        if op.op == "reshape":
            x = x.reshape(n, *op.shape[1:])
        else:
            c = graph.params[op.const].astype(np.float32)
            if fresh and np.broadcast_shapes(x.shape, c.shape) == x.shape:
                op.float_op()(x, c, out=x)
            else:
                x = op.float_op()(x, c).astype(np.float32, copy=False)
                fresh = True
    q = pro.quant
    # qonnx's BipolarQuant / IntQuant with zero point 0 (the only one the frontend accepts): sign for bipolar
    # (0 -> +1), else x / scale in float32 as qonnx divides, clamp, round. Element values are returned in
    # float32 containers (exact: at most 24-bit integers reach this point), the operand type of the exact BLAS
    # products downstream, so no layer pays for a conversion.
    if q.kind == "datatype":
        return _check_datatype(x, q.elem_type)
    if q.kind == "sign":  # ONNX Sign: -1, 0 (for ±0.0) or +1
        return np.sign(x).astype(np.float32, copy=False)
    if q.kind == "table":  # the float ops and quantizer, tabulated by qonnx per value of the annotated type
        src = IntType.from_name(q.source)
        return graph.params[q.table].astype(np.float32)[value_index(_check_datatype(x, src), src)]
    if q.kind == "bipolar":
        # branch-free (np.where on a random sign pattern is several times slower): 2*[x >= 0] - 1
        vals = x if fresh else np.empty(x.shape, dtype=np.float32)
        np.greater_equal(x, 0, out=vals)
        vals *= 2
        vals -= 1
        return vals
    from qonnx.custom_op.general.quant import resolve_rounding_mode

    lo, hi = _int_range(q)
    # in place on a temporary of our own (the input quantizer of a wide first layer touches every input
    # element three times: fresh arrays per step cost as much as the layer's product); x / 1 is x exactly
    y = x if fresh else np.empty(x.shape, dtype=np.float32)
    if q.scale != 1.0 or y is not x:
        np.divide(x, np.float32(q.scale), out=y)
    np.clip(y, np.float32(lo), np.float32(hi), out=y)
    rnd = resolve_rounding_mode(q.rounding_mode)
    vals = rnd(y, out=y) if rnd is np.round or isinstance(rnd, np.ufunc) else rnd(y)
    return vals.astype(np.int64) if q.elem_type.bits > 24 else vals


def _int_range(q) -> tuple[int, int]:
    from qonnx.custom_op.general.quant import max_int, min_int

    t = q.elem_type
    return int(min_int(t.signed, q.narrow, t.bits)), int(max_int(t.signed, q.narrow, t.bits))


# An integer input quantizer of a few levels after float ops that are all monotone nondecreasing (scalar
# constants; multiplying and dividing by positive ones) is a step function of the input value: q(x) = lo +
# #{k : x >= u_k}, u_k the smallest float32 whose quantized value reaches lo + k (every IEEE operation, clip and
# rounding is monotone). Counting a few compares on the raw input replaces the chain's passes over the largest
# tensor of a wide first layer (784 inputs of a TFC: four float passes, more than its 3-threshold layers).
FEW_STEPS = 3
STEP_BLOCK = 1 << 19  # elements per block of count_steps (2 MiB of float32)
_STEP_CACHE: dict = {}


def input_steps(graph: DataflowGraph) -> tuple[int, np.ndarray] | None:
    """(lo, u) with the prologue's values equal to lo + #{k : x >= u[k]} for every input x that is not NaN, or
    None where the prologue is not such a step function (or has more than FEW_STEPS steps). The steps are found
    by bisection over float32 values in their order, on the prologue's own code, once per prologue."""
    pro = graph.prologue
    q = pro.quant
    if q.kind != "int":
        return None
    lo, hi = _int_range(q)
    if not 1 <= hi - lo <= FEW_STEPS:  # a one-value range has no step to compare with
        return None
    consts = []
    for op in pro.ops:
        if op.op == "reshape":
            continue
        c = np.asarray(graph.params[op.const], dtype=np.float32)
        if c.size != 1 or not np.isfinite(c).all() or op.op in ("mul", "div") and not c.item() > 0:
            return None
        consts.append(c.tobytes())
    key = (pro, tuple(consts))
    if key not in _STEP_CACHE:
        if len(_STEP_CACHE) > 64:
            _STEP_CACHE.clear()
        _STEP_CACHE[key] = (lo, _bisect_steps(graph, lo, hi))
    return _STEP_CACHE[key]


def _order_key(f: np.ndarray) -> np.ndarray:
    """float32 -> int64 keys in the floats' order (-0.0 just below +0.0); NaN excluded."""
    b = np.asarray(f, dtype=np.float32).view(np.int32).astype(np.int64)
    return np.where(b < 0, -(b & 0x7FFFFFFF) - 1, b)


def _from_key(k: np.ndarray) -> np.ndarray:
    b = np.where(k < 0, (-(k + 1)) | 0x80000000, k)
    return b.astype(np.uint32).view(np.float32)


def _bisect_steps(graph: DataflowGraph, lo: int, hi: int) -> np.ndarray:
    """u[k - 1] for k = 1..hi-lo: the smallest float32 x (-inf and +inf included) whose value is >= lo + k; NaN
    (no x compares >= it) where even +inf stays below."""
    shape = tuple(graph.model_input_shape[1:])
    levels = np.arange(lo + 1, hi + 1, dtype=np.float64)

    def value(keys: np.ndarray) -> np.ndarray:  # the prologue on probe inputs (one frame each, element 0)
        frames = np.zeros((len(keys), int(np.prod(shape))), dtype=np.float32)
        frames[:, 0] = _from_key(keys)
        with np.errstate(over="ignore"):  # probes at the float32 extremes overflow to infinity, as they would
            y = _quantized(graph, frames.reshape(len(keys), *shape))
        return y.reshape(len(keys), -1)[:, 0].astype(np.float64)

    top = _order_key(np.float32(np.inf)) * np.ones(len(levels), dtype=np.int64)
    below = _order_key(np.float32(-np.inf)) - 1 + np.zeros(len(levels), dtype=np.int64)  # value < every level
    reach = value(top) >= levels
    at = top.copy()
    while np.any(at - below > 1):
        mid = below + (at - below) // 2
        ok = value(mid) >= levels
        at = np.where(ok, mid, at)
        below = np.where(ok, below, mid)
    return np.where(reach, _from_key(at), np.float32(np.nan)).astype(np.float32)


def count_steps(x: np.ndarray, lo: int, u: np.ndarray) -> np.ndarray:
    """lo + #{k : x >= u[k]} in float32 (the operand type of the products downstream), for x (N, ...). Worked in
    blocks of rows whose temporaries stay in cache: one pass over x per step, one write of the result."""
    n = x.shape[0]
    out = np.empty(x.shape, dtype=np.float32)
    rows = max(1, STEP_BLOCK // max(1, x[0].size))
    for i in range(0, n, rows):
        xb = x[i:i + rows]
        c = np.greater_equal(xb, u[0]).view(np.uint8)
        for uk in u[1:]:
            c += np.greater_equal(xb, uk).view(np.uint8)
        np.add(c, np.float32(lo), out=out[i:i + rows], dtype=np.float32)
    return out


def _check_datatype(x: np.ndarray, t: IntType) -> np.ndarray:
    """The model input carries its qonnx datatype directly: every value must be one of the type's."""
    ok = np.isin(x, (-1.0, 1.0)) if t.bipolar else (x == np.round(x)) & (x >= t.min) & (x <= t.max)
    if not ok.all():
        idx = tuple(int(i) for i in np.argwhere(~ok)[0])
        raise UserError(f"input: value {float(x[idx])!r} at index {list(idx)} is not a {t.name} value (the model's input datatype)")
    return x


def run_epilogue(graph: DataflowGraph, y: np.ndarray) -> np.ndarray:
    """Last node's integer output (N, ...) -> the model's output tensor (N, *model_output_shape[1:])."""
    epi = graph.epilogue
    n = y.shape[0]
    out_shape = (n, *graph.model_output_shape[1:])
    if epi.kind == "float":
        vals = epi.replay(y.reshape(n, -1), graph.params)
        return (vals.astype(np.int64) if epi.integral else vals).reshape(out_shape)
    if epi.kind == "label":
        return y.astype(np.int64).reshape(out_shape)
    scale = float(epi.scale)
    y = y + epi.elem_offset if epi.elem_offset else y
    if scale == 1.0:
        return y.astype(np.int64).reshape(out_shape) if y.ndim == 2 else _from_stream_layout(graph, y, out_shape).astype(np.int64)
    return (_from_stream_layout(graph, y, out_shape) * scale).astype(np.float32)


def _from_stream_layout(graph: DataflowGraph, y: np.ndarray, out_shape: tuple[int, ...]) -> np.ndarray:
    if len(out_shape) == 4:
        return y.reshape(out_shape[0], out_shape[2], out_shape[3], out_shape[1]).transpose(0, 3, 1, 2)
    return y.reshape(out_shape)


def load_input(path: str | Path, option: str = "--input") -> np.ndarray:
    """A model input tensor from a .npy file: numeric and finite (the hardware has no NaN), else UserError."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{option} {path}: no such file")
    try:
        x = np.load(p, allow_pickle=False)
    except Exception as exc:
        raise UserError(f"{option} {path}: not a .npy array ({exc})") from None
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "biuf":
        raise UserError(f"{option} {path}: expected a numeric array, got {getattr(x, 'dtype', type(x).__name__)}")
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            idx = [int(i) for i in np.argwhere(bad)[0]]
            raise UserError(f"{option} {path}: non-finite value {x[tuple(idx)]} at index {idx} (the hardware has no "
                            f"NaN or infinity)")
    return x
