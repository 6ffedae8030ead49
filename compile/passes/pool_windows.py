"""PoolWindows: an overlapping max-pool or windowed sum (stride < kernel) as a sliding window and a window reduction.

FINN maps such a pool to ConvolutionInputGenerator + Pool: the window generator emits every k x k window,
the pool block reduces each window's taps. Here the generator is the SlidingWindow block (hw_templates/swg)
and the reduction is the StreamingMaxPool block (hw_templates/maxpool) unchanged, reading the window stream as
an image: the sliding window emits, per output pixel p, the taps (ky, kx) row-major with the channel folds
fastest, which is exactly the scan order of a (OH*OW*k, k, C) image whose rows are (p, ky) and columns kx.
A k x k max-pool with stride k over that image takes, for pixel p, the max over rows p*k .. p*k+k-1 and all k
columns: the max over p's window, i.e. ``golden.maxpool(x, k, s)[p]``. Its row buffer holds one word per
channel fold (OW' = 1), so the reduction costs a C/PE-word LUT RAM, the block's counters and its compare.
An overlapping AveragePool's window sum (AccPool, hw_templates/acc_pool: the same scan with an adder) is lowered
the same way.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from candle_hw.compile import dag
from candle_hw.compile.dag import Edge
from candle_hw.compile.ir import WINDOW_POOLS, AccPool, DataflowGraph, MaxPool, SlidingWindow


def window_nodes(pool: MaxPool | AccPool) -> tuple[SlidingWindow, MaxPool | AccPool]:
    """The sliding window (``<pool>_win``) and the reduction (the pool's own name, so that layer-by-layer
    verification still compares it with the ONNX pool's output) that compute ``pool``, a max-pool or a windowed
    sum (AccPool: the same argument with the sum over p's window's taps in place of their max)."""
    k = pool.kernel
    etype = pool.elem_type if isinstance(pool, MaxPool) else pool.in_type
    win = SlidingWindow(f"{pool.name}_win", pool.ifm_dim, pool.channels, k, pool.stride, 0, 0, etype,
                        simd=pool.pe)
    oh, ow = pool.ofm_dim
    red = dataclasses.replace(pool, ifm_dim=(oh * ow * k, k), kernel=k, stride=k)
    return win, red


@dataclass(frozen=True)
class PoolWindows:
    """Replace every MaxPool or AccPool with stride < kernel by ``window_nodes``; every other node stays as it is.

    Reads: MaxPool and AccPool nodes. Writes: a SlidingWindow before each overlapping pool and the pool as the reduction
    (kernel = stride, so a second run changes nothing). Element values on every stream are unchanged except
    the new window stream; the pool's output equals the overlapping pool's, in the same order.
    """

    def __call__(self, graph: DataflowGraph) -> DataflowGraph:
        for pool in [n for n in graph.nodes if isinstance(n, WINDOW_POOLS) and n.stride < n.kernel]:
            win, red = window_nodes(pool)
            into = graph.in_edges(pool.name)
            if into:
                nodes, edges = dag.splice(graph.nodes, graph.edges, into[0], [win])
            else:  # the pool reads the dataflow input: the window becomes the source
                nodes, edges = [win, *graph.nodes], [Edge(win.name, red.name), *graph.edges]
            nodes = [red if n.name == pool.name else n for n in nodes]
            graph = dataclasses.replace(graph, nodes=tuple(nodes), edges=tuple(edges))
        return graph
