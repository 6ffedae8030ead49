"""The window-sum block (hw_templates/acc_pool, AccPool) against the max-pool block of the same geometry
(hw_templates/maxpool, MaxPool), each alone under Yosys (compile/synth.py synthesize_block, xc7z020), with the
resource model (compile/estimate.py acc_pool_resources, maxpool_resources) beside each; prints a markdown table
and the LUT ratio sum/max per point. The measured points are recorded in tests/compile/test_estimate.py.

    python bench/acc_pool.py
"""
from __future__ import annotations

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


def main() -> int:
    from candle_hw.compile.synth import synthesize_block

    print("| geometry | block | Yosys LUT | model LUT | Yosys FF | model FF |")
    print("|---|---|---|---|---|---|")
    t0 = time.time()
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in POINTS:
            geo = f"{n.ifm_dim[0]}x{n.ifm_dim[1]}x{n.channels} k{n.kernel}/s{n.stride} {n.in_type.name} PE {n.pe}"
            luts = []
            for node, block in ((n, "acc_pool"), (twin(n), "maxpool")):
                r = synthesize_block(block, hdl_params(node, None).params, "xc7z020", Path(tmp) / f"{n.name}_{block}")
                m = node_resources(node)
                luts.append(r["LUT"])
                print(f"| {geo} | {block} | {r['LUT']} | {m['LUT']} | {r['FF']} | {m['FF']} |", flush=True)
            ratios.append(luts[0] / luts[1])
    print("\nLUT acc_pool / maxpool per point: " + ", ".join(f"{r:.2f}" for r in ratios))
    print(f"{2 * len(POINTS)} syntheses in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
