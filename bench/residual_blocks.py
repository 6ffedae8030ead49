"""The resource model of the residual blocks (compile/estimate.py dup_resources, add_resources) against Yosys on
each block alone (compile/synth.py synthesize_block, xc7z020), for a few widths, operand types and fan-outs;
prints a markdown table. The measured points are recorded in tests/compile/test_estimate.py.

    python bench/residual_blocks.py
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from candle_hw.compile.emit import hdl_params
from candle_hw.compile.estimate import node_resources
from candle_hw.compile.ir import AddStreams, DuplicateStreams
from candle_hw.compile.synth import synthesize_block
from candle_hw.types import BIPOLAR, sint, uint

POINTS = [
    AddStreams("a1", (8, 8, 8), (BIPOLAR, BIPOLAR), sint(3), 4),
    AddStreams("a2", (8, 8, 16), (BIPOLAR, BIPOLAR), sint(3), 16),
    AddStreams("a3", (8, 8, 8), (sint(4), BIPOLAR), sint(5), 8),
    AddStreams("a4", (8, 8, 8), (uint(4), uint(4)), uint(5), 8),
    AddStreams("a5", (8, 8, 16), (sint(8), sint(8)), sint(9), 16),
    DuplicateStreams("d1", (8, 8, 8), BIPOLAR, 8),
    DuplicateStreams("d2", (8, 8, 8), sint(4), 8, n_out=3),
    DuplicateStreams("d3", (8, 8, 8), sint(4), 8, n_out=4),
]


def describe(n) -> str:
    if isinstance(n, AddStreams):
        return f"add_streams {n.in_types[0]} + {n.in_types[1]} -> {n.out_type}, PE {n.pe}"
    return f"duplicate_streams {n.elem_type} x{n.n_out}, PE {n.pe}"


def main() -> int:
    print("| block | Yosys LUT | model LUT | Yosys FF | model FF |")
    print("|---|---|---|---|---|")
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for n in POINTS:
            kind = "add_streams" if isinstance(n, AddStreams) else "duplicate_streams"
            r = synthesize_block(kind, hdl_params(n, None).params, "xc7z020", Path(tmp) / n.name)
            m = node_resources(n)
            print(f"| {describe(n)} | {r['LUT']} | {m['LUT']} | {r['FF']} | {m['FF']} |", flush=True)
    print(f"\n{len(POINTS)} syntheses in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
