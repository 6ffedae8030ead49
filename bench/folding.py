"""Folding comparison on TFC-W1A1 and CNV-W1A1 topologies: FoldForThroughput (exact DP, resource-aware) vs FINN's
SetFolding walk (re-implemented) vs FINN's hand/test foldings.

Usage: python bench/folding.py [--device xc7z020] [--clock 100] [--no-sim]
Per design: the estimated bottleneck (max_cycles), the interval the cycle-level simulator predicts after
SizeFIFOs, FPS at the clock, our LUT/BRAM_18K model (calibrated on Yosys), FINN's estimator formulas on the same
folding (re-implemented in compile/estimate.py; they reproduce FINN's MVAU totals of anchors.md E1/E3, see
tests/compile/test_estimate.py), and FPS per kLUT. CNV rows also give the fraction of the device's
BRAM-bandwidth ceiling (anchors.md section 3: 16,953 FPS for CNV-W1A1 on xc7z020 at 100 MHz). Every peer figure
is either computed here or printed with its anchors.md ID and source.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from candle_hw.compile.estimate import estimate_layer_resources, estimate_network_performance, finn_estimate_layer_resources
from candle_hw.compile.ir import MatrixVectorUnit
from candle_hw.compile.passes.fifo_sizing import SizeFIFOs
from candle_hw.compile.passes.fold import FoldForThroughput, finn_set_folding
from candle_hw.compile.passes.stitch import InsertWidthConverters
from candle_hw.sim.cycle import simulate_cycle

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fixtures.reference_graphs import cnv_graph, tfc_graph  # noqa: E402

CNV_BW_CEILING_FPS = 16953  # anchors.md section 3, xc7z020 @ 100 MHz
# Measured FINN hardware, quoted with its source (anchors.md section 1, tag V: read in the public source)
FINN_BOARD = (
    "finn-examples CNV-W1A1 on Pynq-Z1 @ 100 MHz: 3,020 FPS (anchors H1: Xilinx/finn-examples notebook "
    "1_cifar10_with_cnv_networks.ipynb @00da6d3)",
    "BNN-PYNQ CNV-W1A1 overlay, post-P&R: 26,072 LUT, 124 BRAM tiles (anchors H6: Xilinx/BNN-PYNQ "
    "bnn/src/network/cnvW1A1/README.md) -> 3,020 / 26.072 = 116 FPS/kLUT (board FPS and LUTs of two builds "
    "of the same network and folding family)",
)


def evaluate(graph, clock: float, sim: bool) -> dict:
    g = InsertWidthConverters()(graph)
    est = estimate_layer_resources(g)["total"]
    finn = finn_estimate_layer_resources(g)["total"]
    perf = estimate_network_performance(g, clock)
    ii = None
    if sim:
        ii = simulate_cycle(SizeFIFOs()(g), 6).interval_cycles
    fold = ",".join(f"{n.pe}x{n.simd}{n.weight_style[0]}" for n in g.nodes if isinstance(n, MatrixVectorUnit))
    cycles = ii or perf["max_cycles"]
    return dict(max_cycles=perf["max_cycles"], ii=ii, fps=clock * 1e6 / cycles, lut=est["LUT"], bram=est["BRAM_18K"],
                finn_lut=finn["LUT"], finn_bram=finn["BRAM_18K"], fold=fold)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="xc7z020")
    ap.add_argument("--clock", type=float, default=100.0)
    ap.add_argument("--no-sim", action="store_true", help="skip FIFO sizing + cycle simulation (estimates only)")
    args = ap.parse_args(argv)
    clk, dev = args.clock, args.device
    rows = [
        ("TFC", "FINN test folding", lambda: tfc_graph()),
        ("TFC", "finn_set_folding @1M FPS", lambda: finn_set_folding(tfc_graph(), int(clk * 1e6 / 1e6))),
        ("TFC", "FoldForThroughput @1M FPS", lambda: FoldForThroughput(1e6, dev, clk)(tfc_graph())),
        ("TFC", "FoldForThroughput max", lambda: FoldForThroughput("max", dev, clk)(tfc_graph())),
        ("CNV", "finn-examples hand folding", lambda: cnv_graph()),
        ("CNV", "finn_set_folding @3000 FPS", lambda: finn_set_folding(cnv_graph(), int(clk * 1e6 / 3000))),
        ("CNV", "FoldForThroughput @3000 FPS", lambda: FoldForThroughput(3000, dev, clk)(cnv_graph())),
        ("CNV", "FoldForThroughput max", lambda: FoldForThroughput("max", dev, clk)(cnv_graph())),
    ]
    print(f"device {dev} @ {clk:g} MHz; LUT/BRAM = candle-hw model (Yosys-calibrated), FINN = FINN's formulas, "
          "width converters included (FINN's own estimate report omits them: its build inserts them after it)")
    print(f"{'net':4s} {'design':30s} {'max_cyc':>8s} {'II sim':>8s} {'FPS':>10s} {'LUT':>7s} {'BRAM':>5s} "
          f"{'FINN LUT':>9s} {'FINN BRAM':>9s} {'FPS/kLUT':>9s} {'BW ceil':>7s}  folding (PExSIMD, style) [s]")
    for net, name, make in rows:
        t0 = time.perf_counter()
        graph = make()
        fold_s = time.perf_counter() - t0
        r = evaluate(graph, clk, not args.no_sim)
        ceil = f"{r['fps'] / CNV_BW_CEILING_FPS:7.1%}" if net == "CNV" else ""
        print(f"{net:4s} {name:30s} {r['max_cycles']:8d} {r['ii'] or '-':>8} {r['fps']:10,.0f} {r['lut']:7d} {r['bram']:5d} "
              f"{r['finn_lut']:9d} {r['finn_bram']:9d} {r['fps'] / r['lut'] * 1000:9.1f} {ceil:>7s}  {r['fold']} "
              f"[{fold_s:.2f}]", flush=True)
    print("FINN hardware measured on boards (cited, not run here):")
    for line in FINN_BOARD:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
