"""The Thresholding block (hw_templates/thresholding) alone under Yosys (compile/synth.py synthesize_block,
xc7z020) at three shapes, random sorted thresholds per channel (the ROM contents matter: constant threshold bits
shrink the comparators); prints LUT / FF / BRAM_18K per shape.

    python bench/thresholding_block.py
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from candle_hw.compile.synth import synthesize_block
from candle_hw.sim.packing import threshold_words, write_memh
from candle_hw.types import IntType, sint, uint

# (channels, pe, input type, thresholds per channel)
SHAPES = [(64, 8, sint(8), 3), (64, 8, uint(3), 1), (32, 4, uint(5), 7)]


def main() -> None:
    t0 = time.time()
    print("| channels, PE | input | thresholds | Yosys LUT | Yosys FF | BRAM_18K |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for ch, pe, it, n in SHAPES:
            rng = np.random.default_rng(ch + n)
            ttype = IntType.for_range(it.min, it.max + 1)
            t = np.sort(rng.integers(it.min, it.max + 2, size=(ch, n)), axis=1)
            work = Path(tmp) / f"thr{ch}_{pe}_{n}"
            work.mkdir()
            write_memh(work / "thresholds.mem", threshold_words(t, pe, ttype), pe * n * ttype.bits)
            params = {"CHANNELS": ch, "PE": pe, "IN_BITS": it.bits, "IN_SIGNED": int(it.signed), "N_THRESH": n,
                      "THRESH_BITS": ttype.bits, "THRESH_SIGNED": int(ttype.signed), "OUT_BITS": max(1, n.bit_length()),
                      "NUM_VECTORS": 1, "THRESH_FILE": "thresholds.mem"}
            r = synthesize_block("thresholding", params, "xc7z020", work)
            print(f"| {ch}, {pe} | {it.name} | {n} | {r['LUT']} | {r['FF']} | {r['BRAM_18K']} |", flush=True)
    print(f"\n{time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
