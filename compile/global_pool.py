"""GlobalAveragePool on a ±1 map -> GlobalAccPool (+ Thresholding, or the host epilogue), exactly.

QONNX averages float32 values ±s over H*W pixels. When every partial sum of ±s is a float32 number (s's odd
mantissa times H*W below 2**24), the sum is exact in any order, so the pool's output, and everything after it,
is a function of the +1 count P alone: the hardware counts P per channel (GlobalAccPool). What follows is
derived as after an accumulating node (compile/tails.py), each probe executed by qonnx itself on maps with
the candidate count: a quantizer becomes thresholds on P (FINN's GlobalAccPool + Thresholding), and a tail that
ends the graph becomes host float32 ops (the average's division first), checked against qonnx on every P.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import onnx
from onnx import helper, numpy_helper

from candle_hw.compile.host_ir import Epilogue, HostOp, LayerOrigin
from candle_hw.compile.ir import GlobalAccPool, Thresholding
from candle_hw.compile.tails import PASS_THROUGH, TAIL_OPS, check_tail, derive_thresholds, epilogue_ops
from candle_hw.types import BIPOLAR, IntType

F32_EXACT = 1 << 24
PROBE_ELEMS = 1 << 22  # map elements per qonnx call


def lower_global_pool(b, node: onnx.NodeProto, cur):
    from candle_hw.compile.frontend import QUANTIZERS, FrontendError, _Cursor, _positive_scale

    if cur.elem_type is None or len(cur.nhwc) != 3:
        raise FrontendError(f"{node.name} (GlobalAveragePool): input is not a quantized feature map")
    if not cur.elem_type.bipolar:
        raise FrontendError(f"{node.name} (GlobalAveragePool): input type {cur.elem_type} is not supported (a BIPOLAR map only)")
    h, w, c = cur.nhwc
    pix = h * w
    if Fraction(cur.scale).numerator * pix >= F32_EXACT:
        raise FrontendError(f"{node.name} (GlobalAveragePool): scale {cur.scale} over {pix} pixels: the float32 sum "
                            "would round in an input-dependent order")
    name = f"gap{sum(isinstance(n, GlobalAccPool) for n in b.nodes)}"
    gap = GlobalAccPool(name, (h, w), c, BIPOLAR, IntType.for_range(0, pix))
    b.nodes.append(gap)
    tail_nodes, t, end = [], node.output[0], None
    while True:
        nxt = b.only_consumer(t)
        if nxt is None or nxt.op_type not in TAIL_OPS + PASS_THROUGH:
            end = nxt
            break
        tail_nodes.append(nxt)
        t = nxt.output[0]
    tail = check_tail(b.model, tail_nodes, node.output[0], c, "nchw")

    def run(nodes, t_out, p):
        return run_pool(b.model, [node, *nodes], node.input[0], t_out, p, (h, w), cur.scale)

    if end is not None and end.op_type in QUANTIZERS:
        if end.op_type == "Quant" and not (int(b.const(end, 3, "bit width").reshape(-1)[0]) == 1 and bool(b.attr(end, "signed", 1))):
            raise FrontendError(f"{end.name} (Quant): a multi-bit quantizer after global pooling is not supported yet (1-bit only)")
        out_scale = _positive_scale(b, end, b.const(end, 1, "scale"))

        def is_on(p):
            out = run(tail_nodes + [end], end.output[0], p)
            bad = ~np.isin(out, (-out_scale, out_scale))
            if bad.any():
                ch = int(np.argwhere(bad)[0][1])
                raise FrontendError(f"{name}: channel {ch}: quantizer output {out[bad][0]}, expected ±{out_scale}")
            return out > 0

        thresholds, flip = derive_thresholds(name, is_on, 0, pix, c)
        if flip.any():
            ch = int(np.flatnonzero(flip)[0])
            raise FrontendError(f"{end.name}: channel {ch}: the ops between {node.name} and the quantizer fall with "
                                "the average (a negative factor); global pooling needs a rising tail")
        thr = Thresholding(f"{name}_thr", c, 1, gap.out_type, BIPOLAR, 1)
        b.nodes.append(thr)
        b.params[f"{thr.name}.thresholds"] = np.clip(thresholds, 0, pix + 1).reshape(c, 1).astype(np.int64)
        b.origins.append(LayerOrigin(thr.name, end.output[0], "nchw", out_scale))
        return _Cursor(end.output[0], BIPOLAR, out_scale, (1, 1, c))
    if end is not None and not (end.op_type in ("Flatten", "Reshape") and b.is_output(end.output[0])
                                and b.only_consumer(end.output[0]) is None):
        raise FrontendError(f"{end.name}: unsupported op type {end.op_type!r} after global pooling "
                            "(a quantizer or the graph output must follow it)")
    if end is None and not b.is_output(t):
        raise FrontendError(f"tensor {t}: dead end (no consumer and not a graph output)")
    _pool_epilogue(b, name, node, tail, (lambda p: run(tail_nodes, t, p)), c, pix, cur.scale)
    return None


def _pool_epilogue(b, name: str, node: onnx.NodeProto, tail, run, c: int, pix: int, scale: float) -> None:
    """The host replays the exact sum (2P - pix) * s, the average's one float32 operation and the tail; the
    form of the average (x / pix or x * (1 / pix)) is the one that equals qonnx on every count."""
    from candle_hw.compile.frontend import FrontendError

    ops, consts = epilogue_ops(tail, "epilogue")
    p = np.repeat(np.arange(pix + 1, dtype=np.int64)[:, None], c, axis=1)
    want = run(p)
    for op, v in (("div", np.float32(pix)), ("mul", np.float32(1) / np.float32(pix))):
        params = {**consts, "epilogue.zscale": np.full(c, np.float32(scale), np.float64),
                  "epilogue.pool": np.full(c, v, np.float32)}
        epi = Epilogue("float", binary=True, mw=pix, zscale="epilogue.zscale", ops=(HostOp(op, "epilogue.pool"), *ops))
        got = epi.replay(p, params)
        if np.array_equal(got, want, equal_nan=True):
            b.params.update(params)
            b.epilogue = epi
            b.origins.append(LayerOrigin(name, tail.t_out, "nc", 1.0, via_epilogue=True))
            return
    raise FrontendError(f"{node.name} (GlobalAveragePool): the host replay of the average and the final ops does "
                        "not reproduce qonnx's output exactly")


def _maps(p: np.ndarray, hw: tuple[int, int], scale: float) -> np.ndarray:
    """(rows, C) counts -> (rows, C, H, W) maps of ±scale with the first P pixels (row-major) at +scale."""
    rows, c = p.shape
    on = np.arange(hw[0] * hw[1])[None, None, :] < p[:, :, None]
    return np.where(on, np.float32(scale), np.float32(-scale)).astype(np.float32).reshape(rows, c, *hw)


def run_pool(model, nodes, t_in: str, t_out: str, p: np.ndarray, hw: tuple[int, int], scale: float) -> np.ndarray:
    """Execute ``nodes`` (the pool first) with qonnx on maps holding counts p (rows, C); returns (rows, C)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    rows, c = p.shape
    step = max(1, PROBE_ELEMS // (c * hw[0] * hw[1]))
    inits, seen = [], set()
    for n in nodes:
        for i in n.input:
            if i and i not in seen and model.get_initializer(i) is not None:
                seen.add(i)
                inits.append(numpy_helper.from_array(np.asarray(model.get_initializer(i)), i))
    outs = []
    for r in range(0, rows, step):
        chunk = p[r:r + step]
        shape = [len(chunk), c, *hw]
        g = helper.make_graph(list(nodes), "pool", [helper.make_tensor_value_info(t_in, onnx.TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info(t_out, onnx.TensorProto.FLOAT, None)], initializer=inits)
        m = ModelWrapper(helper.make_model(g, opset_imports=list(model.model.opset_import)))
        for n in nodes:  # every op after the pool keeps the pooled (rows, C, 1, 1) shape
            m.set_tensor_shape(n.output[0], [len(chunk), c, 1, 1])
        out = execute_onnx(m, {t_in: _maps(chunk, hw, scale)})[t_out]
        outs.append(np.asarray(out, dtype=np.float32).reshape(len(chunk), c))
    return np.concatenate(outs)
