"""The window-sum block (hw_templates/acc_pool, AccPool) against the max-pool block of the same geometry
(hw_templates/maxpool, MaxPool), each alone under Yosys (compile/synth.py synthesize_block, xc7z020), with the
resource model (compile/estimate.py acc_pool_resources, maxpool_resources) beside each; prints a markdown table
and the LUT ratio sum/max per point; then, for the first point (the 2x2/2 downsampling shortcut), what the fused
block saves: the same pool as a sliding window + the block as its reduction (compile/passes/pool_windows.py's
lowering, which overlapping pools need). The measured points are recorded in tests/compile/test_estimate.py.

    python bench/acc_pool.py              # everything (about 12 syntheses)
    python bench/acc_pool.py --lowered    # only the fused-vs-lowered comparison
"""
from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from pathlib import Path

from candle_hw.compile.emit import hdl_params
from candle_hw.compile.estimate import node_resources
from candle_hw.compile.ir import AccPool, MaxPool
from candle_hw.compile.passes.pool_windows import window_nodes
from candle_hw.types import BIPOLAR, IntType, sint, uint


def acc(name, ifm, c, k, s, t, pe) -> AccPool:
    n = k * k
    lo, hi = (0, n) if t.bipolar else (n * t.min, n * t.max)
    return AccPool(name, ifm, c, k, s, t, IntType.for_range(lo, hi), pe)


# (AccPool): a Bi-Real downsampling shortcut on a ±1 map (2x2/2), the same on 2-bit counts and on a signed 4-bit
# shortcut stream, wider PE, and the reduction of an overlapping 3x3/1 pool (compile/passes/pool_windows.py)
POINTS = [
    acc("p1", (16, 16), 64, 2, 2, BIPOLAR, 8),
    acc("p2", (16, 16), 64, 2, 2, uint(2), 8),
    acc("p3", (16, 16), 64, 2, 2, sint(4), 8),
    acc("p4", (32, 32), 32, 2, 2, BIPOLAR, 32),
    window_nodes(acc("p5", (8, 8), 16, 3, 1, BIPOLAR, 4))[1],
]


def twin(n: AccPool) -> MaxPool:
    """The max-pool of the same geometry and input elements."""
    return MaxPool(n.name, n.ifm_dim, n.channels, n.kernel, n.stride, n.in_type, n.pe)


def lowered(n: AccPool, tmp: Path) -> None:
    """``n`` as one acc_pool block against its sliding window + acc_pool reduction."""
    from candle_hw.compile.synth import synthesize_block

    win, red = window_nodes(dataclasses.replace(n, name=f"{n.name}w"))
    rows = [("fused acc_pool", "acc_pool", n), ("lowered: swg", "swg", win), ("lowered: acc_pool reduction", "acc_pool", red)]
    total = {"LUT": 0, "FF": 0, "BRAM_18K": 0}
    print("\n| form | Yosys LUT | Yosys FF | BRAM_18K |")
    print("|---|---|---|---|")
    for label, block, node in rows:
        r = synthesize_block(block, hdl_params(node, None).params, "xc7z020", tmp / f"{node.name}_{block}_low")
        print(f"| {label} | {r['LUT']} | {r['FF']} | {r['BRAM_18K']} |", flush=True)
        if label.startswith("lowered"):
            total = {k: total[k] + r[k] for k in total}
    print(f"| lowered total | {total['LUT']} | {total['FF']} | {total['BRAM_18K']} |")


def main(argv: list[str]) -> int:
    from candle_hw.compile.synth import synthesize_block

    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        if "--lowered" not in argv:
            print("| geometry | block | Yosys LUT | model LUT | Yosys FF | model FF |")
            print("|---|---|---|---|---|---|")
            ratios = []
            for n in POINTS:
                geo = f"{n.ifm_dim[0]}x{n.ifm_dim[1]}x{n.channels} k{n.kernel}/s{n.stride} {n.in_type.name} PE {n.pe}"
                luts = []
                for node, block in ((n, "acc_pool"), (twin(n), "maxpool")):
                    r = synthesize_block(block, hdl_params(node, None).params, "xc7z020",
                                         Path(tmp) / f"{n.name}_{block}")
                    m = node_resources(node)
                    luts.append(r["LUT"])
                    print(f"| {geo} | {block} | {r['LUT']} | {m['LUT']} | {r['FF']} | {m['FF']} |", flush=True)
                ratios.append(luts[0] / luts[1])
            print("\nLUT acc_pool / maxpool per point: " + ", ".join(f"{r:.2f}" for r in ratios))
        lowered(POINTS[0], Path(tmp))
    print(f"\n{time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
