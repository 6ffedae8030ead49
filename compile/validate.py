"""Graph validation before lowering: a malformed model is refused in one line, never lowered into a wrong answer.

Called first by ``frontend.load_model`` on a private copy of the ONNX model. Checks, in order:

- exactly one graph output, produced by a node (not a graph input or an initializer, and not listed twice);
- every tensor a node reads is a graph input, an initializer or a node's output (a dangling input is named with
  its node, not reported as a topological-order error);
- every node's domain is standard ONNX or one of qonnx's / FINN's / Brevitas's own custom-op domains; a node in
  any other domain (``BipolarQuant`` in ``com.evil.unknown``) is refused naming the node and the domain;
- qonnx ``Quant`` bit widths are whole numbers in [1, 64] (qonnx would clip a 7.5-bit input at 2**7.5 - 1);
- ``onnx.checker.check_model(full_check=True)`` (structure, SSA, topological order, types, shape inference);
  reported as one line; the known custom domains are declared for the checker where the exporter left them out (Brevitas' own
  exports use ``onnx.brevitas`` without an opset import).

``fix_batch`` then makes a dynamic batch dimension concrete (1): the hardware processes one frame at a time.
"""
from __future__ import annotations

import onnx
from onnx import helper

from candle_hw.errors import UserError

STANDARD_DOMAINS = ("", "ai.onnx")
# qonnx's custom ops (Quant, BipolarQuant, Trunc, MultiThreshold, ...) under the names exporters use for them
CUSTOM_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas")
CUSTOM_DOMAIN_PREFIXES = ("qonnx.custom_op.", "finn.custom_op.")


class ValidationError(UserError):
    """The ONNX graph is malformed or uses something unknown; the message names the node/tensor and the value."""


def known_domain(domain: str) -> bool:
    return domain in STANDARD_DOMAINS or domain in CUSTOM_DOMAINS or domain.startswith(CUSTOM_DOMAIN_PREFIXES)


def _node_label(node: onnx.NodeProto, index: int) -> str:
    return node.name or f"node {index} ({node.op_type})"


def check_outputs(graph: onnx.GraphProto, label: str) -> None:
    names = [o.name for o in graph.output]
    for name in names:
        if names.count(name) > 1:
            raise ValidationError(f"{label}: graph output {name!r} is listed {names.count(name)} times")
    if len(names) != 1:
        raise ValidationError(f"{label}: expected exactly one graph output, found {len(names)} {names[:8]}")
    name = names[0]
    inputs = {i.name for i in graph.input}
    if name in inputs:
        raise ValidationError(f"{label}: graph output {name!r} is named like a graph input (no node computes it)")
    if name in {t.name for t in graph.initializer}:
        raise ValidationError(f"{label}: graph output {name!r} is a constant initializer (no node computes it)")
    if not any(name in n.output for n in graph.node):
        raise ValidationError(f"{label}: graph output {name!r} has no producer (no node computes it)")


def check_inputs_defined(graph: onnx.GraphProto) -> None:
    """Every tensor a node reads is a graph input, an initializer or some node's output (the checker would call
    a dangling one a topological-order error)."""
    known = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    known |= {t for n in graph.node for t in n.output}
    for i, node in enumerate(graph.node):
        for t in node.input:
            if t and t not in known:
                who = f"{node.name} ({node.op_type})" if node.name else _node_label(node, i)
                raise ValidationError(f"{who}: input {t!r} is computed by no node and is neither a graph input nor "
                                      "an initializer")


def check_domains(graph: onnx.GraphProto, label: str) -> None:
    for i, node in enumerate(graph.node):
        if not known_domain(node.domain):
            raise ValidationError(f"{_node_label(node, i)}: op {node.op_type!r} in unknown domain {node.domain!r} "
                                  f"(known custom-op domains: {', '.join(CUSTOM_DOMAINS)})")


def _constant(graph: onnx.GraphProto, name: str):
    """The value of tensor ``name`` when it is an initializer or a Constant node's output, else None."""
    from onnx import numpy_helper

    for t in graph.initializer:
        if t.name == name:
            return numpy_helper.to_array(t)
    for n in graph.node:
        if n.op_type == "Constant" and n.output and n.output[0] == name:
            attr = next((a for a in n.attribute if a.name == "value"), None)
            return numpy_helper.to_array(attr.t) if attr is not None else None
    return None


def check_quantizers(graph: onnx.GraphProto) -> None:
    """qonnx's Quant takes its bit width as a tensor; a non-integer one would make qonnx clip at 2**7.5 - 1
    where an integer datapath cannot, so only whole numbers of bits in [1, 64] are accepted."""
    import numpy as np

    for i, node in enumerate(graph.node):
        if node.op_type != "Quant" or len(node.input) < 4:
            continue
        bits = _constant(graph, node.input[3])
        if bits is None:
            continue
        flat = np.asarray(bits, dtype=np.float64).reshape(-1)
        if flat.size != 1 or not np.isfinite(flat[0]) or flat[0] != np.round(flat[0]) or not 1 <= flat[0] <= 64:
            raise ValidationError(f"{_node_label(node, i)} (Quant): bit width {flat.tolist()[:4]} is not a whole "
                                  f"number of bits in [1, 64]")


def check_onnx(model: onnx.ModelProto, label: str) -> None:
    """onnx.checker in full mode on a copy that declares the known custom domains the exporter left out."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    declared = {o.domain for o in m.opset_import}
    for domain in sorted({n.domain for n in m.graph.node} - declared - set(STANDARD_DOMAINS)):
        m.opset_import.append(helper.make_opsetid(domain, 1))
    try:
        onnx.checker.check_model(m, full_check=True)
    except Exception as exc:  # ValidationError, InferenceError, or a C++ error for protobufs that make no sense
        # the checker's message spans lines ("... of node: \nname: Mul_7 OpType: Mul\n is not ..."): one line
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise ValidationError(f"{label}: invalid ONNX graph ({text[:300]})") from None


def validate_model(model: onnx.ModelProto, label: str = "model") -> None:
    """Refuse (ValidationError) a malformed model; see the module docstring. Does not modify ``model``."""
    if not model.graph.node:
        raise ValidationError(f"{label}: the graph has no nodes")
    check_outputs(model.graph, label)
    check_domains(model.graph, label)
    check_inputs_defined(model.graph)
    check_onnx(model, label)
    check_quantizers(model.graph)


def fix_batch(model: onnx.ModelProto, input_name: str) -> None:
    """Make a dynamic batch dimension (``['N', 1, 28, 28]``, 0 or unset) concrete: 1, in place.

    The same symbol is fixed wherever it appears as a leading dimension (outputs, value_info), so shape inference
    sees one consistent batch. Other dynamic dimensions are left for the caller to refuse."""
    inp = next(i for i in model.graph.input if i.name == input_name)
    dims = inp.type.tensor_type.shape.dim
    if not dims or (dims[0].HasField("dim_value") and dims[0].dim_value >= 1):
        return
    symbol = dims[0].dim_param
    dims[0].Clear()
    dims[0].dim_value = 1
    for vi in (*model.graph.output, *model.graph.value_info):
        shape = vi.type.tensor_type.shape.dim
        if shape and symbol and shape[0].dim_param == symbol:
            shape[0].Clear()
            shape[0].dim_value = 1
