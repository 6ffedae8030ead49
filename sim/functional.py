"""Functional simulator: the dataflow graph on a batch of frames, vectorised, exact integers.

Nodes run in the graph's stored (topological) order, each on its producers' outputs along the edges; an output
is dropped once its last consumer has run. Each node runs its sim/golden.py function over the whole batch at once,
or the equal fast form of sim/fastops.py (integer matrix-vector units, max-pools); XNOR-popcount and integer
layers use exact float32 BLAS products (every partial sum is an integer below 2**24), which is as fast as this
machine multiplies. A multi-bit layer's threshold count is kept in uint8 between nodes (count_dtype);
run_dataflow returns every output in int64 as before.
"""
from __future__ import annotations

import numpy as np

from candle_hw.compile.ir import (
    AccPool, AddStreams, DataflowGraph, DuplicateStreams, GlobalAccPool, LabelSelect, MatrixVectorUnit, MaxPool, Node, SlidingWindow, StreamFIFO, Thresholding,
    WidthConverter,
)
from candle_hw.sim import fastops, golden
from candle_hw.sim.host import run_epilogue, run_prologue


def run_node(graph: DataflowGraph, node: Node, x: np.ndarray, *more: np.ndarray) -> np.ndarray:
    """One node on a batch: x (and ``more``, the further input ports of an AddStreams) is
    (N, *node.in_stream(port).shape) element values; returns (N, *out shape), the same on every output port."""
    n = x.shape[0]
    if isinstance(node, AddStreams):
        b = more[0] if len(more) == 1 else None
        if b is None:
            raise TypeError(f"{node.name}: AddStreams takes two inputs, got {1 + len(more)}")
        a_vals = golden.element_values(x.reshape(n, -1), node.in_types[0])
        y = golden.add_streams(a_vals, golden.element_values(b.reshape(n, -1), node.in_types[1]))
    elif isinstance(node, MatrixVectorUnit):
        w = graph.params[f"{node.name}.weights"]
        t = graph.params.get(f"{node.name}.thresholds") if node.n_thresholds else None
        padded = None
        if node.border:
            taps = golden.padded_taps(*node.border_window, node.simd_base)
            padded = np.broadcast_to(taps, (n, *taps.shape)).reshape(-1, node.mw)
        if node.binary_xnor:
            y = golden.mvu(x.reshape(-1, node.mw), w, t, True, padded)
        else:
            y = fastops.integer_mvu(x.reshape(-1, node.mw), w, t, node.in_type)
    elif isinstance(node, SlidingWindow):
        # the window copy is the large tensor: make it in the float32 operand type of the next product once
        xf = x.astype(np.float32, copy=False) if node.elem_type.bits <= 16 else x
        y = golden.sliding_window(xf.reshape(n, *node.ifm_dim, node.channels), node.kernel, node.stride, node.pad, node.pad_value)
    elif isinstance(node, MaxPool):
        y = fastops.maxpool(x.reshape(n, *node.ifm_dim, node.channels), node.kernel, node.stride)
    elif isinstance(node, AccPool):
        y = golden.acc_pool(x.reshape(n, *node.ifm_dim, node.channels), node.kernel, node.stride, node.in_type.bipolar)
    elif isinstance(node, GlobalAccPool):
        y = golden.global_acc_pool(x.reshape(n, *node.ifm_dim, node.channels), node.in_type.bipolar)
    elif isinstance(node, LabelSelect):
        y = golden.label_select(x.reshape(n, node.labels), node.k)
    elif isinstance(node, Thresholding):
        out = golden.multithreshold(x.reshape(-1, node.channels), graph.params[f"{node.name}.thresholds"])
        y = golden.to_bipolar(out) if node.n_thresholds == 1 else out
    elif isinstance(node, (StreamFIFO, WidthConverter, DuplicateStreams)):
        y = x
    else:  # pragma: no cover - every IR kind is handled above
        raise TypeError(f"{node.name}: no functional model for {type(node).__name__}")
    return y.reshape(n, *node.out_stream().shape)


# Working memory of one batch: the widest stream of a frame (a CNV sliding window's im2col output) in float32,
# times the one or two temporaries the golden ops make. Bigger batches run in chunks, so that the whole CIFAR-10
# test set through a wide CNV needs about this much memory rather than tens of GiB.
MAX_BATCH_BYTES = 1 << 30


def batch_chunk(graph: DataflowGraph) -> int:
    """Frames per chunk that keep one chunk's working memory under MAX_BATCH_BYTES."""
    widest = max(max(node.in_stream().num_elems, node.out_stream().num_elems) for node in graph.nodes)
    return max(1, MAX_BATCH_BYTES // (widest * 4 * 3))


def run_dataflow(graph: DataflowGraph, frames: np.ndarray, return_all: bool = False):
    """Dataflow input frames (N, *input_stream.shape) -> the sink's output, or every node's output (a list in
    stored node order). The sink's output alone is computed chunk by chunk (see MAX_BATCH_BYTES); every row is
    independent."""
    x = np.asarray(frames)
    step = batch_chunk(graph)
    if not return_all and len(x) > step:
        return np.concatenate([run_dataflow(graph, x[i:i + step]) for i in range(0, len(x), step)])
    order = {node.name: i for i, node in enumerate(graph.nodes)}
    last_use = _last_uses(graph, order)
    live: dict[str, np.ndarray] = {}
    outs = []
    for i, node in enumerate(graph.nodes):
        ins = [live[e.src] for e in graph.in_edges(node.name)] or [x]
        y = run_node(graph, node, *ins)
        for e in graph.in_edges(node.name):
            if last_use[e.src] == i:
                live.pop(e.src, None)
        live[node.name] = y
        if return_all:
            outs.append(_widened(y))
    return outs if return_all else _widened(live[graph.sink.name])


def _widened(y: np.ndarray) -> np.ndarray:
    """A node's output as callers get it: a threshold count kept in an unsigned narrow dtype between nodes
    (fastops.count_dtype) becomes int64, so that their arithmetic (an offset added, a scale) cannot wrap."""
    return y.astype(np.int64) if y.dtype.kind == "u" else y


def _last_uses(graph: DataflowGraph, order: dict[str, int]) -> dict[str, int]:
    """Node name -> index of the last node (in stored order) that reads its output."""
    last: dict[str, int] = {}
    for e in graph.edges:
        last[e.src] = max(last.get(e.src, -1), order[e.dst])
    return last


def run_model(graph: DataflowGraph, x: np.ndarray) -> np.ndarray:
    """Model input tensor (N, ...) -> model output tensor, as QONNX execution computes it."""
    return run_epilogue(graph, run_dataflow(graph, run_prologue(graph, x)))
