"""The host side of the board protocol without hardware: wire layout round trips, request bytes, reply parsing."""
from __future__ import annotations

import struct

from hypothesis import given, settings, strategies as st

from candle_hw.runtime import protocol as P
from candle_hw.sim.packing import pack_wire, unpack_wire, wire_bytes_per_frame


@settings(max_examples=40, deadline=None)
@given(width=st.integers(1, 40), wpf=st.integers(1, 30), n=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_wire_round_trip(width, wpf, n, seed):
    import numpy as np

    words = [int(w) for w in np.random.default_rng(seed).integers(0, 2**width, size=n * wpf, dtype=np.uint64)]
    data = pack_wire(words, width, wpf)
    assert len(data) == n * wire_bytes_per_frame(width, wpf)
    assert unpack_wire(data, width, wpf) == words


def test_wire_layout_is_lsb_first_and_frames_start_on_a_byte():
    # 3-bit words: two per byte, the first at the LSBs; a 3-word frame takes 2 bytes (the last half empty)
    assert pack_wire([1, 2, 3, 4, 5, 6], 3, 3) == bytes([1 | 2 << 3, 3, 4 | 5 << 3, 6])
    assert pack_wire([0x1234], 13, 1) == bytes([0x34, 0x12])


def test_request_layout_and_crc():
    req = P.request(P.INFER, 7, b"\x01\x02")
    assert req[:5] == bytes([0xA5, 0x01, 7, 2, 0]) and req[5:7] == b"\x01\x02"
    # CRC-16/CCITT-FALSE check value of "123456789" is 0x29B1
    assert P.crc16(b"123456789") == 0x29B1
    assert struct.unpack("<H", req[7:])[0] == P.crc16(req[1:7])


def test_reply_reader_skips_noise_and_bad_crc():
    good = P.frame(P.REPLY_SYNC, P.R_RESULT, 3, b"\x05\x06")
    bad = bytearray(P.frame(P.REPLY_SYNC, P.R_RESULT, 4, b"\x07"))
    bad[5] ^= 0xFF
    r = P.ReplyReader()
    got = r.feed(b"\x00\x11" + bytes(bad) + good[:4])
    assert got == []
    got = r.feed(good[4:])
    assert got == [P.Reply(P.R_RESULT, 3, b"\x05\x06")]
    assert r.dropped > 0
