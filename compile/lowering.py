"""The QONNX lowering walk's state and the helpers its parts share.

compile/frontend.py runs the walk; compile/input_table.py (a tabulated input prologue), compile/residual.py
(fan-out and joins) and compile/global_pool.py (average pools) lower parts of it. They all read the cursor and
builder below, the refusal type, and how a float tail and the quantizer ending it are read, so these live here,
below all four, and every import between them goes one way: frontend.py -> those three -> this module.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper

from candle_hw.compile.host_ir import Epilogue, HostOp, InputQuant, LayerOrigin, Prologue
from candle_hw.compile.ir import Edge, Node
from candle_hw.compile.multibit import MAX_ACT_BITS, Levels, quant_levels
from candle_hw.compile.tails import PASS_THROUGH, SHAPE_OPS, TAIL_OPS
from candle_hw.errors import UserError
from candle_hw.types import IntType

# activation quantizers a tail may end in (MultiThreshold: FINN-ONNX's, out = out_scale * #{T_i <= x} + out_bias)
# ONNX Sign, the activation of FINN's older exports, is the three-level quantizer {-1, 0, +1} (Sign(0) = 0)
QUANTIZERS = ("BipolarQuant", "Quant", "MultiThreshold", "Sign")


class FrontendError(UserError):
    """The model cannot be lowered; the message names the ONNX node and the value."""


@dataclass
class Cursor:
    """Where the walk stands: the current ONNX tensor and how the dataflow represents it."""

    tensor: str
    elem_type: IntType | None = None      # None while still on the host (before the input quantizer)
    scale: float = 1.0                    # real value = scale * element value (a positive float32; a tabulated
                                          # input's may have up to input_table.SCALE_BITS bits)
    nhwc: tuple[int, ...] = ()            # dataflow frame shape of this tensor (channel-last)
    flatten_from: tuple[int, int, int] | None = None  # (C, H, W) when an NCHW map was flattened to a vector
    pending_pad: tuple[int, float] | None = None      # (pad, value) from an explicit Pad before a Conv
    offset: int = 0                       # element = q - offset: a signed multi-bit map travels as counts q - qmin
    src: tuple[str, int] | None = None    # (dataflow node, output port) whose stream carries it; None: graph input


@dataclass
class Builder:
    """What the walk has built so far (dataflow nodes, edges, integer params, origins, host prologue and epilogue)
    and the model it reads."""

    model: ModelWrapper
    nodes: list[Node] = field(default_factory=list)
    params: dict[str, np.ndarray] = field(default_factory=dict)
    origins: list[LayerOrigin] = field(default_factory=list)
    prologue: Prologue | None = None
    epilogue: Epilogue = Epilogue("int")
    edges: list[Edge] = field(default_factory=list)
    tip: tuple[str, int] | None = None    # the stream the next appended node reads (None: the graph input)
    n_conv: int = 0
    n_fc: int = 0
    n_pool: int = 0

    def add(self, node: Node) -> None:
        """Append ``node`` reading the stream at ``tip``; its output becomes the new tip."""
        if self.tip is not None:
            self.edges.append(Edge(self.tip[0], node.name, self.tip[1], 0))
        self.nodes.append(node)
        self.tip = (node.name, 0)

    # -- graph helpers ---------------------------------------------------------------------------------
    def consumers(self, tensor: str) -> list[onnx.NodeProto]:
        return [n for n in self.model.graph.node if tensor in n.input]

    def only_consumer(self, tensor: str) -> onnx.NodeProto | None:
        cons = self.consumers(tensor)
        if len(cons) > 1:
            raise FrontendError(
                f"tensor {tensor}: feeds {len(cons)} nodes ({', '.join(n.name for n in cons)}); only a quantized "
                "tensor may branch (put the fan-out after a Quant/BipolarQuant)"
            )
        return cons[0] if cons else None

    def const(self, node: onnx.NodeProto, idx: int, what: str) -> np.ndarray:
        if idx >= len(node.input) or not node.input[idx]:
            raise FrontendError(f"{node.name}: missing {what} input")
        v = self.model.get_initializer(node.input[idx])
        if v is None:
            raise FrontendError(f"{node.name} ({node.op_type}): {what} {node.input[idx]} is not a constant")
        return np.asarray(v)

    def attr(self, node: onnx.NodeProto, name: str, default: Any = None) -> Any:
        for a in node.attribute:
            if a.name == name:
                return helper.get_attribute_value(a)
        return default

    def is_output(self, tensor: str) -> bool:
        return any(o.name == tensor for o in self.model.graph.output)


def enter_dataflow(b: Builder, qnode: onnx.NodeProto, tensor: str, shape: list[int], ops: list[HostOp],
                   quant: InputQuant) -> Cursor:
    if shape[0] != 1:
        raise FrontendError(f"{qnode.name}: batch size {shape[0]} in the model; export with batch 1")
    etype, scale = quant.elem_type, quant.scale
    if len(shape) == 4:
        _, c, h, w = shape
        b.prologue = Prologue(tuple(ops), quant, "nchw")
        return Cursor(tensor, etype, scale, (h, w, c))
    if len(shape) == 2:
        b.prologue = Prologue(tuple(ops), quant, "nc")
        return Cursor(tensor, etype, scale, (shape[1],))
    raise FrontendError(f"{qnode.name}: quantized input of shape {shape} (expected NCHW or NC)")


def positive_scale(b: Builder, node: onnx.NodeProto, scale: np.ndarray) -> float:
    """One positive, finite activation scale (a float32 value; carried into the next layer's thresholds)."""
    s = np.unique(np.asarray(scale, dtype=np.float32))
    if s.size != 1 or not (s[0] > 0 and np.isfinite(s[0])):
        raise FrontendError(
            f"{node.name} ({node.op_type}): scale {s.tolist()[:6]} is not supported (one positive value per tensor)"
        )
    return float(s[0])


def activation_inputs(b, node: onnx.NodeProto) -> list[str]:
    """The inputs of ``node`` that are computed tensors (not initializers): the activations it reads."""
    return [t for t in node.input if t and b.model.get_initializer(t) is None]


def unquantized_join(b, node: onnx.NodeProto, producer: onnx.NodeProto) -> str:
    """The one-line refusal of a join that meets a float tensor (e.g. Bi-Real's float shortcut into a conv's BN)."""
    others = [t for t in activation_inputs(b, node) if t not in producer.output]
    return (f"{node.name} ({node.op_type}): joins the unquantized output of {producer.name} with {', '.join(others)}; "
            "a residual Add needs both operands quantized (a Quant/BipolarQuant on each branch before the Add)")


def collect_tail(b: Builder, node: onnx.NodeProto) -> tuple[list[onnx.NodeProto], str, onnx.NodeProto | None]:
    tail: list[onnx.NodeProto] = []
    t = node.output[0]
    while True:
        nxt = b.only_consumer(t)
        if nxt is None or nxt.op_type not in TAIL_OPS + PASS_THROUGH + SHAPE_OPS:
            return tail, t, nxt
        if len(activation_inputs(b, nxt)) > 1:
            raise FrontendError(unquantized_join(b, nxt, tail[-1] if tail else node))
        tail.append(nxt)
        t = nxt.output[0]


def end_scale(b: Builder, end: onnx.NodeProto) -> float:
    """The real value of one step of the quantizer ``end`` (of +1 for a bipolar one)."""
    if end.op_type == "Sign":
        return 1.0
    if end.op_type == "MultiThreshold":
        out_scale, out_bias, n = _multithreshold(b, end)
        return out_scale / 2 if _bipolar_multithreshold(out_scale, out_bias, n) else out_scale
    return positive_scale(b, end, b.const(end, 1, "scale"))


def _multithreshold(b: Builder, end: onnx.NodeProto) -> tuple[float, float, int]:
    """(out_scale, out_bias, thresholds per channel) of a MultiThreshold."""
    out_scale = float(np.float32(b.attr(end, "out_scale", 1.0)))
    out_bias = float(np.float32(b.attr(end, "out_bias", 0.0)))
    thr = b.const(end, 1, "thresholds")
    if thr.ndim != 2 or not out_scale > 0 or not np.isfinite(out_bias):
        raise FrontendError(f"{end.name} (MultiThreshold): thresholds of shape {list(thr.shape)}, out_scale "
                            f"{out_scale}, out_bias {out_bias}: expected (channels, n) thresholds and a positive scale")
    return out_scale, out_bias, int(thr.shape[1])


def _bipolar_multithreshold(out_scale: float, out_bias: float, n: int) -> bool:
    """One threshold mapping to {-s, +s} (FINN's BIPOLAR MultiThreshold: out_scale 2, out_bias -1)."""
    return n == 1 and out_bias == -out_scale / 2


def end_levels(b: Builder, end: onnx.NodeProto) -> Levels | None:
    """None for a bipolar quantizer (BipolarQuant, 1-bit signed Quant, one-threshold ±s MultiThreshold), else
    the multi-bit quantizer's levels (a MultiThreshold's: qmin = out_bias / out_scale, n levels above it; Sign's:
    -1, 0, +1)."""
    if end.op_type == "Sign":
        return Levels(-1, 1)
    if end.op_type == "MultiThreshold":
        out_scale, out_bias, n = _multithreshold(b, end)
        if _bipolar_multithreshold(out_scale, out_bias, n):
            return None
        qmin = out_bias / out_scale
        if not float(qmin).is_integer() or not 1 <= n < (1 << MAX_ACT_BITS):
            raise FrontendError(f"{end.name} (MultiThreshold): {n} thresholds with out_bias {out_bias} and out_scale "
                                f"{out_scale}: supported are 1..{(1 << MAX_ACT_BITS) - 1} thresholds with out_bias an "
                                "integer multiple of out_scale (or one threshold to ±out_scale/2)")
        return Levels(int(qmin), int(qmin) + n)
    if end.op_type != "Quant":
        return None
    zp = b.const(end, 2, "zero point")
    if np.any(zp != 0):
        raise FrontendError(f"{end.name} (Quant): zero point {zp.reshape(-1)[:6].tolist()} is not supported (must be 0)")
    bits = b.const(end, 3, "bit width").reshape(-1)
    if bits.size != 1 or not float(bits[0]).is_integer():
        raise FrontendError(f"{end.name} (Quant): bit width {bits[:6].tolist()} is not one integer")
    return quant_levels(end, int(bits[0]), bool(b.attr(end, "signed", 1)), bool(b.attr(end, "narrow", 0)))
