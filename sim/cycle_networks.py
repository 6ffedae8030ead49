"""FINN's BNN-PYNQ reference topologies (TFC, CNV) as dataflow graphs with random ±1 parameters.

Timing, folding and resource studies need the *shape* of these networks (and any folding of them), not their
trained weights, and CNV-W1A1 has no QONNX file in the shared data. Weights are random ±1, thresholds random
sorted integers inside the accumulator range, so the graphs run bit-exactly through every simulator.
Width converters are inserted wherever a producer's word differs from its consumer's.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from candle_hw.compile.ir import (
    DataflowGraph, LabelSelect, MatrixVectorUnit, MaxPool, Node, SlidingWindow, WidthConverter,
)
from candle_hw.types import BIPOLAR, IntType, clog2, uint

TFC_FOLDING = ((16, 49), (8, 8), (8, 8), (10, 8))
CNV_FOLDING = ((16, 3), (32, 32), (16, 32), (16, 32), (4, 32), (1, 32), (1, 4), (1, 8), (5, 1))
# (kind, channels_out, pool_after) of CNV-W1A1: six 3x3 convolutions (no padding), then three FC layers
CNV_LAYERS = (("conv", 64, False), ("conv", 64, True), ("conv", 128, False), ("conv", 128, True),
              ("conv", 256, False), ("conv", 256, False), ("fc", 512, False), ("fc", 512, False), ("fc", 10, False))


def _mvu(name: str, mw: int, mh: int, pe: int, simd: int, in_type: IntType, vectors: tuple[int, ...],
         last: bool, rng: np.random.Generator, params: dict[str, np.ndarray]) -> MatrixVectorUnit:
    xnor = in_type.bipolar
    if xnor:
        acc = IntType.for_range(0, mw)
        lo, hi = 0, mw
    else:
        bound = max(abs(in_type.min), abs(in_type.max)) * mw
        acc = IntType.for_range(-bound, bound)
        lo, hi = -bound // 8, bound // 8
    params[f"{name}.weights"] = rng.choice(np.array([-1, 1], dtype=np.int8), size=(mw, mh))
    if last:
        return MatrixVectorUnit(name, mw, mh, pe, simd, in_type, acc, acc, xnor, vectors, n_thresholds=0)
    mid = (lo + hi) // 2
    spread = max(1, (hi - lo) // 8)
    params[f"{name}.thresholds"] = np.sort(rng.integers(mid - spread, mid + spread + 1, size=(mh, 1)), axis=1)
    return MatrixVectorUnit(name, mw, mh, pe, simd, in_type, acc, BIPOLAR, xnor, vectors)


def with_width_converters(nodes: list[Node]) -> list[Node]:
    out: list[Node] = [nodes[0]]
    for b in nodes[1:]:
        sa, sb = out[-1].out_stream(), b.in_stream()
        if sa.elems_per_word != sb.elems_per_word:
            out.append(WidthConverter(f"dwc_{out[-1].name}", sa.elem_type, sa.shape, sa.elems_per_word,
                                      sb.elems_per_word))
        out.append(b)
    return out


def tfc_graph(folding: Sequence[tuple[int, int]] = TFC_FOLDING, seed: int = 0, label_pe: int = 1) -> DataflowGraph:
    """TFC-W1A1: 784 -> 64 -> 64 -> 64 -> 10 on bipolar inputs, then top-1 label select."""
    rng = np.random.default_rng(seed)
    params: dict[str, np.ndarray] = {}
    dims = (784, 64, 64, 64, 10)
    nodes: list[Node] = []
    for i, (pe, simd) in enumerate(folding):
        nodes.append(_mvu(f"fc{i}", dims[i], dims[i + 1], pe, simd, BIPOLAR, (1,), i == 3, rng, params))
    acc = nodes[-1].out_type
    nodes.append(LabelSelect("topk", 10, 1, label_pe, acc, uint(clog2(10))))
    return DataflowGraph(tuple(with_width_converters(nodes)), params, model_input_shape=(1, 1, 28, 28),
                         model_output_shape=(1, 1))


def cnv_graph(folding: Sequence[tuple[int, int]] = CNV_FOLDING, seed: int = 0, input_bits: int = 8,
              label_pe: int = 1) -> DataflowGraph:
    """CNV-W1A1: 6 unpadded 3x3 convolutions (2x2 max-pool after the 2nd and 4th) and 3 FC layers, top-1."""
    rng = np.random.default_rng(seed)
    params: dict[str, np.ndarray] = {}
    nodes: list[Node] = []
    dim, ch, elem = 32, 3, uint(input_bits)
    for i, ((kind, cout, pool), (pe, simd)) in enumerate(zip(CNV_LAYERS, folding)):
        last = i == len(CNV_LAYERS) - 1
        if kind == "conv":
            nodes.append(SlidingWindow(f"swg{i}", (dim, dim), ch, 3, 1, 0, -1, elem, simd))
            dim -= 2
            nodes.append(_mvu(f"conv{i}", 9 * ch, cout, pe, simd, elem, (dim, dim), last, rng, params))
            if pool:
                nodes.append(MaxPool(f"pool{i}", (dim, dim), cout, 2, 2, BIPOLAR, pe))
                dim //= 2
        else:
            mw = ch * dim * dim
            nodes.append(_mvu(f"fc{i}", mw, cout, pe, simd, elem, (1,), last, rng, params))
            dim = 1
        ch, elem = cout, nodes[-1].out_stream().elem_type
    nodes.append(LabelSelect("topk", 10, 1, label_pe, elem, uint(clog2(10))))
    return DataflowGraph(tuple(with_width_converters(nodes)), params, model_input_shape=(1, 3, 32, 32),
                         model_output_shape=(1, 1))
