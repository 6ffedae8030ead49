"""The resource model (compile/estimate.py) against a Yosys synthesis, per block: reads BUILD/reports/synth.json
(written by `candle-hw synth BUILD`, which records the model's estimate beside each measured block) and prints a
markdown table of measured LUT/FF/BRAM_18K, the estimate and measured/estimate.

``--fit-swg``: fits the sliding window's LUT model (compile/estimate.py SWG_LUT_PER_BIT, SWG_LUT_FIXED: LUT = fixed +
per bit x SIMD x element bits, non-negative least squares) to the SWG blocks of every BUILD and prints the
coefficients and each block's error, in the fit and left out of it.

    python bench/estimate_vs_yosys.py BUILD [BUILD ...] [--fit-swg]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

KEYS = ("LUT", "FF", "BRAM_18K")


def ratio(m: int, e: int) -> str:
    return "—" if e == 0 and m == 0 else "∞" if e == 0 else f"{m / e:.2f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", type=Path, nargs="+")
    ap.add_argument("--fit-swg", action="store_true", help="fit the SWG LUT model to the builds' SWG blocks")
    args = ap.parse_args(argv)
    if args.fit_swg:
        return fit_swg(args.build)
    for b in args.build:
        table(b)
    return 0


def fit_swg(builds: list[Path]) -> int:
    import numpy as np
    from scipy.optimize import nnls

    from candle_hw.compile.ir import DataflowGraph, SlidingWindow

    rows = []  # (name, bits per word, measured LUT)
    for b in builds:
        blocks = json.loads((b / "reports" / "synth.json").read_text())["blocks"]
        for n in DataflowGraph.load(b).nodes:
            if isinstance(n, SlidingWindow) and n.name in blocks:
                rows.append((f"{b.name}.{n.name}", n.simd * n.elem_type.bits, blocks[n.name]["LUT"]))
    a = np.array([[w, 1.0] for _, w, _ in rows])
    y = np.array([lut for _, _, lut in rows], dtype=float)
    coef = nnls(a, y)[0]
    print(f"fitted on {len(rows)} SWG blocks: LUT = {coef[1]:.1f} + {coef[0]:.3f} x SIMD x element bits")
    print("| SWG | bits per word | Yosys LUT | fit | error | left out | error |\n|---|---|---|---|---|---|---|")
    errs = []
    for i, (name, w, lut) in enumerate(rows):
        keep = [j for j in range(len(rows)) if j != i]
        lo = float(a[i] @ nnls(a[keep], y[keep])[0])
        fit = float(a[i] @ coef)
        errs.append((abs(fit - lut) / lut, abs(lo - lut) / lut))
        print(f"| {name} | {w} | {lut} | {fit:.0f} | {(fit - lut) / lut:+.1%} | {lo:.0f} | {(lo - lut) / lut:+.1%} |")
    e = np.array(errs)
    print(f"mean |error| fit {e[:, 0].mean():.1%} (max {e[:, 0].max():.1%}), left out {e[:, 1].mean():.1%} "
          f"(max {e[:, 1].max():.1%})")
    return 0


def table(build: Path) -> None:
    d = json.loads((build / "reports" / "synth.json").read_text())
    print(f"{d['tool'].split(' (')[0]}, `{d['synth_command']}`, {d['target']}")
    print("| block | kind | " + " | ".join(f"{k} meas / est (ratio)" for k in KEYS) + " |")
    print("|---|---|" + "---|" * len(KEYS))
    for name, b in sorted(d["blocks"].items()):
        est = b.get("estimate")
        if est is None:
            continue
        cells = [f"{b[k]:,} / {est[k]:,} ({ratio(b[k], est[k])})" for k in KEYS]
        print(f"| {name} | {b['module']} | " + " | ".join(cells) + " |")
    t, e = d["total"], d["estimate_total"]
    print("| **total** | | " + " | ".join(f"**{t[k]:,} / {e[k]:,} ({ratio(t[k], e[k])})**" for k in KEYS) + " |")


if __name__ == "__main__":
    sys.exit(main())
