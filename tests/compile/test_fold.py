"""Folding: FoldForThroughput is exact (brute force agrees), meets its target, refuses with numbers, finds the
fastest fitting design for "max"; finn_set_folding reproduces FINN's CNV-W1A1 folding."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from candle_hw.compile.estimate import estimate_layer_resources, estimate_network_performance, node_cycles
from candle_hw.compile.ir import DataflowGraph, LabelSelect, MatrixVectorUnit
from candle_hw.compile.passes.fold import STYLES, FoldForThroughput, divisors, finn_set_folding
from candle_hw.compile.passes.stitch import InsertWidthConverters
from candle_hw.errors import UserError
from fixtures.reference_graphs import CNV_FOLDING, cnv_graph, tfc_graph
from candle_hw.types import BIPOLAR, IntType, uint


def _mlp(dims=(32, 16, 10)) -> DataflowGraph:
    rng = np.random.default_rng(0)
    nodes, params = [], {}
    for i, (mw, mh) in enumerate(zip(dims[:-1], dims[1:])):
        acc = IntType.for_range(0, mw)
        last = i == len(dims) - 2
        nodes.append(MatrixVectorUnit(f"fc{i}", mw, mh, 1, 1, BIPOLAR, acc, acc if last else BIPOLAR, True,
                                      n_thresholds=0 if last else 1))
        params[f"fc{i}.weights"] = rng.choice(np.array([-1, 1], dtype=np.int8), size=(mw, mh))
        if not last:
            params[f"fc{i}.thresholds"] = np.full((mh, 1), mw // 2, dtype=np.int64)
    nodes.append(LabelSelect("top", dims[-1], 1, 1, nodes[-1].out_type, uint(4)))
    return DataflowGraph(tuple(nodes), params)


def _cost(graph: DataflowGraph) -> tuple[int, int, int]:
    g = InsertWidthConverters()(graph)
    tot = estimate_layer_resources(g)["total"]
    return tot["LUT"], tot["BRAM_18K"], max(node_cycles(n) for n in g.nodes)


def _brute_force(graph: DataflowGraph, max_cycles: int) -> int:
    from dataclasses import replace
    from math import gcd

    mvus = [n for n in graph.nodes if isinstance(n, MatrixVectorUnit)]
    options = [[(p, s, st) for p in divisors(m.mh) for s in divisors(m.mw) for st in STYLES] for m in mvus]
    best = None
    for combo in itertools.product(*options):
        fold = {m.name: c for m, c in zip(mvus, combo)}
        nodes = []
        for n in graph.nodes:
            if n.name in fold:
                p, s, st = fold[n.name]
                n = replace(n, pe=p, simd=s, weight_style=st)
            elif isinstance(n, LabelSelect):
                n = replace(n, pe=gcd(nodes[-1].pe, n.labels))
            nodes.append(n)
        lut, bram, cyc = _cost(graph.replace(nodes=tuple(nodes)))
        if cyc <= max_cycles and bram <= 280 and (best is None or lut < best):
            best = lut
    return best


@pytest.mark.parametrize("fps", [2e6, 6e6, 2e7])
def test_dp_equals_brute_force(fps: float) -> None:
    g = _mlp()
    folded = FoldForThroughput(fps, "xc7z020", 100.0)(g)
    lut, bram, cyc = _cost(folded)
    assert cyc <= int(1e8 / fps)
    assert lut == _brute_force(g, int(1e8 / fps))


def test_tfc_meets_target_cheaper_than_set_folding() -> None:
    ours = FoldForThroughput(1e6, "xc7z020", 100.0)(tfc_graph())
    finn = finn_set_folding(tfc_graph(), 100)
    lo, _, co = _cost(ours)
    lf, _, cf = _cost(finn)
    assert co <= 100 and cf <= 100
    assert lo < lf


def test_unreachable_target_is_refused_with_numbers() -> None:
    with pytest.raises(UserError, match=r"1000000000 FPS at 100 MHz needs <= 0 cycles|needs <= 0 cycles"):
        FoldForThroughput(1e9, "xc7z020", 100.0)(tfc_graph())
    with pytest.raises(UserError, match=r"the fastest design that fits ice40-up5k .* takes \d+ cycles = \d+ FPS"):
        FoldForThroughput(5e5, "ice40-up5k", 24.0)(tfc_graph())


def test_max_is_the_fastest_that_fits() -> None:
    g = FoldForThroughput("max", "xc7z020", 100.0)(tfc_graph())
    lut, bram, cyc = _cost(g)
    assert lut <= 0.9 * 53200 and bram <= 280
    fps = 1e8 / cyc
    with pytest.raises(UserError):
        FoldForThroughput(fps * 1.001 + 1, "xc7z020", 100.0)(tfc_graph())


def test_set_folding_reproduces_finn_examples_cnv() -> None:
    """At FINN's 3,000 FPS target (33,333 cycles) the greedy walk gives finn-examples' folding for 8 of 9 layers;
    the hand-made config raises the last layer's PE to 5 (1,024 instead of 5,120 cycles)."""
    g = finn_set_folding(cnv_graph(), 33333)
    got = [(n.pe, n.simd) for n in g.nodes if isinstance(n, MatrixVectorUnit)]
    assert got[:8] == list(CNV_FOLDING[:8]) and got[8] == (1, 1)
    assert estimate_network_performance(g)["max_cycles"] == 32768
