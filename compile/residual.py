"""Branching QONNX graphs -> DuplicateStreams / AddStreams + Thresholding, exactly (issue 9 item 5).

A quantized tensor read by n nodes becomes a ``DuplicateStreams`` with n outputs (FINN's DuplicateStreams_Batch).
An ``Add`` of two quantized tensors becomes an ``AddStreams`` (FINN's AddStreams_Batch) on the element values
(a ±1 map enters as ±1, a multi-bit map as its carried counts q - qmin), followed by the requantisation: the ops
after the Add up to the next quantizer become a ``Thresholding`` on the integer sum, found by the same qonnx
driven bisection as any threshold (compile/tails.py, compile/multibit.py).

Why the sum decides exactly: both operands share one float32 scale s (refused otherwise, naming the Add and both
scales). qonnx's operands are fl(q*s) and its Add one float32 addition; ``sum_values`` enumerates every pair of
operand values and requires the float32 sum to be one value z(S) per integer sum S = qa + qb (refused otherwise;
for power-of-two or small dyadic scales z(S) = (S + offsets)*s exactly), non-decreasing in S. Then everything
after the Add is a function of S, and each probe, qonnx executing the tail and quantizer on z(S), is qonnx's own
decision for every pair of operands with that sum. Other joins (Concat, Mul/Sub/Div of two
activations, an Add of an unquantized conv output) are refused in one line naming the node.
"""
from __future__ import annotations

import dataclasses
import numpy as np
import onnx

from candle_hw.compile.host_ir import LayerOrigin
from candle_hw.compile.ir import AddStreams, DuplicateStreams, Edge, Thresholding
from candle_hw.compile.lowering import (
    QUANTIZERS, Cursor, FrontendError, activation_inputs, collect_tail, end_levels, end_scale,
)
from candle_hw.compile.multibit import sum_thresholds
from candle_hw.compile.tails import check_tail, run_tail
from candle_hw.types import BIPOLAR, IntType

MAX_PAIRS = 1 << 22  # operand value pairs enumerated to prove the float32 sum a function of the integer sum


def is_join(b, node: onnx.NodeProto) -> bool:
    """A node that reads two or more activations (an Add of two branches, a Concat, ...)."""
    return node.op_type in ("Concat", "Sum") or len(activation_inputs(b, node)) > 1


def duplicate(b, cur, n: int) -> list:
    """A DuplicateStreams with ``n`` outputs on the stream of ``cur``; one cursor per output port."""
    if cur.elem_type is None or cur.pending_pad is not None:
        raise FrontendError(f"tensor {cur.tensor}: feeds {n} nodes; only a quantized tensor may branch")
    dup = DuplicateStreams(f"dup{_count(b, DuplicateStreams)}", tuple(cur.nhwc), cur.elem_type, 1, n)
    b.tip = cur.src
    b.add(dup)
    return [dataclasses.replace(cur, src=(dup.name, p)) for p in range(n)]


def lower_join(b, node: onnx.NodeProto, ready: dict):
    """An Add of two lowered quantized tensors -> AddStreams + Thresholding; any other join is refused."""
    names = activation_inputs(b, node)
    if node.op_type != "Add" or len(names) != 2:
        raise FrontendError(f"{node.name} ({node.op_type}): joins {len(names)} activation{'s' * (len(names) != 1)} "
                            f"({', '.join(names)}); only an Add of two quantized tensors is supported")
    a, c = ready[0], ready[1]
    if a.nhwc != c.nhwc or a.flatten_from != c.flatten_from:
        raise FrontendError(f"{node.name} (Add): operands {a.tensor} {list(a.nhwc)} and {c.tensor} {list(c.nhwc)} "
                            "differ in shape (broadcasting between branches is not supported)")
    if np.float32(a.scale) != np.float32(c.scale):
        raise FrontendError(f"{node.name} (Add): operands {a.tensor} (scale {a.scale!r}) and {c.tensor} (scale "
                            f"{c.scale!r}) have different scales; the sum is not one integer stream (quantize both "
                            "branches to the same scale)")
    (lo, hi), z, exact = sum_values(node, a, c)
    off = a.offset + c.offset
    if a.src is None or c.src is None:
        raise FrontendError(f"{node.name} (Add): an operand is the dataflow input itself and nothing else")
    k = _count(b, AddStreams)
    add = AddStreams(f"add{k}", tuple(a.nhwc), (a.elem_type, c.elem_type), IntType.for_range(lo, hi), 1)
    b.nodes.append(add)
    b.edges += [Edge(a.src[0], add.name, a.src[1], 0), Edge(c.src[0], add.name, c.src[1], 1)]
    b.tip = (add.name, 0)
    layout = "nchw" if len(a.nhwc) == 3 else "nc"
    if exact:  # the ONNX sum is (S + offsets) * scale in float32: comparable layer by layer
        b.origins.append(LayerOrigin(add.name, node.output[0], layout, a.scale, offset=off))
    return _requantize(b, node, add, a, (lo, hi), z, layout)


def _requantize(b, node: onnx.NodeProto, add: AddStreams, a, rng: tuple[int, int], z: np.ndarray, layout: str):
    """The ops after the Add up to the next quantizer -> a Thresholding on the integer sum."""
    tail, _, nxt = collect_tail(b, node)
    if nxt is None or nxt.op_type not in QUANTIZERS:
        got = "the graph output" if nxt is None else f"{nxt.name} ({nxt.op_type})"
        raise FrontendError(f"{node.name} (Add): the sum must be requantized (a Quant/BipolarQuant after the Add and "
                            f"its per-channel float ops), got {got}")
    end = nxt
    ch = a.nhwc[-1]
    check_tail(b.model, tail, node.output[0], ch, layout)
    out_scale = end_scale(b, end)
    levels = end_levels(b, end)
    lo, hi = rng

    def run(s: np.ndarray) -> np.ndarray:  # (rows, C) integer sums -> qonnx's quantizer output
        return run_tail(b.model, [*tail, end], node.output[0], end.output[0], z[s - lo], layout)

    name = f"{add.name}_thr"
    thr, n = sum_thresholds(
        name, run, lo, hi, ch, levels, out_scale,
        lambda c: FrontendError(f"{end.name}: channel {c}: the ops between {node.name} and the quantizer fall with "
                                "the sum (a negative factor); the requantisation needs a rising tail"))
    out_type, qmin = (BIPOLAR, 0) if levels is None else (IntType.for_range(0, n), levels.qmin)
    vectors = tuple(a.nhwc[:-1]) or (1,)
    b.add(Thresholding(name, ch, 1, add.out_type, out_type, n, vectors))
    b.params[f"{name}.thresholds"] = thr
    b.origins.append(LayerOrigin(name, end.output[0], layout, out_scale, offset=qmin))
    return Cursor(end.output[0], out_type, out_scale, a.nhwc, a.flatten_from, offset=qmin, src=b.tip)


def _values(cur) -> np.ndarray:
    """The element values a stream carries: ±1 for a bipolar map, else every value of its type."""
    t = cur.elem_type
    return np.array([-1, 1]) if t.bipolar else np.arange(t.min, t.max + 1)


def sum_values(node: onnx.NodeProto, a, c) -> tuple[tuple[int, int], np.ndarray, bool]:
    """The range [lo, hi] of the integer sum S of the two streams' elements, and z[S - lo]: the float32 value
    qonnx's Add computes for every pair of operands with that sum (operands fl(q*s), q = element + offset),
    enumerated over all pairs. Refuses a sum that is not a function of S, or not non-decreasing in S. An S that
    no pair reaches (two ±1 maps sum to even S) takes the value of the nearest attainable S below it, so that
    thresholds on S are right wherever it occurs. ``exact``: z = fl((S + offsets) * s) for every attainable S."""
    va, vc = _values(a), _values(c)
    if va.size * vc.size > MAX_PAIRS:
        raise FrontendError(f"{node.name} (Add): {va.size} x {vc.size} operand values; too many to check the sum")
    s = np.float32(a.scale)
    fa = (va + a.offset).astype(np.float32) * s
    fc = (vc + c.offset).astype(np.float32) * s
    total = (fa[:, None] + fc[None, :]).ravel()
    sums = (va[:, None] + vc[None, :]).ravel()
    lo, hi = int(sums.min()), int(sums.max())
    z = np.full(hi - lo + 1, np.nan, np.float32)
    z[sums - lo] = total  # one of the pairs per sum; every other pair must agree with it
    bad = np.flatnonzero(z[sums - lo] != total)
    if bad.size:
        v, f = int(sums[bad[0]]), float(total[bad[0]])
        raise FrontendError(f"{node.name} (Add): with scale {a.scale!r} the float32 sum is not a function of the "
                            f"integer sum ({float(z[v - lo])!r} and {f!r} both have q_a + q_b = {v + a.offset + c.offset}); not an exact "
                            "integer stream")
    reached = ~np.isnan(z)
    exact = bool(np.all(z[reached] == (np.arange(lo, hi + 1)[reached] + a.offset + c.offset).astype(np.float32) * s))
    for i in range(1, z.size):  # the ends are always reached
        if not reached[i]:
            z[i] = z[i - 1]
    if np.any(np.diff(z) < 0):
        raise FrontendError(f"{node.name} (Add): with scale {a.scale!r} the float32 sum falls as the integer sum "
                            "rises; not an exact integer stream")
    return (lo, hi), z, exact


def _count(b, cls) -> int:
    return sum(isinstance(n, cls) for n in b.nodes)
