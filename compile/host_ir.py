"""What stays on the host, typed: the prologue (model input -> dataflow integers) and the epilogue (last
node's integers -> model output), plus the node -> ONNX tensor map used by layer-by-layer verification.

Frozen dataclasses that serialise to/from dataflow.json; float constants live in ``DataflowGraph.params``
under the keys named here. The float semantics of the epilogue are defined once, here (``Epilogue.replay``),
because the frontend checks them against qonnx at compile time and sim/host.py runs them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from candle_hw.errors import UserError
from candle_hw.types import IntType

# one IEEE float32 operation each, as numpy and onnxruntime compute elementwise Mul/Add/Sub/Div
_FLOAT_OPS = {"mul": np.multiply, "add": np.add, "sub": np.subtract, "div": np.divide}
HOST_OPS = ("reshape", *_FLOAT_OPS)
LAYOUTS = ("nchw", "nc")


class HostIRError(UserError):
    """An invalid prologue/epilogue description (e.g. a hand-edited dataflow.json)."""


def _check_in(what: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise HostIRError(f"{what}={value!r} is not one of {list(allowed)}")


@dataclass(frozen=True, slots=True)
class HostOp:
    """One host op: ``reshape`` to ``shape`` (batch axis kept), or x <- fl32(x <op> params[const])."""

    op: str
    const: str = ""
    shape: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _check_in("host op", self.op, HOST_OPS)
        if (self.op == "reshape") == bool(self.const):
            raise HostIRError(f"host op {self.op}: const={self.const!r} (only float ops take a constant)")

    def float_op(self):
        return _FLOAT_OPS[self.op]

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "const": self.const, "shape": list(self.shape)}

    @staticmethod
    def from_json(d: dict[str, Any]) -> "HostOp":
        return HostOp(d["op"], d.get("const", ""), tuple(d.get("shape", ())))


@dataclass(frozen=True, slots=True)
class InputQuant:
    """How the float input becomes element values.

    kind "bipolar": qonnx BipolarQuant (x >= 0 -> +1); "int": qonnx Quant (zero point 0) with this scale,
    narrow range and rounding mode; "datatype": no quantizer, the input already holds values of ``elem_type``
    (the model's qonnx datatype annotation), which the host checks; "table": the input holds values of the
    annotated type ``source`` and params[``table``][i] is the element of its i-th value (compile/input_table.py:
    the float ops and quantizer between the input and the first layer, tabulated by qonnx); "sign": ONNX Sign,
    -1, 0 or +1 (0 only for a float value of exactly 0) as a signed 2-bit input.
    """

    kind: str
    elem_type: IntType
    scale: float = 1.0
    narrow: bool = False
    rounding_mode: str = "ROUND"
    source: str = ""
    table: str = ""

    def __post_init__(self) -> None:
        _check_in("input quantizer kind", self.kind, ("bipolar", "int", "datatype", "table", "sign"))
        if (self.kind == "table") != bool(self.table and self.source):
            raise HostIRError(f"input quantizer {self.kind}: source={self.source!r} table={self.table!r} (a table "
                              "names both, the other kinds neither)")
        if not (self.scale > 0 and np.isfinite(self.scale)):
            raise HostIRError(f"input quantizer: scale={self.scale!r} must be positive and finite")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "elem_type": self.elem_type.name}

    @staticmethod
    def from_json(d: dict[str, Any]) -> "InputQuant":
        return InputQuant(d["kind"], IntType.from_name(d["elem_type"]), float(d["scale"]), bool(d["narrow"]),
                          d["rounding_mode"], d.get("source", ""), d.get("table", ""))


@dataclass(frozen=True, slots=True)
class Prologue:
    """Model input -> dataflow input: ``ops`` in order (float32), then ``quant``; ``layout`` of the result."""

    ops: tuple[HostOp, ...]
    quant: InputQuant
    layout: str

    def __post_init__(self) -> None:
        _check_in("prologue layout", self.layout, LAYOUTS)

    def to_json(self) -> dict[str, Any]:
        return {"ops": [o.to_json() for o in self.ops], "quant": self.quant.to_json(), "layout": self.layout}

    @staticmethod
    def from_json(d: dict[str, Any]) -> "Prologue":
        return Prologue(tuple(HostOp.from_json(o) for o in d["ops"]), InputQuant.from_json(d["quant"]), d["layout"])


def accumulator_value(acc: np.ndarray, binary: bool, mw: int, zscale: np.ndarray,
                      offset: np.ndarray | None = None) -> np.ndarray:
    """The float32 value QONNX's MatMul/Conv yields for accumulator ``acc`` (last axis = channels).

    The dot product is d = 2*acc - mw for an XNOR unit (acc = agreements), else d = acc; its real value is
    d * zscale[c] (input scale x channel weight scale, an exact float64 product of two float32 values),
    rounded once to float32. Exact whenever d * zscale[c] is a float32 number (see docs/architecture.md).
    ``offset`` (per channel): the input elements are counts q - qmin of a signed multi-bit activation, so the
    dot product of the values q is d = acc + qmin * sum_k W[k, c] (compile/multibit.py).
    """
    d = (2 * np.asarray(acc, dtype=np.int64) - mw) if binary else np.asarray(acc, dtype=np.int64)
    if offset is not None:
        d = d + np.asarray(offset, dtype=np.int64)
    return (d.astype(np.float64) * zscale).astype(np.float32)


@dataclass(frozen=True, slots=True)
class Epilogue:
    """Last node's output -> model output.

    kind "int": (element values + ``elem_offset``) times ``scale`` (integers when scale == 1; e.g. the graph ends
    in BipolarQuant; the offset is qmin of a signed multi-bit activation, whose elements are counts q - qmin);
    "label": label indices (the graph ends in TopK); "float": the last unit's accumulator through its float
    tail, per channel c: z = accumulator_value(acc, binary, mw, params[zscale]), then each op of ``ops`` in
    the graph's order, one float32 IEEE operation each (BatchNormalization as onnxruntime computes it:
    x * s + b). Output float32, or int64 when ``integral`` (no float op and unit scales: integer logits).
    ``acc_offset`` names the per-channel accumulator offset of accumulator_value (signed multi-bit inputs).
    """

    kind: str
    scale: float = 1.0
    binary: bool = False
    mw: int = 0
    zscale: str = ""
    ops: tuple[HostOp, ...] = ()
    integral: bool = False
    elem_offset: int = 0
    acc_offset: str = ""

    def __post_init__(self) -> None:
        _check_in("epilogue kind", self.kind, ("int", "label", "float"))
        if self.kind == "float" and not self.zscale:
            raise HostIRError("float epilogue: no zscale constant")
        if any(o.op == "reshape" for o in self.ops):
            raise HostIRError("epilogue: reshape is not a per-channel op")

    def replay(self, acc: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
        """(N, channels) accumulators -> (N, channels) model values (kind "float")."""
        z = accumulator_value(acc, self.binary, self.mw, params[self.zscale],
                              params[self.acc_offset] if self.acc_offset else None)
        for op in self.ops:
            z = op.float_op()(z, params[op.const]).astype(np.float32, copy=False)
        return z

    def to_json(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in ("kind", "scale", "binary", "mw", "zscale", "integral",
                                                 "elem_offset", "acc_offset")},
                "ops": [o.to_json() for o in self.ops]}

    @staticmethod
    def from_json(d: dict[str, Any]) -> "Epilogue":
        return Epilogue(d["kind"], float(d["scale"]), bool(d["binary"]), int(d["mw"]), d["zscale"],
                        tuple(HostOp.from_json(o) for o in d["ops"]), bool(d["integral"]),
                        int(d.get("elem_offset", 0)), d.get("acc_offset", ""))


@dataclass(frozen=True, slots=True)
class LayerOrigin:
    """Node ``node`` computes ONNX tensor ``tensor`` (in ``layout``) as (element values + ``offset``) times
    ``scale``, or,
    with ``via_epilogue``, through the epilogue. Verification data: running the graph never reads it."""

    node: str
    tensor: str
    layout: str
    scale: float = 1.0
    via_epilogue: bool = False
    offset: int = 0

    def __post_init__(self) -> None:
        _check_in(f"{self.node}: layout", self.layout, LAYOUTS)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(d: dict[str, Any]) -> "LayerOrigin":
        return LayerOrigin(**d)
