"""Float ops on an integer-annotated model input, tabulated: exact by enumerating the input's values.

A model input annotated with a small qonnx integer datatype (BIPOLAR, UINTn, INTn; FINN sets it on its models)
may pass through scalar elementwise float ops (Mul / Add / Sub / Div by one constant, Reshape/Flatten in
between) and optionally a quantizer (Quant, BipolarQuant, MultiThreshold) before the first MatMul/Gemm/Conv:
FINN's cybersecurity MLP maps its BIPOLAR input to {0, 1} by (x + 1) / 2, FINN's TFC divides a UINT8 image by
255 and thresholds it. Every op then applies the same function to each element, and the element takes one of
at most 2^n values, so qonnx itself executes that chain once on a tensor holding every value of the type: the
table it returns is the model's own arithmetic, with nothing re-derived in another precision. The dataflow
input is the table's values written as q * s (q integers, s one positive float32 with fl32(q * s) equal to
each value, as qonnx's Quant yields): BIPOLAR when every value is ±s, else the smallest integer type of the
q. The host checks that each input value is of the annotated type and looks its element up
(sim/host.py); the next layer sees the scale s like an input quantizer's.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from candle_hw.compile.host_ir import HostOp, InputQuant
from candle_hw.types import BIPOLAR, IntType, type_values

# widest annotated input enumerated (2^16 values: the table and one qonnx run stay small)
MAX_TABLE_BITS = 16
# scales tried: the smallest magnitude divided by 1..MAX_DIVISOR
MAX_DIVISOR = 256
ELEMENTWISE = ("Mul", "Add", "Sub", "Div")
TABLE_QUANTIZERS = ("Quant", "BipolarQuant", "MultiThreshold")


def lower_table_prologue(b, cur, shape: list[int], annotated: IntType):
    """From the annotated input ``cur.tensor`` through its float ops (and quantizer, if any) to the first
    MatMul/Gemm/Conv/Pad: one table, then the dataflow input. Refuses, naming the node, what is not a scalar
    elementwise op or a per-tensor quantizer."""
    from candle_hw.compile.frontend import FrontendError, _enter_dataflow
    from candle_hw.compile.tails import PASS_THROUGH

    if annotated.bits > MAX_TABLE_BITS:
        raise FrontendError(f"input {cur.tensor}: float ops on a {annotated.name} input: more than "
                            f"2^{MAX_TABLE_BITS} values to tabulate")
    reshapes: list[HostOp] = []
    chain: list[onnx.NodeProto] = []
    t = cur.tensor
    while True:
        node = b.only_consumer(t)
        if node is None:
            raise FrontendError(f"tensor {t}: the input never reaches a MatMul/Gemm/Conv")
        op = node.op_type
        if op in ("MatMul", "Gemm", "Conv", "Pad"):
            break
        if node.input[0] != t:
            raise FrontendError(f"{node.name} ({op}): the input must be the first operand")
        if op in ("Reshape", "Flatten"):
            shape = list(b.model.get_tensor_shape(node.output[0]))
            reshapes.append(HostOp("reshape", shape=tuple(shape)))
            chain.append(helper.make_node("Identity", [node.input[0]], [node.output[0]], name=node.name))
        elif op in PASS_THROUGH:
            chain.append(helper.make_node("Identity", [node.input[0]], [node.output[0]], name=node.name))
        elif op in ELEMENTWISE + TABLE_QUANTIZERS:
            for i in node.input[1:]:
                v = b.model.get_initializer(i) if i else None
                if v is None:
                    raise FrontendError(f"{node.name} ({op}): operand {i} is not a constant")
                if op == "MultiThreshold":
                    v = np.asarray(v)
                    if v.ndim != 2 or v.shape[0] != 1:
                        raise FrontendError(f"{node.name} (MultiThreshold): thresholds of shape {list(v.shape)} on "
                                            f"the {annotated.name} input: only one threshold row for every element "
                                            "can be tabulated")
                elif np.asarray(v).size != 1:
                    raise FrontendError(f"{node.name} ({op}): constant {i} of shape {list(np.asarray(v).shape)} on "
                                        f"the {annotated.name} input: only scalar constants can be tabulated")
            chain.append(node)
            if op in TABLE_QUANTIZERS:
                t = node.output[0]
                node = b.only_consumer(t)
                if node is None or node.op_type not in ("MatMul", "Gemm", "Conv", "Pad", "Reshape", "Flatten"):
                    what = "nothing" if node is None else f"{node.name} ({node.op_type})"
                    raise FrontendError(f"tensor {t}: the quantized input is read by {what}; expected a "
                                        "MatMul/Gemm/Conv (after an optional Reshape/Flatten)")
                if node.op_type in ("Reshape", "Flatten"):
                    shape = list(b.model.get_tensor_shape(node.output[0]))
                    reshapes.append(HostOp("reshape", shape=tuple(shape)))
                    t = node.output[0]
                    node = b.only_consumer(t)
                break
        else:
            raise FrontendError(f"{node.name}: unsupported op type {op!r} on the {annotated.name} input before "
                                "the first layer")
        t = node.output[0]
    values = _run_chain(b.model, chain, cur.tensor, t, type_values(annotated))
    elem_type, scale, q = table_type(chain[-1] if chain else None, values, annotated)
    key = "prologue.table"
    b.params[key] = q.astype(np.float32)
    quant = InputQuant("table", elem_type, scale, source=annotated.name, table=key)
    return _enter_dataflow(b, node, t, shape, reshapes, quant)


def _run_chain(model, chain: list[onnx.NodeProto], t_in: str, t_out: str, values: np.ndarray) -> np.ndarray:
    """qonnx's execution of ``chain`` on a (1, V) tensor holding every input value (each op is elementwise
    with scalar operands, so column i is the chain applied to value i)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    from candle_hw.compile.tails import constant_inputs

    shape = [1, values.size]
    g = helper.make_graph(
        list(chain), "input_table", [helper.make_tensor_value_info(t_in, onnx.TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(t_out, onnx.TensorProto.FLOAT, shape)],
        initializer=constant_inputs(model, chain),
    )
    m = ModelWrapper(helper.make_model(g, opset_imports=list(model.model.opset_import)))
    for n in chain[:-1]:
        m.set_tensor_shape(n.output[0], shape)
    out = execute_onnx(m, {t_in: values.reshape(shape).astype(np.float32)})[t_out]
    return np.asarray(out, dtype=np.float32).reshape(-1)


def table_type(last: onnx.NodeProto | None, values: np.ndarray, annotated: IntType) -> tuple[IntType, float, np.ndarray]:
    """The tabulated values as (element type, scale s, elements q) with values == fl32(q * s) exactly."""
    from candle_hw.compile.frontend import FrontendError

    where = f"{last.name} ({last.op_type})" if last is not None else "input"
    if not np.all(np.isfinite(values)):
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise FrontendError(f"{where}: the {annotated.name} input value {type_values(annotated)[bad]:g} becomes "
                            f"{values[bad]!r}")
    mag = np.abs(values)
    if mag.min() > 0 and np.all(mag == mag.max()):
        return BIPOLAR, float(mag.max()), np.sign(values)
    nz = mag[mag > 0]
    if not nz.size:
        return IntType(1, False), 1.0, np.zeros_like(values)
    for s in _scale_candidates(values, nz):
        q = np.round(values.astype(np.float64) / np.float64(s))
        if np.abs(q).max() < (1 << 24) and np.array_equal((q.astype(np.float32) * np.float32(s)).astype(np.float32), values):
            return IntType.for_range(int(q.min()), int(q.max())), float(s), q
    few = ", ".join(f"{v:g}" for v in np.unique(values)[:6])
    raise FrontendError(f"{where}: the {annotated.name} input's values become [{few}, ...], not q * s for integers q "
                        "and one scale s")


def _scale_candidates(values: np.ndarray, nz: np.ndarray):
    """1 when every value is an integer, then min|v| / m for m = 1..MAX_DIVISOR (and one ulp either side)."""
    if np.all(values == np.round(values)):
        yield np.float32(1.0)
    lo = np.float32(nz.min())
    for m in range(1, MAX_DIVISOR + 1):
        s = np.float32(lo / np.float32(m))
        if not s > 0:
            return
        yield s
        yield np.nextafter(s, np.float32(np.inf))
        yield np.nextafter(s, np.float32(0))
