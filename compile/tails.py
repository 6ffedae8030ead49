"""The float tail after an accumulating node (MatMul/Conv), turned into integer thresholds or a host epilogue.

A tail is the chain of elementwise BatchNormalization / Mul / Add / Sub / Div ops with constant, per-channel
operands between a MatMul/Conv and the next quantizer (or the graph output). ``check_tail`` establishes that it
is monotone per channel; ``derive_thresholds`` then finds each channel's switch point by bisection, asking
qonnx's own ``execute_onnx`` for the quantizer's output on one candidate accumulator value per channel per
step; ``epilogue_ops`` turns a final tail into float32 host ops that replay onnxruntime's arithmetic. The
argument for exactness is in docs/architecture.md ("Why the frontend is exact by construction").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper
from qonnx.core.modelwrapper import ModelWrapper

from candle_hw.compile.host_ir import Epilogue, HostOp, accumulator_value
from candle_hw.errors import UserError

# Relu (max(x, 0), non-decreasing) only before a quantizer: Brevitas' QuantReLU exports Relu -> Quant
TAIL_OPS = ("BatchNormalization", "Mul", "Add", "Sub", "Div", "Relu")
PASS_THROUGH = ("Identity", "Dropout")
# size-1 axes added and removed around a per-channel op (FINN's BatchNormalization on (N, C, 1) after a MatMul):
# allowed in a fully connected tail on axes after the channel axis, the tail ending at rank 2
SHAPE_OPS = ("Unsqueeze", "Squeeze")
COMMUTATIVE = ("Mul", "Add")
# sampled accumulator values per channel on which the found step is re-checked against qonnx
CHECK_POINTS = 64
# accumulator values x channels on which the host epilogue is checked against qonnx at compile time; ranges
# beyond it are checked on an evenly spaced subset of this size
EPILOGUE_CHECK = 1 << 16


class TailError(UserError):
    """A tail that cannot become thresholds or an epilogue; the message names the node or channel."""


@dataclass(frozen=True)
class Tail:
    """The tail ops of one accumulating node: ``nodes`` from tensor ``t_in`` to ``t_out``; ``consts`` holds,
    per node, its per-channel float32 operands (BatchNormalization: scale, bias, mean, var)."""

    nodes: tuple[onnx.NodeProto, ...]
    t_in: str
    t_out: str
    consts: tuple[tuple[np.ndarray, ...], ...]


def _per_channel(node: onnx.NodeProto, name: str, v: np.ndarray, mh: int, layout: str,
                 rank: int | None = None) -> np.ndarray:
    """The (mh,) vector an ONNX-broadcast constant applies to each channel of a rank-``rank`` activation
    (default: the layout's); refuses one that varies along any other axis (a threshold is per channel) or holds
    non-finite values."""
    rank = rank or (2 if layout == "nc" else 4)
    v = np.asarray(v, dtype=np.float32)
    if v.ndim > rank:
        raise TailError(f"{node.name} ({node.op_type}): constant {name} has rank {v.ndim} > {rank}")
    full = (1,) * (rank - v.ndim) + v.shape
    if any(d != 1 for i, d in enumerate(full) if i != 1) or full[1] not in (1, mh):
        raise TailError(f"{node.name} ({node.op_type}): constant {name} of shape {list(v.shape)} is not per channel "
                        f"(expected a scalar or {mh} channel values)")
    vec = np.broadcast_to(v.reshape(-1), (mh,)).astype(np.float32)
    if not np.all(np.isfinite(vec)):
        raise TailError(f"{node.name} ({node.op_type}): constant {name} holds non-finite values")
    return vec


def check_tail(model: ModelWrapper, nodes: list[onnx.NodeProto], t_in: str, mh: int, layout: str) -> Tail:
    """Validate the tail's monotonicity conditions and collect its per-channel constants.

    Each op maps x to one IEEE float32 operation (or, for BatchNormalization, onnxruntime's x * s + b with
    s = gamma / sqrt(var + eps)) with constants fixed per channel; rounding to nearest is monotone, so each
    op is monotone in x (rising for + and for * or / by a positive constant, falling for a negative one,
    constant for * 0) and so is their composition. What this needs, and checks: constant, finite, per-channel
    operands; the activation the first operand of Sub/Div; no division by zero; var + eps > 0.
    """
    t = t_in
    consts = []
    rank = 2 if layout == "nc" else 4
    for n in nodes:
        if n.op_type in SHAPE_OPS:
            rank = shape_op_rank(model, n, rank, layout)
        if n.op_type in PASS_THROUGH + SHAPE_OPS:
            consts.append(())
            t = n.output[0]
            continue
        if n.input[0] != t and not (n.op_type in COMMUTATIVE and len(n.input) > 1 and n.input[1] == t):
            raise TailError(f"{n.name} ({n.op_type}): the activation must be the first operand")
        others = [i for i in n.input if i != t]
        vals = []
        for i in others:
            v = model.get_initializer(i)
            if v is None:
                raise TailError(f"{n.name} ({n.op_type}): operand {i} is not a constant")
            if n.op_type == "BatchNormalization":  # operands are (C,) vectors by definition, not broadcast
                v = np.asarray(v, dtype=np.float32)
                if v.shape != (mh,) or not np.all(np.isfinite(v)):
                    raise TailError(f"{n.name} (BatchNormalization): {i} must hold {mh} finite channel values, "
                                    f"got shape {list(v.shape)}")
                vals.append(v)
            else:
                vals.append(_per_channel(n, i, v, mh, layout, rank))
        if n.op_type == "Div" and np.any(vals[0] == 0):
            raise TailError(f"{n.name} (Div): division by zero in channel {int(np.flatnonzero(vals[0] == 0)[0])}")
        if n.op_type == "BatchNormalization":
            if len(vals) != 4:
                raise TailError(f"{n.name} (BatchNormalization): expected 4 constant operands, got {len(vals)}")
            eps = np.float32(_attr(n, "epsilon", 1e-5))
            bad = np.flatnonzero(~(vals[3] + eps > 0))
            if bad.size:
                raise TailError(f"{n.name} (BatchNormalization): channel {int(bad[0])}: var + epsilon is not positive")
        consts.append(tuple(vals))
        t = n.output[0]
    if rank != (2 if layout == "nc" else 4):
        raise TailError(f"{nodes[-1].name} ({nodes[-1].op_type}): the float ops end at rank {rank}; an Unsqueeze "
                        "must be undone by a Squeeze before the quantizer or the output")
    return Tail(tuple(nodes), t_in, t, tuple(consts))


def shape_op_axes(model: ModelWrapper, node: onnx.NodeProto) -> list[int]:
    """The axes of an Unsqueeze/Squeeze: its attribute (opset < 13) or its constant second input."""
    axes = _attr(node, "axes", None)
    if axes is None and len(node.input) > 1 and node.input[1]:
        v = model.get_initializer(node.input[1])
        if v is None:
            raise TailError(f"{node.name} ({node.op_type}): axes {node.input[1]} are not a constant")
        axes = np.asarray(v).reshape(-1).tolist()
    if axes is None:
        raise TailError(f"{node.name} ({node.op_type}): no axes given")
    return [int(a) for a in axes]


def shape_op_rank(model: ModelWrapper, node: onnx.NodeProto, rank: int, layout: str) -> int:
    """The rank after an Unsqueeze/Squeeze of a rank-``rank`` tail activation; refuses one that could move the
    channel axis or the batch (only size-1 axes after the channel axis of a fully connected tail)."""
    axes = shape_op_axes(model, node)
    out = rank + len(axes) if node.op_type == "Unsqueeze" else rank - len(axes)
    norm = [a + (out if node.op_type == "Unsqueeze" else rank) if a < 0 else a for a in axes]
    if layout != "nc" or min(norm) < 2 or out < 2:
        raise TailError(f"{node.name} ({node.op_type}): axes {axes} on a rank-{rank} activation; only size-1 axes "
                        "after the channel axis of a fully connected layer's output are supported")
    return out


def _tail_shapes(model: ModelWrapper, nodes: list[onnx.NodeProto], shape: list[int]) -> list[list[int]]:
    """Each node's output shape for an input of ``shape`` (Unsqueeze/Squeeze add or remove size-1 axes; every
    other tail op keeps the shape)."""
    out = []
    for n in nodes:
        if n.op_type in SHAPE_OPS:
            axes = shape_op_axes(model, n)
            if n.op_type == "Unsqueeze":
                r = len(shape) + len(axes)
                keep = iter(shape)
                axes = {a % r for a in axes}
                shape = [1 if i in axes else next(keep) for i in range(r)]
            else:
                axes = {a % len(shape) for a in axes}
                shape = [d for i, d in enumerate(shape) if i not in axes]
        out.append(list(shape))
    return out


def _attr(node: onnx.NodeProto, name: str, default):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def constant_inputs(model, nodes) -> list:
    """The initializers ``nodes`` read, once each, as TensorProtos for a small graph that replays them."""
    inits, seen = [], set()
    for n in nodes:
        for i in n.input:
            if i and i not in seen and model.get_initializer(i) is not None:
                seen.add(i)
                inits.append(numpy_helper.from_array(np.asarray(model.get_initializer(i)), i))
    return inits


def run_tail(model: ModelWrapper, nodes: list[onnx.NodeProto], t_in: str, t_out: str, z: np.ndarray,
             layout: str) -> np.ndarray:
    """Execute ``nodes`` with qonnx on candidate values z (rows, mh) float32, channel c fed z[:, c]; returns the
    (rows, mh) values of ``t_out``. Every op is elementwise per channel, so each row is an independent probe."""
    from qonnx.core.onnx_exec import execute_onnx

    rows, mh = z.shape
    if not nodes:
        return z
    shape = [rows, mh] if layout == "nc" else [1, mh, rows, 1]
    data = z if layout == "nc" else z.T.reshape(shape)
    inits = constant_inputs(model, nodes)
    g = helper.make_graph(
        list(nodes), "tail",
        [helper.make_tensor_value_info(t_in, onnx.TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(t_out, onnx.TensorProto.FLOAT, shape)],
        initializer=inits,
    )
    m = ModelWrapper(helper.make_model(g, opset_imports=list(model.model.opset_import)))
    for n, s in zip(nodes[:-1], _tail_shapes(model, nodes, shape)):
        m.set_tensor_shape(n.output[0], s)
    out = np.asarray(execute_onnx(m, {t_in: np.ascontiguousarray(data, dtype=np.float32)})[t_out], dtype=np.float32)
    return out if layout == "nc" else out.reshape(mh, rows).T


def derive_thresholds(name: str, is_on: Callable[[np.ndarray], np.ndarray], lo: int, hi: int,
                      mh: int) -> tuple[np.ndarray, np.ndarray]:
    """Per channel: T with out = +1 iff acc >= T (rising), or a flip flag and T = -a with out = +1 iff
    acc <= a (falling), for accumulators in [lo, hi].

    ``is_on(acc)`` maps an (rows, mh) int64 array of accumulator values (channel c's candidates in column c)
    to whether the quantizer outputs +1 there, as qonnx computes it. Monotone tails (check_tail) switch at most
    once, so the ends give the direction and bisection finds the switch in ceil(log2(hi - lo + 1)) calls; the
    step is then re-checked on CHECK_POINTS values per channel, and a channel that disagrees is refused.
    """
    ends = is_on(np.array([[lo] * mh, [hi] * mh], dtype=np.int64))
    on_lo, on_hi = ends
    rising, falling = ~on_lo & on_hi, on_lo & ~on_hi
    a = np.full(mh, lo, dtype=np.int64)   # rising: off at a; falling: on at a
    b = np.full(mh, hi, dtype=np.int64)   # rising: on at b; falling: off at b
    moving = rising | falling
    while np.any(moving & (b - a > 1)):
        active = moving & (b - a > 1)
        mid = np.where(active, (a + b) // 2, a)
        on = is_on(mid[None, :])[0]
        up = np.where(rising, ~on, on)  # the switch lies above mid
        a = np.where(active & up, mid, a)
        b = np.where(active & ~up, mid, b)
    thresholds = np.where(rising, b, np.where(falling, -a, np.where(on_lo, lo, hi + 1))).astype(np.int64)
    _check_step(name, is_on, lo, hi, rising, falling, on_lo, a, b)
    return thresholds, falling


def _check_step(name, is_on, lo, hi, rising, falling, on_lo, a, b) -> None:
    """Re-evaluate evenly spaced accumulators plus both sides of each switch; any disagreement with the step
    found means the tail is not monotone in that channel."""
    grid = np.unique(np.linspace(lo, hi, CHECK_POINTS).round().astype(np.int64))
    probes = np.concatenate([np.repeat(grid[:, None], a.size, axis=1), a[None], b[None]])
    got = is_on(probes)
    want = np.where(rising, probes >= b, np.where(falling, probes <= a, on_lo))
    bad = np.argwhere(got != want)
    if bad.size:
        r, c = (int(i) for i in bad[0])
        raise TailError(
            f"{name}: channel {c}: the activation is not monotone in the accumulator (at accumulator "
            f"{int(probes[r, c])} it is {'+1' if got[r, c] else '-1'}, against the step found); cannot map to a threshold"
        )


def epilogue_ops(tail: Tail, prefix: str) -> tuple[tuple[HostOp, ...], dict[str, np.ndarray]]:
    """The final tail as float32 host ops and their (mh,) constants, in onnxruntime's arithmetic:
    Mul/Add/Sub/Div one operation each; BatchNormalization as x * s + b with s = gamma * (1 / sqrt(var + eps)),
    b = beta - mean * s, each step rounded to float32 (onnxruntime's CPU kernel)."""
    ops: list[HostOp] = []
    params: dict[str, np.ndarray] = {}

    def add(op: str, v: np.ndarray) -> None:
        key = f"{prefix}.{len(ops)}"
        params[key] = v.astype(np.float32)
        ops.append(HostOp(op, key))

    for n, vals in zip(tail.nodes, tail.consts):
        if n.op_type in PASS_THROUGH + SHAPE_OPS:  # per channel, the values are the same at any rank
            continue
        if n.op_type == "Relu":
            raise TailError(f"{n.name} (Relu): a Relu among the final float ops is not supported (only before a quantizer)")
        if n.op_type == "BatchNormalization":
            gamma, beta, mean, var = vals
            eps = np.float32(_attr(n, "epsilon", 1e-5))
            s = gamma * (np.float32(1) / np.sqrt(var + eps))
            add("mul", s)
            add("add", beta - mean * s)
        else:
            add(n.op_type.lower(), vals[0])
    return tuple(ops), params


def quantizer_probe(model: ModelWrapper, name: str, nodes: list[onnx.NodeProto], t_in: str, t_out: str, layout: str,
                     binary: bool, mw: int, zscale: np.ndarray, out_scale: float, offset: np.ndarray | None = None):
    """acc (rows, mh) -> whether qonnx's quantizer outputs +out_scale there (the tail run by execute_onnx)."""

    def is_on(acc: np.ndarray) -> np.ndarray:
        out = run_tail(model, nodes, t_in, t_out, accumulator_value(acc, binary, mw, zscale, offset), layout)
        bad = ~np.isin(out, (-out_scale, out_scale))
        if bad.any():
            c = int(np.argwhere(bad)[0][1])
            raise TailError(f"{name}: channel {c}: quantizer output {out[bad][0]}, expected ±{out_scale}")
        return out > 0

    return is_on


def check_epilogue(model: ModelWrapper, params: dict[str, np.ndarray], name: str, epi: Epilogue, tail: Tail, lo: int,
                   hi: int, mh: int) -> None:
    """The host replay must equal qonnx's execution of the tail: compared on every accumulator value when the
    range is small, else on EPILOGUE_CHECK // mh evenly spaced ones (the replay is the same float32 operations
    in the same order, so this confirms the arithmetic, e.g. onnxruntime's BatchNormalization, not a table)."""
    n = max(2, min(hi - lo + 1, EPILOGUE_CHECK // mh))
    acc = np.repeat(np.unique(np.linspace(lo, hi, n).round().astype(np.int64))[:, None], mh, axis=1)
    want = run_tail(model, list(tail.nodes), tail.t_in, tail.t_out,
                    accumulator_value(acc, epi.binary, epi.mw, params[epi.zscale],
                                      params[epi.acc_offset] if epi.acc_offset else None), "nc")
    got = epi.replay(acc, params)
    bad = np.argwhere(~((got == want) | (np.isnan(got) & np.isnan(want))))
    if bad.size:
        r, c = (int(i) for i in bad[0])
        raise TailError(
            f"{name}: channel {c}: the host replay of the final ops gives {float(got[r, c])!r} at accumulator "
            f"{int(acc[r, c])}, qonnx {float(want[r, c])!r}; cannot reproduce the output exactly"
        )
