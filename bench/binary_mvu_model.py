"""The ±1-weight MVU's LUT model (compile/estimate.py ``binary_lut_terms`` x ``BINARY_COEF``) against every
Yosys-measured unit recorded in tests/compile/test_estimate.py: the calibration designs (TFC at three foldings,
the small CNV, CNV-W1A1) and the full-size resnet_w1a1's matrix units (multi-threshold outputs). Prints each
unit's measured LUT, the model's estimate and error, and the estimate of the same formula fitted (non-negative
least squares on relative error) on all the other units (leave-one-out).

    python bench/binary_mvu_model.py [--fit] [--log2-popcount]

--log2-popcount fits the alternative with lanes x log2(SIMD) as the XNOR term (the form before the comparator
term was added) and prints its errors fitted on all units and left out, for comparison.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "compile"))

from candle_hw.compile.estimate import (  # noqa: E402
    BINARY_COEF, binary_lut_terms, border_cost, estimate_layer_resources, mvu_resources,
)
from candle_hw.compile.ir import DataflowGraph, MatrixVectorUnit  # noqa: E402
from candle_hw.compile.passes.stitch import InsertWidthConverters  # noqa: E402
from fixtures.reference_graphs import cnv_graph  # noqa: E402
from test_estimate import CNV_MEASURED_LUT, MEASURED_LUT, RESNET_MVU_MEASURED, _design  # noqa: E402


def designs() -> dict[str, tuple[DataflowGraph, dict[str, int]]]:
    """The calibration designs and their recorded Yosys LUT per block."""
    d = {name: (_design(name), meas) for name, meas in MEASURED_LUT.items()}
    d["cnv_w1a1"] = (InsertWidthConverters()(cnv_graph()), CNV_MEASURED_LUT)
    return d


def units() -> list[tuple[str, MatrixVectorUnit, int]]:
    """(label, node, measured LUT) of every recorded ±1-weight MVU."""
    rows = []
    for name, (g, meas) in designs().items():
        for n in g.nodes:
            if isinstance(n, MatrixVectorUnit) and n.name in meas:
                rows.append((f"{name}/{n.name}", n, meas[n.name]))
    rows += [(f"resnet_w1a1/{n.name}", n, lut) for n, lut, _ in RESNET_MVU_MEASURED]
    return rows


def fixed(n: MatrixVectorUnit) -> float:
    return binary_lut_terms(n)[1] + (border_cost(n)[0] if n.border else 0.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", action="store_true", help="print the coefficients fitted on all units")
    ap.add_argument("--log2-popcount", action="store_true", help="fit lanes x log2(SIMD) as the XNOR term instead")
    args = ap.parse_args(argv)
    from scipy.optimize import nnls

    rows = units()
    a_all = np.array([binary_lut_terms(n)[0] for _, n, _ in rows], dtype=float)
    b_all = np.array([lut - fixed(n) for _, n, lut in rows], dtype=float)
    w_all = np.array([1.0 / lut for _, _, lut in rows])
    if args.log2_popcount:
        a_all[:, 0] *= [np.log2(max(n.simd, 2)) for _, n, _ in rows]

    def fit(sel: list[int]) -> np.ndarray:
        return nnls(a_all[sel] * w_all[sel, None], b_all[sel] * w_all[sel])[0]

    if args.fit:
        print("fitted on all units (per XNOR lane, per int lane·bit, per PE acc bit, per PE comparator bit, per unit):",
              ", ".join(f"{v:.3f}" for v in fit(list(range(len(rows))))))
    print("model coefficients (BINARY_COEF):", ", ".join(f"{v:.3f}" for v in BINARY_COEF))
    loo = [fixed(rows[i][1]) + float(a_all[i] @ fit([j for j in range(len(rows)) if j != i]))
           for i in range(len(rows))]
    meas = np.array([lut for _, _, lut in rows], dtype=float)
    if args.log2_popcount:
        full = a_all @ fit(list(range(len(rows)))) + np.array([fixed(n) for _, n, _ in rows])
        print(f"lanes x log2(SIMD) form: mean |error| fitted on all {np.mean(np.abs(full / meas - 1)):.1%}, "
              f"left out {np.mean(np.abs(np.array(loo) / meas - 1)):.1%} ({len(rows)} units)")
        return 0
    print(f"\n{'unit':22} {'PE×SIMD':>8} {'thr':>3} {'Yosys LUT':>9} {'model':>7} {'error':>7} {'left out':>8} {'error':>7}")
    errs: dict[str, list[float]] = {"model": [], "left out": []}
    for (label, n, lut), lo in zip(rows, loo):
        est = mvu_resources(n)["LUT"]
        errs["model"].append(abs(est - lut) / lut)
        errs["left out"].append(abs(lo - lut) / lut)
        print(f"{label:22} {f'{n.pe}×{n.simd}':>8} {n.n_thresholds:>3} {lut:>9,} {est:>7,} {(est - lut) / lut:>+7.1%} "
              f"{lo:>8,.0f} {(lo - lut) / lut:>+7.1%}")
    for k, v in errs.items():
        print(f"mean |error| {k}: {np.mean(v):.1%} (max {np.max(v):.1%}, {len(v)} units)")
    print("\ncalibration designs' recorded blocks, LUT total modelled / measured:")
    for name, (g, meas) in designs().items():
        est = estimate_layer_resources(g)
        te, tm = sum(est[k]["LUT"] for k in meas), sum(meas.values())
        print(f"  {name}: {te:,} / {tm:,} ({te / tm - 1:+.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
