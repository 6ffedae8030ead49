"""Bit-exactness checks of a DataflowGraph against QONNX execution, layer by layer.

Every node with an ONNX counterpart (recorded by the frontend in ``graph.origins``) is compared as
integers with the tensor qonnx's ``execute_onnx`` computes; the first differing node is named.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from candle_hw.compile.ir import DataflowGraph, LabelSelect
from candle_hw.types import IntType
from candle_hw.sim.functional import run_dataflow
from candle_hw.sim.host import run_epilogue, run_prologue


@dataclass(frozen=True)
class Mismatch:
    node: str
    sample: int
    index: tuple[int, ...]
    expected: float
    got: float

    def __str__(self) -> str:
        return (f"{self.node}: sample {self.sample} element {list(self.index)} differs from QONNX execution: "
                f"expected {self.expected}, got {self.got}")


def oracle_model(model):
    """The cleaned QONNX model that ``execute_onnx`` can run (the reference)."""
    from candle_hw.compile.frontend import load_model

    # the frontend's cleaning (shape inference, constant folding of weight quantizers) keeps every value and
    # every tensor name, so layers can be matched by name
    return load_model(model)


def qonnx_forward(oracle, x: np.ndarray, full: bool = False):
    """execute_onnx on each sample of x (batch 1, as the model was exported)."""
    from qonnx.core.onnx_exec import execute_onnx

    iname, oname = oracle.graph.input[0].name, oracle.graph.output[0].name
    outs = []
    for i in range(x.shape[0]):
        ctx = execute_onnx(oracle, {iname: x[i : i + 1]}, return_full_exec_context=full)
        outs.append(ctx if full else ctx[oname])
    return outs if full else np.concatenate(outs, axis=0)


def qonnx_forward_batched(model: str | Path, x: np.ndarray) -> np.ndarray:
    """execute_onnx on the whole batch at once (the model's batch dimension rewritten to len(x)).

    Works for models whose reshapes follow the batch size (e.g. Brevitas exports with Shape/Gather); this is
    how a batched QONNX run is measured.
    """
    import warnings

    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes

    m = ModelWrapper(str(model)).transform(ChangeBatchSize(len(x))).transform(InferShapes())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # qonnx warns that annotated shapes of batch 1 disagree
        return execute_onnx(m, {m.graph.input[0].name: x})[m.graph.output[0].name]


def random_inputs(graph: DataflowGraph, n: int, seed: int = 0) -> np.ndarray:
    """Inputs that exercise the whole quantizer range: half uniform in [0, 1], half spanning the quantizer."""
    rng = np.random.default_rng(seed)
    shape = (n, *graph.model_input_shape[1:])
    q = graph.prologue.quant
    t = q.elem_type
    if q.kind in ("datatype", "table"):  # the input holds the (annotated) type's values themselves
        t = IntType.from_name(q.source) if q.kind == "table" else t
        vals = rng.choice(np.array([-1.0, 1.0]), size=shape) if t.bipolar else rng.integers(t.min, t.max + 1, size=shape)
        return vals.astype(np.float32)
    lo, hi = (-1.0, 1.0) if t.bipolar else (t.min, t.max)
    x = rng.uniform(lo * q.scale, hi * q.scale, size=shape)
    if graph.prologue.ops:
        half = n // 2
        x[:half] = rng.uniform(0.0, 1.0, size=(half, *shape[1:]))
    elif not t.bipolar:
        x = np.round(x / q.scale) * q.scale  # on the quantizer's grid (ties of its rounding included)
    return x.astype(np.float32)


def _to_onnx_layout(y: np.ndarray, layout: str) -> np.ndarray:
    if layout == "nchw" and y.ndim == 4:
        return y.transpose(0, 3, 1, 2)
    return y.reshape(y.shape[0], -1)


def compare_layers(graph: DataflowGraph, oracle, x: np.ndarray) -> list[Mismatch]:
    """All mismatches (first one first, in layer order) of every mapped layer against execute_onnx."""
    ctxs = qonnx_forward(oracle, x, full=True)
    ours = run_dataflow(graph, run_prologue(graph, x), return_all=True)
    origins = {o.node: o for o in graph.origins}
    found: list[Mismatch] = []
    for node, y in zip(graph.nodes, ours):
        org = origins.get(node.name)
        if org is None:
            continue
        ref = np.concatenate([c[org.tensor] for c in ctxs], axis=0)
        if org.via_epilogue:
            got = run_epilogue(graph, y).astype(np.float64).reshape(ref.shape)
        elif isinstance(node, LabelSelect):
            got = y.reshape(ref.shape)
        else:
            # qonnx's Quant multiplies the integer by its scale in float32
            got = ((_to_onnx_layout(y, org.layout) + org.offset).astype(np.float32)
                   * np.float32(org.scale)).astype(np.float64)
            got = got.reshape(ref.shape)
        bad = np.argwhere(got != ref)
        if bad.size:
            idx = tuple(int(i) for i in bad[0])
            found.append(Mismatch(node.name, idx[0], idx[1:], float(ref[idx]), float(got[idx])))
    return found

