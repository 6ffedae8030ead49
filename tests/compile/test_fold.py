"""Folding: FoldForThroughput is exact (brute force agrees), meets its target, refuses with numbers, finds the
fastest fitting design for "max"; finn_set_folding reproduces FINN's CNV-W1A1 folding."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from candle_hw.compile.estimate import _ternary, estimate_layer_resources, estimate_network_performance, node_cycles
from candle_hw.compile.ir import DataflowGraph, LabelSelect, MatrixVectorUnit
from candle_hw.compile.passes.fold import STYLES, FoldForThroughput, divisors, finn_set_folding
from candle_hw.compile.passes.stitch import InsertWidthConverters
from candle_hw.errors import UserError
from fixtures.reference_graphs import CNV_FOLDING, cnv_graph, tfc_graph
from candle_hw.types import BIPOLAR, IntType, sint, uint


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


def _ternary_mlp() -> DataflowGraph:
    """fc0 (INT2 weights in {-1, 0, 1}, three thresholds: mvu.sv's ternary datapath where its SIMD allows it, its
    threshold ROM in block RAM beyond 64 folds) -> fc1 (no thresholds) -> label select."""
    rng = np.random.default_rng(1)
    fc0 = MatrixVectorUnit("fc0", 16, 128, 1, 1, uint(2), sint(7), uint(2), False, (1,), 3, weight_type=sint(2))
    fc1 = MatrixVectorUnit("fc1", 128, 10, 1, 1, uint(2), sint(11), sint(11), False, (1,), 0, weight_type=sint(2))
    top = LabelSelect("top", 10, 1, 1, sint(11), uint(4))
    params = {"fc0.weights": rng.integers(-1, 2, size=(16, 128)).astype(np.int8),
              "fc0.thresholds": np.sort(rng.integers(-12, 13, size=(128, 3)), axis=1).astype(np.int64),
              "fc1.weights": rng.integers(-2, 2, size=(128, 10)).astype(np.int8)}
    return DataflowGraph((fc0, fc1, top), params)


@pytest.mark.parametrize("device", ["xc7z020", "ecp5-85k"])
@pytest.mark.parametrize("cycles", [128, 512, 2048, 1 << 20])
def test_search_totals_are_the_estimate(cycles: int, device: str) -> None:
    """The search's LUT and BRAM_18K for its choice are estimate_layer_resources' totals of that design with its
    width converters, ternary datapath and block-RAM threshold ROM included (a design it counted as fitting
    must fit as the report counts it), on a LUT4 device too: its LUTs converted node by node (device_lut)."""
    from candle_hw.compile.mvu_map import threshold_style
    from candle_hw.compile.passes.fold import _groups, _rebuild, solve
    from candle_hw.devices import get_device

    g = _ternary_mlp()
    groups, _ = _groups(g)
    lut, chosen = solve(groups, cycles, 280, family=get_device(device).family)
    folded = InsertWidthConverters()(_rebuild(g, groups, chosen))
    est = estimate_layer_resources(folded, device)
    assert (est["total"]["LUT"], est["total"]["BRAM_18K"]) == (lut, sum(c.bram for c in chosen))
    if cycles == 1 << 20:  # the slowest design: fc0 at PE 1 runs ternary, 128 folds of thresholds in a RAMB18
        fc0 = folded.node("fc0")
        assert fc0.pe == 1 and _ternary(folded, fc0) and threshold_style(fc0, True) == "block"


def _z020(bram18k: int = 280, luts: int = 53200):
    """xc7z020 with fewer resources, named by its block RAM (a synthetic device for tight budgets)."""
    from dataclasses import replace

    from candle_hw.devices import get_device

    return replace(get_device("xc7z020"), name=f"xc7z020-{bram18k}bram", bram18k=bram18k, luts=luts)


def test_max_is_the_fastest_among_every_foldings_cycles() -> None:
    """CNV-W1A1 on an xc7z020 cut to 10,000 LUTs: no design faster than "max"'s fits, and a faster target's
    refusal names max's cycles. A unit's faster choice that a slower one dominates at no cycle bound still sets
    a bound the search must try (counting only the unbounded candidates' cycles it stopped at 28,224 cycles
    where 25,600 fit)."""
    dev = _z020(luts=10000)
    _, _, cyc = _cost(FoldForThroughput("max", dev, 100.0)(cnv_graph()))
    with pytest.raises(UserError, match=rf"the fastest design that fits xc7z020-280bram .* takes {cyc} cycles"):
        FoldForThroughput(1e8 / (cyc - 1), dev, 100.0)(cnv_graph())


def test_fps_folding_fits_with_the_fifos_sizing_keeps() -> None:
    """fc1 reads its whole input in its first fold, so at 4,096 cycles a frame the FIFO before it keeps ~140 words:
    a RAMB18 that the folding cannot see (its depth comes from simulating the folded design). On a device of 2
    BRAM_18K the first folding (2 for the weights) is 3 with that FIFO; the compile must fold again keeping it
    free, and refuse where nothing fits."""
    from candle_hw.compile.estimate import estimate_capacity
    from candle_hw.compile.ir import StreamFIFO
    from candle_hw.compile.passes.fifo_sizing import SizeFIFOs
    from candle_hw.compile.passes.stitch import Stitch
    from candle_hw.compile.pipeline import CompileOptions, run_passes

    g, fps, dev = _mlp((64, 256, 10)), 1e8 / 4096, _z020(2)
    first = SizeFIFOs()(Stitch()(FoldForThroughput(fps, dev, 100.0)(g)))
    per = estimate_layer_resources(first, dev)
    assert per["total"]["BRAM_18K"] == 3 > estimate_capacity(dev)["BRAM_18K"]
    assert [per[n.name]["BRAM_18K"] for n in first.nodes if isinstance(n, StreamFIFO)] == [1]

    log: list[str] = []
    built = run_passes(g, CompileOptions(target=dev, fps=fps, clock_mhz=100.0), log.append)
    tot = estimate_layer_resources(built, dev)["total"]
    assert tot["BRAM_18K"] <= 2 and tot["LUT"] <= dev.luts
    assert max(node_cycles(n) for n in built.nodes) <= 4096
    assert sum(line.startswith("fit: the design does not fit xc7z020-2bram: 3 BRAM_18K") for line in log) == 1

    # 1 BRAM_18K and 760 LUT: the first folding's weights take the RAMB18 and its FIFO one more; folded again with
    # it kept free, only all-LUT foldings are left and none fits 90 % of 760 LUT (the all-LUT folding that fits a
    # device of no block RAM and all its LUTs, fc0 PE 2 SIMD 32 with a 64-word FIFO, takes 704)
    log = []
    with pytest.raises(UserError, match=r"^FoldForThroughput: even the most folded design needs [\d,]+ LUT, over the "
                                        r"684 LUT that fit xc7z020-1bram less \d+ LUT, 1 BRAM_18K kept for the FIFOs "
                                        r"\(with 0 BRAM_18K\); the largest units \(LUT, with their windows and pools\): "
                                        r"fc0 [\d,]+, fc1 [\d,]+$"):
        run_passes(g, CompileOptions(target=_z020(1, 760), fps=fps, clock_mhz=100.0), log.append)
    assert sum(line.startswith("fit: the design does not fit xc7z020-1bram: 2 BRAM_18K") for line in log) == 1
