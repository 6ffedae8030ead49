"""Float ops on an integer-annotated model input, tabulated: exact by enumerating the input's values.

A model input annotated with a small qonnx integer datatype (BIPOLAR, UINTn, INTn; FINN sets it on its models)
may pass through scalar elementwise float ops (Mul / Add / Sub / Div by one constant, Reshape/Flatten in
between) and optionally a quantizer (Quant, BipolarQuant, MultiThreshold, Sign) before the first
MatMul/Gemm/Conv: FINN's cybersecurity MLP maps its BIPOLAR input to {0, 1} by (x + 1) / 2, FINN's TFC divides a
UINT8 image by 255 and thresholds it, its LFC maps it by 2x - 1 through Sign. Every op then applies the same function to each element, and the element takes one of
at most 2^n values, so qonnx itself executes that chain once on a tensor holding every value of the type: the
table it returns is the model's own arithmetic, with nothing re-derived in another precision. The dataflow
input is the table's values written as q * s (q integers, s one positive float32 with fl32(q * s) equal to
each value, as qonnx's Quant yields): BIPOLAR when every value is ±s, else the smallest integer type of the
q. The host checks that each input value is of the annotated type and looks its element up
(sim/host.py); the next layer sees the scale s like an input quantizer's.
"""
from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import helper

from candle_hw.compile.host_ir import HostOp, InputQuant
from candle_hw.compile.lowering import FrontendError, enter_dataflow
from candle_hw.compile.tails import PASS_THROUGH, constant_inputs
from candle_hw.types import BIPOLAR, IntType, type_values

# widest annotated input enumerated (2^16 values: the table and one qonnx run stay small)
MAX_TABLE_BITS = 16
# scales tried: the smallest magnitude divided by 1..MAX_DIVISOR
MAX_DIVISOR = 256
# significant bits of a table scale that is not a float32: its product with a float32 weight scale (24 bits)
# stays an exact float64 number, as accumulator_value's zscale requires
SCALE_BITS = 53 - 24
ELEMENTWISE = ("Mul", "Add", "Sub", "Div")
TABLE_QUANTIZERS = ("Quant", "BipolarQuant", "MultiThreshold", "Sign")


def lower_table_prologue(b, cur, shape: list[int], annotated: IntType):
    """From the annotated input ``cur.tensor`` through its float ops (and quantizer, if any) to the first
    MatMul/Gemm/Conv/Pad: one table, then the dataflow input. Refuses, naming the node, what is not a scalar
    elementwise op or a per-tensor quantizer."""
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
    return enter_dataflow(b, node, t, shape, reshapes, quant)


def _run_chain(model, chain: list[onnx.NodeProto], t_in: str, t_out: str, values: np.ndarray) -> np.ndarray:
    """qonnx's execution of ``chain`` on a (1, V) tensor holding every input value (each op is elementwise
    with scalar operands, so column i is the chain applied to value i)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

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
    """The tabulated values as (element type, scale s, elements q) with values == fl32(q * s) exactly: the
    narrowest integer type of q over the scales tried (ties: the scale tried first)."""
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
    fits = [f for f in [_fit(values, np.float32(1.0))] if f is not None] if np.all(values == np.round(values)) else []
    fits += [f for f in [_divided_scale(values, np.float32(nz.min()))] if f is not None]
    if fits:
        s, q = min(fits, key=lambda f: IntType.for_range(int(f[1].min()), int(f[1].max())).bits)
        return IntType.for_range(int(q.min()), int(q.max())), s, q
    few = ", ".join(f"{v:g}" for v in np.unique(values)[:6])
    raise FrontendError(f"{where}: the {annotated.name} input's values become [{few}, ...], not q * s for integers q "
                        "and one scale s")


def _fit(values: np.ndarray, s) -> tuple[float, np.ndarray] | None:
    """(s, q) with q the values rounded to multiples of s, if fl32(q * s) == values (q * s is exact in float64:
    q below 2^24, s a float32 or of at most SCALE_BITS bits)."""
    q = np.round(values.astype(np.float64) / np.float64(s))
    if np.abs(q).max() < (1 << 24) and np.array_equal((q * np.float64(s)).astype(np.float32), values):
        return float(s), q
    return None


def _divided_scale(values: np.ndarray, lo: np.float32) -> tuple[float, np.ndarray] | None:
    """The first m = 1..MAX_DIVISOR for which the values are fl32(q * s) with s = fl32(lo / m) (or one ulp
    either side), or else with the shortest float64 s for the q of that m (``_short_scale``: x / 255 is
    fl32(x * s) for such an s but for no float32 one, which needs q = 3x); the q only grow with m."""
    for m in range(1, MAX_DIVISOR + 1):
        s = np.float32(lo / np.float32(m))
        if not s > 0:
            return None
        for c in (s, np.nextafter(s, np.float32(np.inf)), np.nextafter(s, np.float32(0))):
            if (f := _fit(values, c)) is not None:
                return f
        short = _short_scale(values, np.round(values.astype(np.float64) / np.float64(s)))
        if short is not None:
            return _fit(values, short)
    return None


def _short_scale(values: np.ndarray, q: np.ndarray) -> float | None:
    """The float64 s > 0 of fewest significant bits (at most SCALE_BITS) with fl32(q * s) == values, or None.

    Each nonzero value v bounds s to the open interval of reals that round to v, divided by q (bounds rounded
    inwards); the intersection is taken, and its shortest number. SCALE_BITS keeps the products exact in
    float64: q * s (q below 2^24) and s times a float32 weight scale (frontend: zscale)."""
    if np.abs(q).max() >= (1 << 24) or np.any((q == 0) != (values == 0)) or np.any(q * values < 0):
        return None
    on = q != 0
    a, k = np.abs(values[on]).astype(np.float32), np.abs(q[on])
    below = (a - np.nextafter(a, np.float32(0))).astype(np.float64) / 2
    above = (np.nextafter(a, np.float32(np.inf)) - a).astype(np.float64) / 2
    a64 = a.astype(np.float64)
    lo = float(np.nextafter((a64 - below) / k, np.inf).max())
    hi = float(np.nextafter((a64 + above) / k, 0).min())
    if not 0 < lo <= hi:
        return None
    e = math.frexp(hi)[1]  # hi in [2^(e-1), 2^e)
    for bits in range(1, SCALE_BITS + 1):
        step = math.ldexp(1.0, e - bits)
        s = math.floor(hi / step) * step
        if s >= lo:
            return s if np.array_equal((q * s).astype(np.float32), values) else None
    return None
