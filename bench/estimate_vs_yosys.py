"""The resource model (compile/estimate.py) against a Yosys synthesis, per block: reads BUILD/reports/synth.json
(written by `candle-hw synth BUILD`, which records the model's estimate beside each measured block) and prints a
markdown table of measured LUT/FF/BRAM_18K, the estimate and measured/estimate.

    python bench/estimate_vs_yosys.py BUILD [--kinds mvu,swg,...]
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
    ap.add_argument("build", type=Path)
    args = ap.parse_args(argv)
    d = json.loads((args.build / "reports" / "synth.json").read_text())
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
