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
from candle_hw.types import IntType

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
        vals = _check_datatype(x, q.elem_type)
    elif q.kind == "bipolar":
        # branch-free (np.where on a random sign pattern is several times slower): 2*[x >= 0] - 1
        vals = x if fresh else np.empty(x.shape, dtype=np.float32)
        np.greater_equal(x, 0, out=vals)
        vals *= 2
        vals -= 1
    else:
        from qonnx.custom_op.general.quant import max_int, min_int, resolve_rounding_mode

        t = q.elem_type
        lo, hi = min_int(t.signed, q.narrow, t.bits), max_int(t.signed, q.narrow, t.bits)
        # in place on a temporary of our own (the input quantizer of a wide first layer touches every input
        # element three times: fresh arrays per step cost as much as the layer's product); x / 1 is x exactly
        y = x if fresh else np.empty(x.shape, dtype=np.float32)
        if q.scale != 1.0 or y is not x:
            np.divide(x, np.float32(q.scale), out=y)
        np.clip(y, np.float32(lo), np.float32(hi), out=y)
        rnd = resolve_rounding_mode(q.rounding_mode)
        vals = rnd(y, out=y) if rnd is np.round or isinstance(rnd, np.ufunc) else rnd(y)
        if t.bits > 24:
            vals = vals.astype(np.int64)
    if pro.layout == "nchw":
        vals = vals.transpose(0, 2, 3, 1)
    return np.ascontiguousarray(vals).reshape(n, *graph.input_stream.shape)


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
