"""QONNX -> DataflowGraph: lower a binary network to integer dataflow nodes, exactly.

How exactness is obtained: every float "tail" between an accumulating op (MatMul/Conv) and the next quantizer
(BatchNormalization, Mul, Add, Sub, Div, ... then BipolarQuant) is monotone per channel (compile/tails.py checks
the conditions), so its switch point is found by bisection, each step *executed by qonnx itself* on one candidate
accumulator value per channel. A tail whose output falls with the accumulator (negative BN gamma) gets its weight
column negated, which keeps the weights ±1 and makes the rule "+1 iff acc >= T" exact, ties included. A tail
that ends the graph becomes float32 host ops (the epilogue) replaying onnxruntime's arithmetic, checked against
qonnx at compile time. So the integers agree with QONNX by construction, not by re-deriving float formulas.

Branching graphs (residual networks) are lowered by a worklist over quantized tensors (``_walk``): fan-out
becomes DuplicateStreams, an Add of two quantized tensors AddStreams + Thresholding (compile/residual.py).

Scope (this release): 1-bit (±1) or k-bit integer weights (k <= 4, compile/ir.py MAX_WEIGHT_BITS) with a
per-tensor or per-output-channel scale; bipolar or multi-bit activations
with any positive scale; an integer (or bipolar) network input produced by one input quantizer (Quant,
BipolarQuant, ONNX Sign), or carrying a qonnx integer datatype annotation (float ops on it tabulated,
compile/input_table.py); activations quantized by Quant, BipolarQuant, FINN's MultiThreshold or ONNX Sign; Conv (square kernel, no groups, no dilation) and MatMul/Gemm, with or
without bias; MaxPool, AveragePool (unpadded) and GlobalAveragePool on quantized tensors, Reshape/Flatten, a final TopK (k=1) -> label select. Anything
else is refused with a message naming the node and the value.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
from qonnx.core.modelwrapper import ModelWrapper

from candle_hw.compile.host_ir import Epilogue, HostOp, accumulator_value, InputQuant, LayerOrigin
from candle_hw.compile.ir import MAX_WEIGHT_BITS, DataflowGraph, LabelSelect, MatrixVectorUnit, MaxPool, SlidingWindow
from candle_hw.compile.bias import bias_add, bias_exact, check_margin, dot_error, dot_exact
from candle_hw.compile.global_pool import lower_avg_pool, lower_global_pool
from candle_hw.compile.input_table import lower_table_prologue
from candle_hw.compile.lowering import (
    QUANTIZERS, Builder, Cursor, FrontendError, activation_inputs, collect_tail, end_levels, end_scale, enter_dataflow,
    positive_scale,
)
from candle_hw.compile.residual import duplicate, is_join, lower_join
from candle_hw.compile.multibit import channel_thresholds, derive_levels, level_probe
from candle_hw.compile.tails import (
    PASS_THROUGH, TAIL_OPS, check_epilogue, check_tail, derive_thresholds, epilogue_ops, quantizer_probe, run_tail,
)
from candle_hw.compile.validate import fix_batch, validate_model
from candle_hw.types import BIPOLAR, IntType

# --------------------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------------------
def load_model(model: str | Path | bytes | ModelWrapper | onnx.ModelProto) -> ModelWrapper:
    """Load, validate (compile/validate.py) and clean a QONNX model; errors name the file and what is wrong."""
    label = "model"
    try:
        if isinstance(model, (str, Path)):
            label = str(model)
            if Path(model).is_dir():
                raise FrontendError(f"{label}: is a folder, not an ONNX model file")
            if not Path(model).is_file():
                raise FrontendError(f"{label}: no such file")
            proto = onnx.load(str(model))
        elif isinstance(model, bytes):
            proto = onnx.ModelProto.FromString(model)
        else:  # a private copy: the cleanup below edits the graph in place
            src = model.model if isinstance(model, ModelWrapper) else model
            proto = onnx.ModelProto.FromString(src.SerializeToString())
    except FrontendError:
        raise
    except Exception as exc:  # onnx raises DecodeError, ValidationError, ... for corrupt bytes
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FrontendError(f"{label}: not a valid ONNX model ({first})") from None
    validate_model(proto, label)
    inits = {t.name for t in proto.graph.initializer}
    real_inputs = [i for i in proto.graph.input if i.name not in inits]
    if len(real_inputs) != 1:
        raise FrontendError(f"{label}: expected exactly one graph input, found {[i.name for i in real_inputs]}")
    inp = real_inputs[0]
    fix_batch(proto, inp.name)  # one frame at a time: a dynamic batch dimension becomes 1
    dims = inp.type.tensor_type.shape.dim
    if not dims or any(not d.HasField("dim_value") or d.dim_value < 1 for d in dims):
        shape = [d.dim_param or (d.dim_value if d.HasField("dim_value") else "?") for d in dims]
        raise FrontendError(f"input {inp.name}: shape {shape} is missing or dynamic; export with a fixed shape")
    try:
        mw = _cleanup(ModelWrapper(proto))
    except Exception as exc:
        raise FrontendError(f"{label}: qonnx cleanup failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    return mw


def _cleanup(mw: ModelWrapper) -> ModelWrapper:
    """qonnx's cleanup, keeping the model's own node and tensor names (errors quote them), and folding the
    weight quantizers into constant ±1 tensors."""
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import (
        GiveUniqueParameterTensors, RemoveStaticGraphInputs, RemoveUnusedTensors,
    )
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.transformation.quant_constant_folding import FoldTransposeIntoQuantInit

    for n in mw.graph.node:
        if n.op_type in ("BipolarQuant", "Quant", "Trunc"):
            n.domain = "qonnx.custom_op.general"
    for t in (InferShapes(), GiveUniqueParameterTensors(), FoldConstants(exclude_op_types=[]),
              FoldTransposeIntoQuantInit(), RemoveUnusedTensors(), RemoveStaticGraphInputs(), InferShapes()):
        mw = mw.transform(t)
    seen: set[str] = set()
    for i, n in enumerate(mw.graph.node):
        if not n.name or n.name in seen:
            n.name = f"{n.op_type}_{i}"
        seen.add(n.name)
    return mw


# --------------------------------------------------------------------------------------------------------
# the lowering walk
# --------------------------------------------------------------------------------------------------------
def qonnx_to_dataflow(model: str | Path | bytes | ModelWrapper | onnx.ModelProto) -> DataflowGraph:
    """Lower a binary QONNX model to a DataflowGraph (unfolded: PE = SIMD = 1)."""
    mw = load_model(model)
    b = Builder(mw)
    in_name = next(i.name for i in mw.graph.input if mw.get_initializer(i.name) is None)
    in_shape = tuple(mw.get_tensor_shape(in_name))
    out_names = [o.name for o in mw.graph.output]
    _walk(b, _lower_prologue(b, Cursor(in_name), in_shape))
    if len(out_names) != 1:
        raise FrontendError(f"expected one graph output, found {out_names}")
    out_shape = tuple(mw.get_tensor_shape(out_names[0]))
    if not b.nodes:
        raise FrontendError("the model has no matrix or convolution layer to map")
    return DataflowGraph(
        nodes=tuple(b.nodes), params=b.params, prologue=b.prologue, epilogue=b.epilogue,
        model_input_shape=in_shape, model_output_shape=out_shape, origins=tuple(b.origins), edges=tuple(b.edges),
    )


def _walk(b: Builder, start: Cursor) -> None:
    """Lower every node reachable from the dataflow input: a worklist over quantized ONNX tensors. A tensor
    read by several nodes becomes a DuplicateStreams with one output per reading; an Add of two quantized
    tensors waits until both operands are lowered (compile/residual.py). Nodes are appended only once their
    inputs exist, so the stored order is topological."""
    waiting: dict[str, dict[int, Cursor]] = {}  # join node -> operand index -> lowered operand
    work = [start]
    while work:
        cur = work.pop()
        uses = [(n, i) for n in b.model.graph.node for i, t in enumerate(n.input) if t == cur.tensor]
        if not uses:
            if not b.is_output(cur.tensor):
                raise FrontendError(f"tensor {cur.tensor}: dead end (no consumer and not a graph output)")
            # the graph ends in quantized values: they are the output
            b.epilogue = Epilogue("int", scale=cur.scale, elem_offset=cur.offset)
            continue
        if b.is_output(cur.tensor):
            raise FrontendError(f"tensor {cur.tensor}: the graph output is also read by {uses[0][0].name}")
        branches = duplicate(b, cur, len(uses)) if len(uses) > 1 else [cur]
        for (node, idx), c in zip(reversed(uses), reversed(branches)):
            if is_join(b, node):
                ready = waiting.setdefault(node.name, {})
                ready[idx] = c
                if len(ready) == len(activation_inputs(b, node)):
                    work.append(lower_join(b, node, waiting.pop(node.name)))
                continue
            b.tip = c.src
            nxt = _lower_node(b, node, c)
            if nxt is not None:
                nxt.src = b.tip
                work.append(nxt)
    if waiting:
        name, ready = next(iter(waiting.items()))
        node = next(n for n in b.model.graph.node if n.name == name)
        missing = next(t for i, t in enumerate(node.input) if t in activation_inputs(b, node) and i not in ready)
        raise FrontendError(f"{node.name} ({node.op_type}): operand {missing} is not a quantized tensor of the "
                            "dataflow (both operands of a residual Add must come from a quantizer)")


def _lower_node(b: Builder, node: onnx.NodeProto, cur: Cursor) -> Cursor | None:
    op = node.op_type
    if op in PASS_THROUGH:
        return Cursor(node.output[0], cur.elem_type, cur.scale, cur.nhwc, cur.flatten_from, cur.pending_pad, cur.offset)
    if op in ("Reshape", "Flatten"):
        return _lower_flatten(b, node, cur)
    if op == "Pad":
        return _lower_pad(b, node, cur)
    if op in ("MatMul", "Gemm"):
        return _lower_matmul(b, node, cur)
    if op == "Conv":
        return _lower_conv(b, node, cur)
    if op == "MaxPool":
        return _lower_maxpool(b, node, cur)
    if op == "AveragePool":
        return lower_avg_pool(b, node, cur)
    if op == "GlobalAveragePool":
        return lower_global_pool(b, node, cur)
    if op in TAIL_OPS or op in QUANTIZERS:
        raise FrontendError(
            f"{node.name} ({op}): a float operation on an already quantized tensor {cur.tensor} must follow a "
            "MatMul/Conv (it would need a requantizing threshold unit)"
        )
    raise FrontendError(f"{node.name}: unsupported op type {op!r}")


# -- prologue ----------------------------------------------------------------------------------------------
def _lower_prologue(b: Builder, cur: Cursor, in_shape: tuple[int, ...]) -> Cursor:
    """Record the host ops from the model input to the first quantizer and return the dataflow input."""
    ops: list[HostOp] = []
    shape = list(in_shape)
    annotated = _input_datatype(b, cur.tensor)
    if annotated is not None and _float_ops_ahead(b, cur.tensor):
        return lower_table_prologue(b, cur, shape, annotated)
    while True:
        node = b.only_consumer(cur.tensor)
        if node is None:
            raise FrontendError(f"tensor {cur.tensor}: the input is never quantized (no BipolarQuant/Quant found)")
        op = node.op_type
        if annotated is not None and op in ("MatMul", "Gemm", "Conv", "Pad"):
            # no quantizer: the model's input datatype annotation says which integers the input holds
            return enter_dataflow(b, node, cur.tensor, shape, ops, InputQuant("datatype", annotated))
        if op in ("Reshape", "Flatten"):
            shape = list(b.model.get_tensor_shape(node.output[0]))
            ops.append(HostOp("reshape", shape=tuple(shape)))
        elif op in ("Mul", "Add", "Sub", "Div"):
            if annotated is not None:
                raise FrontendError(f"{node.name} ({op}): float op on the {annotated.name} input before any quantizer")
            if node.input[0] != cur.tensor:
                raise FrontendError(f"{node.name} ({op}): the input must be the first operand")
            key = f"prologue.{len(ops)}"
            b.params[key] = b.const(node, 1, "operand").astype(np.float32)
            ops.append(HostOp(op.lower(), key))
        elif op in PASS_THROUGH:
            pass
        elif op == "Sign":  # -1, 0 or +1: a signed 2-bit input (0 only where the float value is exactly 0)
            return enter_dataflow(b, node, node.output[0], shape, ops, InputQuant("sign", IntType(2, True)))
        elif op == "BipolarQuant":
            scale = positive_scale(b, node, b.const(node, 1, "scale"))
            return enter_dataflow(b, node, node.output[0], shape, ops, InputQuant("bipolar", BIPOLAR, scale))
        elif op == "Quant":
            scale = positive_scale(b, node, b.const(node, 1, "scale"))
            zp = b.const(node, 2, "zero point")
            bits = b.const(node, 3, "bit width")
            if np.any(zp != 0):
                raise FrontendError(f"{node.name} (Quant): zero point {zp.tolist()} is not supported (must be 0)")
            nbits = int(np.asarray(bits).reshape(-1)[0])
            signed = bool(b.attr(node, "signed", 1))
            narrow = bool(b.attr(node, "narrow", 0))
            rounding = b.attr(node, "rounding_mode", "ROUND")
            rounding = rounding.decode() if isinstance(rounding, bytes) else rounding
            if nbits == 1 and signed:
                raise FrontendError(f"{node.name} (Quant): a 1-bit signed Quant is not supported as the input quantizer")
            quant = InputQuant("int", IntType(nbits, signed), scale, narrow, rounding)
            return enter_dataflow(b, node, node.output[0], shape, ops, quant)
        else:
            raise FrontendError(f"{node.name}: unsupported op type {op!r} before the input quantizer")
        cur = Cursor(node.output[0])


def _float_ops_ahead(b: Builder, tensor: str) -> bool:
    """Whether elementwise float ops, a MultiThreshold or a Sign lie between ``tensor`` and the first layer (a
    Sign of an unsigned or bipolar input has fewer values than Sign's signed 2-bit range: tabulated)."""
    node = b.only_consumer(tensor)
    while node is not None and node.op_type not in ("MatMul", "Gemm", "Conv", "Pad", "Quant", "BipolarQuant"):
        if node.op_type in ("Mul", "Add", "Sub", "Div", "MultiThreshold", "Sign"):
            return True
        node = b.only_consumer(node.output[0])
    return False


def _input_datatype(b: Builder, tensor: str) -> IntType | None:
    """The integer type of the model input from its qonnx datatype annotation (None: a float input)."""
    dt = b.model.get_tensor_datatype(tensor)
    if dt is None or dt.name.startswith("FLOAT"):
        return None
    try:
        etype = IntType.from_name(dt.name)
    except Exception:
        raise FrontendError(f"input {tensor}: datatype {dt.name} is not supported (BIPOLAR, INTn or UINTn)") from None
    if etype.bits > 24:
        raise FrontendError(f"input {tensor}: datatype {dt.name} is wider than 24 bits")
    return etype


# -- layout ops --------------------------------------------------------------------------------------------
def _lower_flatten(b: Builder, node: onnx.NodeProto, cur: Cursor) -> Cursor:
    out_shape = tuple(b.model.get_tensor_shape(node.output[0]))
    if len(out_shape) != 2 or out_shape[0] != 1 or out_shape[1] != math.prod(cur.nhwc):
        raise FrontendError(f"{node.name} ({node.op_type}): only flattening to (1, {math.prod(cur.nhwc)}) is supported, got {list(out_shape)}")
    flatten_from = None
    if len(cur.nhwc) == 3:
        h, w, c = cur.nhwc
        flatten_from = (c, h, w)
    return Cursor(node.output[0], cur.elem_type, cur.scale, (out_shape[1],), flatten_from, offset=cur.offset)


def _lower_pad(b: Builder, node: onnx.NodeProto, cur: Cursor) -> Cursor:
    mode = b.attr(node, "mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    pads = b.const(node, 1, "pads").astype(int).tolist()
    value = float(b.const(node, 2, "constant value").reshape(-1)[0]) if len(node.input) > 2 and node.input[2] else 0.0
    if mode != "constant" or len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)) or len(set(pads[2:4] + pads[6:8])) != 1:
        raise FrontendError(f"{node.name} (Pad): only symmetric constant spatial padding is supported, got mode={mode} pads={pads}")
    elem = value / cur.scale - cur.offset
    # 0 on a ±1 map is zero padding: the conv lowering realises it exactly (MatrixVectorUnit.border)
    ok = elem in (-1.0, 0.0, 1.0) if cur.elem_type.bipolar else float(elem).is_integer() and cur.elem_type.min <= elem <= cur.elem_type.max
    if not ok:
        raise FrontendError(f"{node.name} (Pad): pad value {value} is not representable in {cur.elem_type} (scale {cur.scale})")
    nxt = b.only_consumer(node.output[0])
    if nxt is None or nxt.op_type != "Conv":
        raise FrontendError(f"{node.name} (Pad): padding is supported only directly before a Conv")
    return Cursor(node.output[0], cur.elem_type, cur.scale, cur.nhwc, cur.flatten_from, (pads[2], elem), cur.offset)


def _lower_maxpool(b: Builder, node: onnx.NodeProto, cur: Cursor) -> Cursor:
    k = b.attr(node, "kernel_shape")
    s = b.attr(node, "strides", k)
    pads = b.attr(node, "pads", [0, 0, 0, 0])
    if len(cur.nhwc) != 3:
        raise FrontendError(f"{node.name} (MaxPool): input is not a feature map")
    if len(set(k)) != 1 or len(set(s)) != 1 or any(pads) or b.attr(node, "ceil_mode", 0) or b.attr(node, "dilations", [1, 1]) != [1, 1]:
        raise FrontendError(f"{node.name} (MaxPool): kernel={k} strides={s} pads={pads}: only square, unpadded pools are supported")
    h, w, c = cur.nhwc
    n = MaxPool(f"pool{b.n_pool}", (h, w), c, int(k[0]), int(s[0]), cur.elem_type)
    b.n_pool += 1
    b.add(n)
    b.origins.append(LayerOrigin(n.name, node.output[0], "nchw", cur.scale, offset=cur.offset))
    oh, ow = n.ofm_dim
    return Cursor(node.output[0], cur.elem_type, cur.scale, (oh, ow, c), offset=cur.offset)


# -- accumulating layers -----------------------------------------------------------------------------------
def _check_weights(node: onnx.NodeProto, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mw, mh) float weights -> integers q, the per-channel scale s_c > 0 with every W[k, c] == fl32(q[k, c] * s_c)
    (as qonnx's Quant computes them), and per channel whether that product is exact in float64 (else the
    weight's own rounding joins the dot product's error bound, compile/bias.py dot_error). ±1 for 1-bit
    weights, else k-bit integers (k <= MAX_WEIGHT_BITS; e.g. Brevitas' narrow 2-bit {-1, 0, 1}). The scales (per
    tensor or per output channel) are absorbed by the next thresholds, as FINN does."""
    w = np.asarray(w, dtype=np.float32)
    mag = np.abs(w)
    scale = mag.max(axis=0) if w.size else np.ones(w.shape[1], np.float32)
    bad = np.flatnonzero(~np.all(mag == scale[None, :], axis=0) | ~(scale > 0) | ~np.isfinite(scale))
    if not bad.size:
        return np.where(w > 0, 1, -1).astype(np.int8), scale, np.ones(w.shape[1], bool)
    q = np.zeros(w.shape, np.int8)
    scale = np.ones(w.shape[1], np.float32)
    exact = np.ones(w.shape[1], bool)
    for c in range(w.shape[1]):
        col = _integer_column(w[:, c])
        if col is None:
            raise FrontendError(_non_binary_message(node, w, c))
        q[:, c], scale[c] = col
        exact[c] = bool(np.all(q[:, c].astype(np.float64) * np.float64(scale[c]) == w[:, c]))
    return q, scale, exact


def _integer_column(col: np.ndarray) -> tuple[np.ndarray, np.float32] | None:
    """One output channel's float weights as fl32(q * s), q integers of at most MAX_WEIGHT_BITS signed bits and s a
    positive float32, or None: s is the smallest magnitude divided by the smallest m that reproduces every value."""
    nz = np.abs(col[col != 0])
    if not nz.size:
        return np.zeros(col.shape, np.int8), np.float32(1.0)
    if not np.all(np.isfinite(nz)):
        return None
    lo, hi = -(1 << (MAX_WEIGHT_BITS - 1)), (1 << (MAX_WEIGHT_BITS - 1)) - 1
    for m in range(1, -lo + 1):
        s = np.float32(nz.min() / np.float32(m))
        if not s > 0:
            return None
        q = np.round(col.astype(np.float64) / np.float64(s))
        if q.min() < lo or q.max() > hi:
            continue
        # the quantizer's own scale may be an ulp away from min/m (its products were rounded): try each weight's
        # quotient and its neighbours
        cands = {s} | {np.float32(v / np.float32(k)) for v, k in zip(col[q != 0], q[q != 0])}
        for c in sorted(cands | {np.nextafter(c, np.float32(np.inf)) for c in cands}
                        | {np.nextafter(c, np.float32(0)) for c in cands}):
            if c > 0 and np.array_equal((q.astype(np.float32) * np.float32(c)).astype(np.float32), col):
                return q.astype(np.int8), np.float32(c)
    return None


def _non_binary_message(node: onnx.NodeProto, w: np.ndarray, bad: int) -> str:
    """The refusal names the layer, the offending output channel and a few of its values."""
    return (f"{node.name} ({node.op_type}): output channel {bad} has weights [{_few(w[:, bad])}], not q * s with q "
            f"an integer of at most {MAX_WEIGHT_BITS} bits and one positive scale s per output channel (layer "
            f"values [{_few(w)}])")


def _few(w: np.ndarray) -> str:
    vals = np.unique(w)
    return ", ".join(f"{v:g}" for v in vals[:6]) + (", ..." if vals.size > 6 else "")


def _lower_matmul(b: Builder, node: onnx.NodeProto, cur: Cursor) -> Cursor | None:
    if node.input[0] != cur.tensor:
        raise FrontendError(f"{node.name} ({node.op_type}): the activation must be the first operand")
    if cur.elem_type is None:
        raise FrontendError(f"{node.name}: input is not quantized")
    bias = None
    if node.op_type == "Gemm":
        if b.attr(node, "transA", 0) or b.attr(node, "alpha", 1.0) != 1.0 or b.attr(node, "beta", 1.0) != 1.0:
            raise FrontendError(f"{node.name} (Gemm): transA/alpha/beta other than 0/1/1 are not supported")
        if len(node.input) > 2 and node.input[2]:
            bias = b.const(node, 2, "bias")
    w = b.const(node, 1, "weight")
    if node.op_type == "Gemm" and b.attr(node, "transB", 0):
        w = w.T
    w, wscale, wexact = _check_weights(node, w)
    if len(cur.nhwc) != 1 or w.shape[0] != cur.nhwc[0]:
        raise FrontendError(f"{node.name}: weight shape {list(w.shape)} does not match input of {cur.nhwc} elements")
    if cur.flatten_from is not None:
        c, h, wd = cur.flatten_from
        # ONNX flattens NCHW in (c, h, w) order; the stream carries (h, w, c)
        w = w.reshape(c, h, wd, -1).transpose(1, 2, 0, 3).reshape(c * h * wd, -1)
    name = f"fc{b.n_fc}"
    b.n_fc += 1
    return _finish_accumulator(b, node, cur, name, w, (1,), "nc", wscale=wscale, bias=bias, wexact=wexact)


def _lower_conv(b: Builder, node: onnx.NodeProto, cur: Cursor) -> Cursor | None:
    if cur.elem_type is None or len(cur.nhwc) != 3:
        raise FrontendError(f"{node.name} (Conv): input is not a quantized feature map")
    bias = b.const(node, 2, "bias") if len(node.input) > 2 and node.input[2] else None
    w = b.const(node, 1, "weight")
    k = b.attr(node, "kernel_shape", list(w.shape[2:]))
    s = b.attr(node, "strides", [1, 1])
    pads = b.attr(node, "pads", [0, 0, 0, 0])
    if b.attr(node, "group", 1) != 1:
        raise FrontendError(f"{node.name} (Conv): group={b.attr(node, 'group')} is not supported")
    if b.attr(node, "dilations", [1, 1]) != [1, 1]:
        raise FrontendError(f"{node.name} (Conv): dilations={b.attr(node, 'dilations')} are not supported")
    if len(set(k)) != 1 or len(set(s)) != 1 or len(set(pads)) != 1:
        raise FrontendError(f"{node.name} (Conv): kernel={k} strides={s} pads={pads}: only square, symmetric convs are supported")
    h, wd, c = cur.nhwc
    ofm, ifm = w.shape[:2]
    if ifm != c:
        raise FrontendError(f"{node.name} (Conv): weight has {ifm} input channels, input has {c}")
    pad, pad_value = int(pads[0]), -cur.offset  # the element of the value 0
    if pad and cur.pending_pad is not None:
        raise FrontendError(f"{node.name} (Conv): both a Pad node and Conv pads")
    if cur.pending_pad is not None:
        pad, pad_value = cur.pending_pad[0], int(cur.pending_pad[1])
    border: tuple[int, ...] = ()
    if pad and pad_value == 0 and cur.elem_type.bipolar:
        # zero padding of a ±1 map: the window pads with -1 and the matrix unit counts those taps as 0
        border, pad_value = (h, wd, int(k[0]), int(s[0]), pad), -1
    idx = b.n_conv
    b.n_conv += 1
    swg = SlidingWindow(f"swg{idx}", (h, wd), c, int(k[0]), int(s[0]), pad, pad_value, cur.elem_type)
    b.add(swg)
    oh, ow = swg.ofm_dim
    # [OFM][IFM][ky][kx] -> rows in (ky, kx, c) order, the sliding window's element order
    wmat, wscale, wexact = _check_weights(node, w.transpose(2, 3, 1, 0).reshape(int(k[0]) * int(k[0]) * c, ofm))
    return _finish_accumulator(b, node, cur, f"conv{idx}", wmat, (oh, ow), "nchw", border, wscale, bias, wexact)


def _acc_bounds(w: np.ndarray, etype: IntType, xnor: bool) -> tuple[int, int]:
    """The accumulator's range over every input of ``etype`` for the stored weights (XNOR: agreements)."""
    if xnor:
        return 0, w.shape[0]
    w = w.astype(np.int64)
    a, b = w * etype.min, w * etype.max
    return int(np.minimum(a, b).sum(axis=0).min()), int(np.maximum(a, b).sum(axis=0).max())


def _weight_type(w: np.ndarray) -> IntType:
    """BIPOLAR for ±1 weights (an XNOR unit on a BIPOLAR input), else the smallest integer type of the values, of
    at least 2 bits (a 1-bit weight means ±1 in the RTL and the memory layout)."""
    if bool(np.all(np.abs(w) == 1)):
        return BIPOLAR
    t = IntType.for_range(int(w.min()), int(w.max()))
    return t if t.bits > 1 else IntType(2, t.signed)


def _finish_accumulator(
    b: Builder, node: onnx.NodeProto, cur: Cursor, name: str, w: np.ndarray, vectors: tuple[int, ...], layout: str,
    border: tuple[int, ...] = (), wscale: np.ndarray | None = None, bias: np.ndarray | None = None,
    wexact: np.ndarray | None = None,
) -> Cursor | None:
    """Collect the float tail after an accumulating node and turn it into thresholds or an epilogue.
    With a ``border`` (zero-padded ±1 conv) thresholds are derived on the zero-padded dot product z, every
    integer in [-mw, mw] (z may have either parity), and shifted to the unit's accumulator z + mw."""
    # XNOR-popcount only for ±1 inputs and ±1 weights; k-bit weights make an integer dot product
    binary = cur.elem_type.bipolar and _weight_type(w).bipolar
    if border and not binary:
        raise FrontendError(f"{node.name} ({node.op_type}): zero padding of a ±1 map with {_weight_type(w)} weights "
                            "is not supported (zero-padded ±1 windows need 1-bit weights)")
    mw, mh = w.shape
    nodes, t, end = collect_tail(b, node)
    if (end is None or end.op_type not in QUANTIZERS) and layout != "nc":
        raise FrontendError(f"{node.name}: a conv output must be quantized before global pooling or the graph "
                            "output (got an unquantized conv output)")
    t_in = node.output[0]
    if bias is not None:  # the bias becomes the tail's first op: an Add on the bias-free dot product
        add = bias_add(b.model, node, bias, mh, layout)
        t_in, nodes = add.input[0], [add, *nodes]
    tail = check_tail(b.model, nodes, t_in, mh, layout)
    lo, hi = _acc_bounds(w, cur.elem_type, binary)
    # the real value the ONNX graph computes from the accumulator: dot * input scale * channel weight scale
    wscale = np.ones(mh, np.float32) if wscale is None else wscale
    zscale = np.float64(cur.scale) * wscale.astype(np.float64)
    # a zero-padded ±1 conv thresholds the true dot product, every integer in [-mw, mw] (compile/zero_pad.py)
    t_lo, t_hi, t_binary = (-mw, mw, False) if border else (lo, hi, binary)
    # counts q - qmin of a signed multi-bit input: the dot of the values q is acc + qmin * (column sum of W)
    off = (cur.offset * w.astype(np.int64).sum(axis=0)) if cur.offset else None
    d_lo, d_hi = (t_lo, t_hi) if off is None else (t_lo + int(off.min()), t_hi + int(off.max()))
    dmax = mw if binary else max(abs(d_lo), abs(d_hi))
    wexact = np.ones(mh, bool) if wexact is None else wexact
    if end is not None and end.op_type in QUANTIZERS:
        levels = end_levels(b, end)
        out_scale = end_scale(b, end)
        exact = dot_exact(zscale, dmax) & wexact
        bias_inexact = bias is not None and not bias_exact(node, bias, zscale, mw, t_binary, d_lo, d_hi)
        xmax = 1 if cur.elem_type.bipolar else max(abs(cur.elem_type.min + cur.offset), abs(cur.elem_type.max + cur.offset))
        qmax = xmax * int(np.abs(w).max(initial=1))
        if levels is None:
            is_on = quantizer_probe(b.model, name, nodes + [end], t_in, end.output[0], layout, t_binary, mw,
                                    zscale, out_scale, off)
            thresholds, flip = derive_thresholds(name, is_on, t_lo, t_hi, mh)
            steps = [(thresholds, flip, 0.0)]
            thresholds = thresholds[None, :]
        else:
            def run(acc: np.ndarray) -> np.ndarray:
                return run_tail(b.model, nodes + [end], t_in, end.output[0],
                                accumulator_value(acc, t_binary, mw, zscale, off), layout)
            level = level_probe(name, run, levels, out_scale)
            raw, raw_flip = derive_levels(name, level, t_lo, t_hi, mh, levels.count)
            # level i is on iff the Quant output is >= (qmin + i) * scale: cut half a step below it
            steps = [(raw[i], raw_flip[i], float((levels.qmin + i + 0.5) * out_scale)) for i in range(levels.count)]
            thresholds, flip = channel_thresholds(name, raw, raw_flip, t_lo, t_hi)
            if end.op_type == "Sign" and np.array_equal(thresholds[0], thresholds[1]):
                # no accumulator value gives Sign's 0 in any channel: the output is ±1, one threshold
                thresholds, levels = thresholds[:1], None
        if bias_inexact or not exact.all():
            for t_i, flip_i, cut in steps:
                check_margin(b.model, name, node, tail, end, layout, t_i, flip_i, (t_lo, t_hi),
                             lambda acc: accumulator_value(acc, t_binary, mw, zscale, off),
                             lambda v: dot_error(zscale, np.count_nonzero(w, axis=0), qmax, exact, ~wexact, v),
                             bias_inexact, cut)
        w = w * np.where(flip, -1, 1).astype(np.int8)[None, :]
        if border:
            # the unit accumulates z + mw (padded taps count 0, see MatrixVectorUnit): compare with tau + mw
            thresholds = np.clip(thresholds + mw, 0, 2 * mw + 1)
        elif binary:
            # a flipped column counts P' = mw - P agreements: P <= a  <=>  P' >= mw - a (thresholds hold -a)
            thresholds = np.where(flip, mw + thresholds, thresholds)
        else:
            lo2, hi2 = _acc_bounds(w, cur.elem_type, False)
            thresholds = np.clip(thresholds, lo2, hi2 + 1)
        lo, hi = _acc_bounds(w, cur.elem_type, binary)
        acc_type = IntType.for_range(lo, 2 * hi if border else hi)
        n_thr = thresholds.shape[0]
        out_type = BIPOLAR if levels is None else IntType.for_range(0, n_thr)
        mvu = MatrixVectorUnit(name, mw, mh, 1, 1, cur.elem_type, acc_type, out_type, binary, vectors, n_thr,
                               weight_type=_weight_type(w), border=border)
        b.params[f"{name}.weights"] = w
        b.params[f"{name}.thresholds"] = np.ascontiguousarray(thresholds.T).astype(np.int64)
        b.add(mvu)
        qmin = 0 if levels is None else levels.qmin
        b.origins.append(LayerOrigin(name, end.output[0], layout, out_scale, offset=qmin))
        new_shape = (*vectors, mh) if layout == "nchw" else (mh,)
        return Cursor(end.output[0], out_type, out_scale, new_shape, offset=qmin)
    # no quantizer: the network ends here (optionally in a TopK)
    acc_type = IntType.for_range(lo, hi)
    mvu = MatrixVectorUnit(name, mw, mh, 1, 1, cur.elem_type, acc_type, acc_type, binary, vectors, 0,
                           weight_type=_weight_type(w))
    b.params[f"{name}.weights"] = w
    b.add(mvu)
    inexact = np.flatnonzero(~(dot_exact(zscale, dmax) & wexact))
    if inexact.size:
        c = int(inexact[0])
        raise FrontendError(
            f"{node.name} ({node.op_type}): channel {c}: input scale x weight scale = {float(zscale[c])!r} makes qonnx's "
            "float32 dot product round in an input-dependent order, so the last layer's float output is not a "
            "function of the accumulator; use power-of-two scales on the last layer or end it in a quantizer")
    if bias is not None and not bias_exact(node, bias, zscale, mw, binary, d_lo, d_hi):
        raise FrontendError(
            f"{node.name} (Gemm): a float bias on the last layer with {mw} inputs: onnxruntime adds it inside its "
            "K-blocked sum, so the output is not a function of the accumulator; use MatMul + Add or a bias on the "
            "accumulator's grid (a quantized bias)")
    ops, consts = epilogue_ops(tail, "epilogue")
    b.params.update(consts)
    b.params["epilogue.zscale"] = zscale
    integral = not ops and bool(np.all(zscale == 1.0))
    if off is not None:
        b.params["epilogue.offset"] = off
    epi = Epilogue("float", binary=binary, mw=mw, zscale="epilogue.zscale", ops=ops, integral=integral,
                   acc_offset="epilogue.offset" if off is not None else "")
    check_epilogue(b.model, b.params, name, epi, tail, lo, hi, mh)
    if end is not None and end.op_type == "TopK":
        return _lower_topk(b, end, epi, lo, hi, acc_type)
    if end is not None:
        raise FrontendError(f"{end.name}: unsupported op type {end.op_type!r} after the last layer")
    b.epilogue = epi
    b.origins.append(LayerOrigin(name, t, "nc", 1.0, via_epilogue=True))
    return None


def _lower_topk(b: Builder, node: onnx.NodeProto, epi: Epilogue, lo: int, hi: int, acc_type: IntType) -> None:
    k = int(b.const(node, 1, "k").reshape(-1)[0])
    axis = b.attr(node, "axis", -1)
    if b.attr(node, "largest", 1) != 1 or axis not in (-1, 1):
        raise FrontendError(f"{node.name} (TopK): only largest=1 on the last axis is supported")
    outs = [o for o in node.output if o]
    graph_outs = {o.name for o in b.model.graph.output}
    if len(outs) < 2 or outs[1] not in graph_outs or (outs[0] in graph_outs):
        raise FrontendError(f"{node.name} (TopK): only the indices output may be a graph output")
    # label select compares integers: exact only if the scores are one strictly increasing function of the
    # accumulator for every class (checked on the whole range of the host replay, itself checked against qonnx)
    mh = int(b.params[epi.zscale].size)
    same = all(np.all(v == v[0]) for v in [b.params[epi.zscale]] + [b.params[o.const] for o in epi.ops])
    scores = epi.replay(np.arange(lo, hi + 1, dtype=np.int64)[:, None], {k: v[:1] for k, v in b.params.items()
                                                                         if k.startswith("epilogue.")})
    if not (same and np.all(np.diff(scores[:, 0]) > 0)):
        raise FrontendError(
            f"{node.name} (TopK): the scores before TopK are not one strictly increasing function of the "
            "accumulator for all classes; label select on integers would not be exact"
        )
    ls = LabelSelect("labelselect", mh, k, 1, acc_type, IntType.for_range(0, mh - 1))
    b.add(ls)
    b.epilogue = Epilogue("label")
    b.origins.append(LayerOrigin("labelselect", outs[1], "nc"))
    return None
