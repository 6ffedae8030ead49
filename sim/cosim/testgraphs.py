"""Hand-built dataflow graphs for RTL tests and benchmarks (random ±1 weights, sorted thresholds), independent of
the frontend: a TFC-like MLP and a small CNV-like chain with every block kind."""
from __future__ import annotations

import numpy as np

from candle_hw.compile.ir import (DataflowGraph, LabelSelect, MatrixVectorUnit, MaxPool, SlidingWindow,
                                  Thresholding)
from candle_hw.types import BIPOLAR, IntType, sint, uint


def _weights(rng: np.random.Generator, mw: int, mh: int) -> np.ndarray:
    return (2 * rng.integers(0, 2, size=(mw, mh)) - 1).astype(np.int8)


def _thresholds(rng: np.random.Generator, mh: int, lo: int, hi: int, n: int = 1) -> np.ndarray:
    return np.sort(rng.integers(lo, hi + 1, size=(mh, n)), axis=1).astype(np.int64)


def mlp_graph(seed: int = 0, dims=(64, 32, 16, 10), fold=((4, 8), (8, 4), (10, 8)), k: int = 1) -> DataflowGraph:
    """Bipolar MLP: XNOR layers with one threshold each, a last layer without (popcount out), label select."""
    rng = np.random.default_rng(seed)
    nodes, params = [], {}
    for i, (mw, mh) in enumerate(zip(dims[:-1], dims[1:])):
        pe, simd = fold[i]
        last = i == len(dims) - 2
        acc = IntType.for_range(0, mw)
        nodes.append(MatrixVectorUnit(f"fc{i}", mw, mh, pe, simd, BIPOLAR, acc, acc if last else BIPOLAR, True,
                                      n_thresholds=0 if last else 1))
        params[f"fc{i}.weights"] = _weights(rng, mw, mh)
        if not last:
            # around mw/2 so that both outputs occur; a few beyond the range [0, mw + 1] exercise clipping
            params[f"fc{i}.thresholds"] = _thresholds(rng, mh, mw // 2 - 4, mw // 2 + 4)
            params[f"fc{i}.thresholds"][:2, 0] = [-5, mw + 9]
    nodes.append(LabelSelect("top", dims[-1], k, fold[-1][0], nodes[-1].out_type, uint(4)))
    return DataflowGraph(tuple(nodes), params)


def cnv_graph(seed: int = 0) -> DataflowGraph:
    """8x8x3 UINT8 image -> SWG(3x3) -> integer MVU (2 thresholds: UINT2) -> thresholding to bipolar ->
    SWG(3x3, pad 1 with -1) -> XNOR MVU -> max-pool 2x2 -> XNOR MVU (acc out) -> label select (k=2)."""
    rng = np.random.default_rng(seed)
    u8, acc0 = uint(8), sint(14)
    n0 = SlidingWindow("swg0", (8, 8), 3, 3, 1, 0, 0, u8, simd=3)
    m0 = MatrixVectorUnit("conv0", 27, 8, 4, 9, u8, acc0, uint(2), False, num_vectors=(1, 6, 6), n_thresholds=2)
    t0 = Thresholding("thr0", 8, 2, uint(2), BIPOLAR, 1, num_vectors=(1, 6, 6))
    n1 = SlidingWindow("swg1", (6, 6), 8, 3, 1, 1, -1, BIPOLAR, simd=4)
    acc1 = IntType.for_range(0, 72)
    m1 = MatrixVectorUnit("conv1", 72, 16, 8, 12, BIPOLAR, acc1, BIPOLAR, True, num_vectors=(1, 6, 6))
    p1 = MaxPool("pool1", (6, 6), 16, 2, 2, BIPOLAR, pe=8)
    acc2 = IntType.for_range(0, 144)
    m2 = MatrixVectorUnit("fc2", 144, 10, 5, 16, BIPOLAR, acc2, acc2, True, n_thresholds=0)
    ls = LabelSelect("top", 10, 2, 5, acc2, uint(4))
    params = {
        "conv0.weights": _weights(rng, 27, 8), "conv0.thresholds": _thresholds(rng, 8, -800, 800, 2),
        "thr0.thresholds": _thresholds(rng, 8, 0, 3),
        "conv1.weights": _weights(rng, 72, 16), "conv1.thresholds": _thresholds(rng, 16, 30, 42),
        "fc2.weights": _weights(rng, 144, 10),
    }
    return DataflowGraph((n0, m0, t0, n1, m1, p1, m2, ls), params)


def random_frames(graph: DataflowGraph, n: int, seed: int = 0) -> np.ndarray:
    s = graph.input_stream
    rng = np.random.default_rng(seed)
    if s.elem_type.bipolar:
        return 2 * rng.integers(0, 2, size=(n, *s.shape)) - 1
    return rng.integers(s.elem_type.min, s.elem_type.max + 1, size=(n, *s.shape))
