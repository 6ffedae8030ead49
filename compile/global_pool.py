"""GlobalAveragePool / AveragePool on a quantized map -> GlobalAccPool / AccPool (+ Thresholding, or the host
epilogue), exactly.

QONNX averages float32 values q*s over H*W pixels. When every partial sum is a float32 number (s's odd mantissa
times max|q| times H*W below 2**24; one pixel needs nothing), the sum is exact in any order, so the pool's
output, and everything after it, is a function of the integer sum alone: the hardware sums per channel
(GlobalAccPool; on a ±1 map the count P of +1s, on a multi-bit map the carried elements q - qmin). What follows is
derived as after an accumulating node (compile/tails.py), each probe executed by qonnx itself on maps with
the candidate count: a quantizer (1-bit, or multi-bit: one threshold per level) becomes thresholds on the sum (FINN's GlobalAccPool
+ Thresholding), and a tail that
ends the graph becomes host float32 ops (the average's division first), checked against qonnx on every P.

A windowed AveragePool (k x k, stride s, no padding) is the same argument per window: AccPool sums each window's
k*k values, and every probe is qonnx executing the AveragePool node itself on a k x k map (one window, one output
pixel) holding the candidate sum, then the tail and the quantizer; the thresholds apply to every output pixel.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import onnx
from onnx import helper

from candle_hw.compile.host_ir import Epilogue, HostOp, LayerOrigin
from candle_hw.compile.ir import AccPool, GlobalAccPool, Thresholding, pool_sum_range
from candle_hw.compile.lowering import QUANTIZERS, Cursor, FrontendError, collect_tail, end_levels, end_scale
from candle_hw.compile.multibit import sum_thresholds
from candle_hw.compile.tails import check_tail, constant_inputs, epilogue_ops
from candle_hw.types import BIPOLAR, IntType

F32_EXACT = 1 << 24
PROBE_ELEMS = 1 << 22  # map elements per qonnx call
EPILOGUE_SUMS = 4096  # sums per channel on which the host replay is compared with qonnx


def lower_global_pool(b, node: onnx.NodeProto, cur):
    if cur.elem_type is None or len(cur.nhwc) != 3:
        raise FrontendError(f"{node.name} (GlobalAveragePool): input is not a quantized feature map")
    h, w, c = cur.nhwc
    _check_f32_sum(node, cur, h * w)
    name = f"gap{sum(isinstance(n, GlobalAccPool) for n in b.nodes)}"
    gap = GlobalAccPool(name, (h, w), c, cur.elem_type, IntType.for_range(*pool_sum_range(cur.elem_type, h * w)))
    return _lower_sum(b, node, cur, gap, (h, w), (1,))


def lower_avg_pool(b, node: onnx.NodeProto, cur):
    """AveragePool (k x k, stride s, no padding, floor mode) -> AccPool + Thresholding on its window sums, or,
    when its one output pixel per channel ends the graph, the host epilogue (as after a GlobalAccPool)."""
    if cur.elem_type is None or len(cur.nhwc) != 3:
        raise FrontendError(f"{node.name} (AveragePool): input is not a quantized feature map")
    k = b.attr(node, "kernel_shape")
    s = b.attr(node, "strides", [1] * len(k))
    pads = b.attr(node, "pads", [0] * 2 * len(k))
    auto_pad = b.attr(node, "auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if auto_pad not in ("NOTSET", "VALID"):
        raise FrontendError(f"{node.name} (AveragePool): auto_pad={auto_pad} is not supported (only unpadded pools)")
    if any(pads):
        raise FrontendError(f"{node.name} (AveragePool): pads={pads} are not supported (only unpadded pools)")
    if b.attr(node, "ceil_mode", 0):
        raise FrontendError(f"{node.name} (AveragePool): ceil_mode={b.attr(node, 'ceil_mode')} is not supported "
                            "(only floor mode: every window inside the map)")
    if b.attr(node, "dilations", [1, 1]) != [1, 1] or len(k) != 2 or len(set(k)) != 1 or len(set(s)) != 1:
        raise FrontendError(f"{node.name} (AveragePool): kernel={k} strides={s} dilations="
                            f"{b.attr(node, 'dilations', [1, 1])}: only square, undilated pools are supported")
    h, w, c = cur.nhwc
    k, s = int(k[0]), int(s[0])
    if k > h or k > w:
        raise FrontendError(f"{node.name} (AveragePool): kernel={k} exceeds the map {h}x{w}")
    _check_f32_sum(node, cur, k * k)
    name = f"avgpool{sum(isinstance(n, AccPool) for n in b.nodes)}"
    pool = AccPool(name, (h, w), c, k, s, cur.elem_type, IntType.for_range(*pool_sum_range(cur.elem_type, k * k)))
    return _lower_sum(b, node, cur, pool, (k, k), pool.ofm_dim)


def _check_f32_sum(node: onnx.NodeProto, cur, pix: int) -> None:
    """Refuse a pool whose float32 sum of ``pix`` values q*s could round (then it depends on the order)."""
    et = cur.elem_type
    qmax = 1 if et.bipolar else max(abs(et.min + cur.offset), abs(et.max + cur.offset))
    if pix > 1 and Fraction(cur.scale).numerator * qmax * pix >= F32_EXACT:
        raise FrontendError(f"{node.name} ({node.op_type}): scale {cur.scale} over {pix} pixels: the float32 sum "
                            "would round in an input-dependent order")


def _lower_sum(b, node: onnx.NodeProto, cur, pool, hw: tuple[int, int], vectors: tuple[int, ...]):
    """The pool node ``pool`` (GlobalAccPool or AccPool, summing windows of ``hw`` pixels into ``vectors`` output
    pixels), then what QONNX does with the average: the next quantizer's thresholds on the sum, each probe
    executed by qonnx on a ``hw`` map holding that sum (one output pixel), or the host epilogue."""
    c, et = cur.nhwc[-1], cur.elem_type
    b.add(pool)
    lo, hi = pool.sum_range
    tail_nodes, t, end = collect_tail(b, node)
    tail = check_tail(b.model, tail_nodes, node.output[0], c, "nchw")

    def run(nodes, t_out, p):
        return run_pool(b.model, [node, *nodes], node.input[0], t_out, p, hw, cur.scale, et, cur.offset)

    if end is not None and end.op_type in QUANTIZERS:
        out_scale = end_scale(b, end)
        levels = end_levels(b, end)
        thresholds, n = sum_thresholds(
            pool.name, lambda p: run(tail_nodes + [end], end.output[0], p), lo, hi, c, levels, out_scale,
            lambda ch: FrontendError(f"{end.name}: channel {ch}: the ops between {node.name} and the quantizer fall "
                                     f"with the average (a negative factor); {node.op_type} needs a rising tail"))
        out_type, qmin = (BIPOLAR, 0) if levels is None else (IntType.for_range(0, n), levels.qmin)
        thr = Thresholding(f"{pool.name}_thr", c, 1, pool.out_type, out_type, n, vectors)
        b.add(thr)
        b.params[f"{thr.name}.thresholds"] = thresholds
        b.origins.append(LayerOrigin(thr.name, end.output[0], "nchw", out_scale, offset=qmin))
        return Cursor(end.output[0], out_type, out_scale, (*vectors[:2], c) if len(vectors) == 2 else (1, 1, c),
                      offset=qmin)
    if end is not None and not (end.op_type in ("Flatten", "Reshape") and b.is_output(end.output[0])
                                and b.only_consumer(end.output[0]) is None):
        raise FrontendError(f"{end.name}: unsupported op type {end.op_type!r} after {node.name} ({node.op_type}) "
                            "(a quantizer or the graph output must follow it)")
    if end is None and not b.is_output(t):
        raise FrontendError(f"tensor {t}: dead end (no consumer and not a graph output)")
    if math.prod(vectors) != 1:
        raise FrontendError(f"{node.name} ({node.op_type}): {vectors[0]}x{vectors[1]} output pixels end the graph "
                            "unquantized; only a pool with one output pixel per channel may (put a quantizer after it)")
    _pool_epilogue(b, pool.name, node, tail, (lambda p: run(tail_nodes, t, p)), pool, cur.scale, cur.offset)
    return None


def _pool_epilogue(b, name: str, node: onnx.NodeProto, tail, run, gap: GlobalAccPool | AccPool, scale: float,
                   offset: int) -> None:
    """The host replays the exact sum (2P - pix) * s (or (S + pix * offset) * s), the average's one float32
    operation and the tail; the form of the average (x / pix or x * (1 / pix)) is the one that equals qonnx
    on every sum (sampled evenly when there are more than EPILOGUE_SUMS)."""
    ops, consts = epilogue_ops(tail, "epilogue")
    pix, c = gap.pixels, gap.channels
    lo, hi = gap.sum_range
    sums = np.unique(np.linspace(lo, hi, min(hi - lo + 1, EPILOGUE_SUMS)).round().astype(np.int64))
    p = np.repeat(sums[:, None], c, axis=1)
    want = run(p)
    bipolar = gap.in_type.bipolar
    for op, v in (("div", np.float32(pix)), ("mul", np.float32(1) / np.float32(pix))):
        params = {**consts, "epilogue.zscale": np.full(c, np.float32(scale), np.float64),
                  "epilogue.pool": np.full(c, v, np.float32)}
        if offset:
            params["epilogue.offset"] = np.full(c, pix * offset, np.int64)
        epi = Epilogue("float", binary=bipolar, mw=pix, zscale="epilogue.zscale", ops=(HostOp(op, "epilogue.pool"), *ops),
                       acc_offset="epilogue.offset" if offset else "")
        got = epi.replay(p, params)
        if np.array_equal(got, want, equal_nan=True):
            b.params.update(params)
            b.epilogue = epi
            b.origins.append(LayerOrigin(name, tail.t_out, "nc", 1.0, via_epilogue=True))
            return
    raise FrontendError(f"{node.name} ({node.op_type}): the host replay of the average and the final ops does "
                        "not reproduce qonnx's output exactly")


def _maps(p: np.ndarray, hw: tuple[int, int], scale: float, et: IntType, offset: int) -> np.ndarray:
    """(rows, C) sums -> (rows, C, H, W) float maps whose elements sum to them: for a BIPOLAR map the first P
    pixels (row-major) at +scale, the rest -scale; else pixels filled to the element maximum in turn from the
    minimum, the value of element e being (e + offset) * scale."""
    rows, c = p.shape
    pix = hw[0] * hw[1]
    if et.bipolar:
        e = np.where(np.arange(pix)[None, None, :] < p[:, :, None], 1, -1)
    else:
        span = et.max - et.min
        extra = p[:, :, None] - pix * et.min - np.arange(pix)[None, None, :] * span
        e = et.min + np.clip(extra, 0, span)
    return ((e + offset).astype(np.float64) * np.float32(scale)).astype(np.float32).reshape(rows, c, *hw)


def run_pool(model, nodes, t_in: str, t_out: str, p: np.ndarray, hw: tuple[int, int], scale: float,
             et: IntType = BIPOLAR, offset: int = 0) -> np.ndarray:
    """Execute ``nodes`` (the pool first) with qonnx on maps holding counts p (rows, C); returns (rows, C)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    rows, c = p.shape
    step = max(1, PROBE_ELEMS // (c * hw[0] * hw[1]))
    inits = constant_inputs(model, nodes)
    outs = []
    for r in range(0, rows, step):
        chunk = p[r:r + step]
        shape = [len(chunk), c, *hw]
        g = helper.make_graph(list(nodes), "pool", [helper.make_tensor_value_info(t_in, onnx.TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info(t_out, onnx.TensorProto.FLOAT, None)], initializer=inits)
        m = ModelWrapper(helper.make_model(g, opset_imports=list(model.model.opset_import)))
        for n in nodes:  # every op after the pool keeps the pooled (rows, C, 1, 1) shape
            m.set_tensor_shape(n.output[0], [len(chunk), c, 1, 1])
        out = execute_onnx(m, {t_in: _maps(chunk, hw, scale, et, offset)})[t_out]
        outs.append(np.asarray(out, dtype=np.float32).reshape(len(chunk), c))
    return np.concatenate(outs)
