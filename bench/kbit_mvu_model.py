"""The k-bit matrix-vector unit's LUT model (compile/estimate.py mvu_resources) against Yosys, fitted and checked.

Synthesises (Yosys ``synth_xilinx -family xc7``, xc7z020, each unit alone as a one-node graph through
compile/emit.py and compile/synth.py, cached per config in WORK/<config>.json) a set of k-bit MVUs that differ in
PE, SIMD, weight bits, input bits/kind, thresholds and datapath (ternary or partial-product heap), then:

- ``--fit``: fits the k-bit coefficients of the model (non-negative least squares on all configs, LUT minus the
  model's weight-ROM and input-buffer terms, which are not refitted) and prints them, for compile/estimate.py;
- always: the model's LUT (compile/estimate.py as it stands) beside Yosys' for every config, and, as the error on
  points not used for a fit, each config predicted by the same formula fitted on the other configs
  (leave-one-out), with the mean absolute errors.

    python bench/kbit_mvu_model.py [--work DIR] [--fit]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from candle_hw.compile.emit import emit_rtl
from candle_hw.compile.estimate import kbit_lut_terms, mvu_resources
from candle_hw.compile.ir import DataflowGraph, MatrixVectorUnit
from candle_hw.compile.mvu_map import ternary_spec
from candle_hw.compile.synth import synthesize
from candle_hw.types import BIPOLAR, IntType, sint, uint


@dataclass(frozen=True)
class Config:
    name: str
    mw: int
    mh: int
    pe: int
    simd: int
    in_type: IntType
    w_type: IntType
    n_thresh: int
    narrow: bool = False  # INT2 weights in {-1, 0, 1} (the ternary datapath)
    style: str = "block"


CONFIGS = [
    Config("tern_u2_p4s16_t3", 144, 16, 4, 16, uint(2), sint(2), 3, narrow=True),
    Config("pp_u2_p4s16_t3", 144, 16, 4, 16, uint(2), sint(2), 3),
    Config("tern_u8_p8s3_t2", 27, 16, 8, 3, uint(8), sint(2), 2, narrow=True),
    Config("pp_s4w4_p2s8_t1", 64, 8, 2, 8, sint(4), sint(4), 1),
    Config("pp_bipw3_p4s8_t2", 64, 16, 4, 8, BIPOLAR, sint(3), 2),
    Config("pp_u2w3_p8s4_t3", 128, 16, 8, 4, uint(2), sint(3), 3),
    Config("tern_u2_p8s8_t2", 288, 32, 8, 8, uint(2), sint(2), 2, narrow=True),
    Config("pp_u2_p2s32_acc", 64, 8, 2, 32, uint(2), sint(2), 0),
    Config("tern_bip_p4s16_t1", 64, 16, 4, 16, BIPOLAR, sint(2), 1, narrow=True),
    Config("pp_s3w4_p4s4_t3", 48, 8, 4, 4, sint(3), sint(4), 3),
]


def build(c: Config, seed: int = 0) -> DataflowGraph:
    rng = np.random.default_rng(seed)
    wmin = -1 if c.narrow else c.w_type.min
    w = rng.integers(wmin, c.w_type.max + 1, size=(c.mw, c.mh))
    xs = (-1, 1) if c.in_type.bipolar else (c.in_type.min, c.in_type.max)
    ends = [x * w for x in xs]
    lo, hi = int(np.minimum(*ends).sum(axis=0).min()), int(np.maximum(*ends).sum(axis=0).max())
    acc = IntType.for_range(lo, hi)
    out = acc if c.n_thresh == 0 else BIPOLAR if c.n_thresh == 1 else uint(c.n_thresh.bit_length())
    n = MatrixVectorUnit(c.name, c.mw, c.mh, c.pe, c.simd, c.in_type, acc, out, False, (4,), c.n_thresh,
                         weight_type=c.w_type, weight_style=c.style)
    params = {f"{c.name}.weights": w}
    if c.n_thresh:
        params[f"{c.name}.thresholds"] = np.sort(rng.integers(lo, hi + 2, size=(c.mh, c.n_thresh)), axis=1)
    g = DataflowGraph((n,), params)
    assert (ternary_spec(n, w, params.get(f"{c.name}.thresholds", 0)) is not None) == (c.narrow and c.n_thresh > 0)
    return g


def measure(c: Config, work: Path) -> dict:
    f = work / f"{c.name}.json"
    if f.is_file():
        return json.loads(f.read_text())
    g = build(c)
    b = work / c.name
    emit_rtl(g, b / "rtl")
    start = time.perf_counter()
    blk = synthesize(b, "xc7z020")["blocks"][c.name]
    out = {k: blk[k] for k in ("LUT", "FF", "BRAM_18K")} | {"seconds": round(time.perf_counter() - start, 1)}
    work.mkdir(parents=True, exist_ok=True)
    f.write_text(json.dumps(out) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("bench_kbit_mvu_model"))
    ap.add_argument("--fit", action="store_true", help="fit the k-bit coefficients on the FIT configs and print them")
    args = ap.parse_args(argv)
    rows = []
    for c in CONFIGS:
        g = build(c)
        n = g.nodes[0]
        tern = ternary_spec(n, g.params[f"{c.name}.weights"], g.params.get(f"{c.name}.thresholds", 0)) is not None
        r = measure(c, args.work)
        print(f"  {c.name}: {r}", flush=True)
        rows.append((c, n, tern, r["LUT"]))
    from scipy.optimize import nnls

    def fit(sel: list[int]) -> np.ndarray:
        a = np.array([kbit_lut_terms(rows[i][1], rows[i][2])[0] for i in sel], dtype=float)
        b = np.array([rows[i][3] - kbit_lut_terms(rows[i][1], rows[i][2])[1] for i in sel], dtype=float)
        return nnls(a, b)[0]

    def predict(coef: np.ndarray, i: int) -> float:
        terms, fixed = kbit_lut_terms(rows[i][1], rows[i][2])
        return fixed + float(np.dot(coef, terms))

    if args.fit:
        print("fitted on all configs (per heap bit, per PE accumulator bit, per PE comparator bit, per unit):",
              ", ".join(f"{v:.3f}" for v in fit(list(range(len(rows))))))
    # leave-one-out: each config predicted by the model fitted (same formula, NNLS) on the other configs
    loo = [predict(fit([j for j in range(len(rows)) if j != i]), i) for i in range(len(rows))]
    print(f"\n{'config':22} {'datapath':9} {'Yosys LUT':>9} {'model LUT':>9} {'error':>7} {'left-out fit':>12} {'error':>7}")
    errs: dict[str, list[float]] = {"model": [], "left out": []}
    for (c, n, tern, lut), lo in zip(rows, loo):
        est = mvu_resources(n, ternary=tern)["LUT"]
        errs["model"].append(abs(est - lut) / lut)
        errs["left out"].append(abs(lo - lut) / lut)
        print(f"{c.name:22} {'ternary' if tern else 'heap':9} {lut:>9,} {est:>9,} {(est - lut) / lut:>+7.1%} "
              f"{lo:>12,.0f} {(lo - lut) / lut:>+7.1%}")
    for k, v in errs.items():
        print(f"mean |error| {k}: {np.mean(v):.1%} (max {np.max(v):.1%}, {len(v)} configs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
