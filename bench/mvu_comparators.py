"""Yosys LUTs of three matrix-vector units whose comparator banks share hw_templates/mvu/mvu_thresh_fn.svh.

One ternary (W2, narrow INT2) and one plain k-bit unit (UINT2 x INT2, 144x16, PE 4, SIMD 16, 3 thresholds; the
configurations of bench/kbit_mvu_model.py) and one XNOR unit (64x16, PE 4, SIMD 16, 3 thresholds, seeded
weights and thresholds), each synthesised alone (``synth_xilinx``, xc7z020). Run before and after a change to the
comparator bank to see that its LUTs do not move:

    python bench/mvu_comparators.py WORK_DIR
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kbit_mvu_model import Config, measure  # noqa: E402

from candle_hw.compile.emit import emit_rtl  # noqa: E402
from candle_hw.compile.ir import DataflowGraph, MatrixVectorUnit  # noqa: E402
from candle_hw.compile.synth import synthesize  # noqa: E402
from candle_hw.types import BIPOLAR, sint, uint  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python bench/mvu_comparators.py WORK_DIR", file=sys.stderr)
        return 2
    work = Path(argv[0])
    for c in [Config("tern_u2_p4s16_t3", 144, 16, 4, 16, uint(2), sint(2), 3, narrow=True),
              Config("pp_u2_p4s16_t3", 144, 16, 4, 16, uint(2), sint(2), 3)]:
        print(c.name, measure(c, work), flush=True)
    rng = np.random.default_rng(0)
    mw, mh = 64, 16
    w = rng.choice([-1, 1], size=(mw, mh))
    n = MatrixVectorUnit("xnor_t3", mw, mh, 4, 16, BIPOLAR, sint(8), uint(2), True, (4,), 3, weight_type=BIPOLAR)
    g = DataflowGraph((n,), {"xnor_t3.weights": w,
                             "xnor_t3.thresholds": np.sort(rng.integers(-mw, mw + 2, size=(mh, 3)), axis=1)})
    emit_rtl(g, work / "xnor_t3" / "rtl")
    blk = synthesize(work / "xnor_t3", "xc7z020")["blocks"]["xnor_t3"]
    print("xnor_t3", {k: blk[k] for k in ("LUT", "FF", "BRAM_18K")}, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
