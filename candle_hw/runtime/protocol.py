"""The host's definition of the shell's UART protocol (the board's: hw_templates/board/shell_rx.sv, shell_tx.sv,
uart_shell.sv). All multi-byte fields are little-endian; the CRC is CRC-16/CCITT-FALSE (binascii.crc_hqx with
initial value 0xFFFF) over type .. payload.

Request: 0xA5 | type | id | len u16 | payload | crc u16      (INFER 0x01, QUEUE 0x02, INFO 0x03)
Reply:   0x5A | type | id | len u16 | payload | crc u16      (RESULT 0x81, INFO 0x83, ERROR 0xEE)
"""
from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass

REQ_SYNC, REPLY_SYNC = 0xA5, 0x5A
INFER, QUEUE, INFO = 0x01, 0x02, 0x03
R_RESULT, R_INFO, R_ERROR = 0x81, 0x83, 0xEE
HEADER = 5        # sync, type, id, len
OVERHEAD = 7      # header + crc
ERRORS = {1: "CRC", 2: "length", 3: "type", 4: "input FIFO overflow", 5: "timeout inside a frame"}
INFO_FORMAT = "<IHHHHHBBIII"
INFO_BYTES = struct.calcsize(INFO_FORMAT)
TIMESTAMP_BYTES = 4
VERSION = 1


def crc16(data: bytes) -> int:
    return binascii.crc_hqx(data, 0xFFFF)


def frame(sync: int, typ: int, ident: int, payload: bytes = b"") -> bytes:
    body = bytes([typ, ident & 0xFF]) + struct.pack("<H", len(payload)) + payload
    return bytes([sync]) + body + struct.pack("<H", crc16(body))


def request(typ: int, ident: int, payload: bytes = b"") -> bytes:
    return frame(REQ_SYNC, typ, ident, payload)


@dataclass(frozen=True)
class Reply:
    typ: int
    ident: int
    payload: bytes


@dataclass(frozen=True)
class Info:
    """The shell's INFO reply: what it was built for and its hardware counters."""

    build_hash: int
    in_bytes: int
    out_bytes: int
    in_fifo_bytes: int
    out_fifo_bytes: int
    clks_per_bit: int
    version: int
    frames_done: int
    errors: int
    burst_start: int

    @classmethod
    def parse(cls, payload: bytes) -> "Info":
        f = struct.unpack(INFO_FORMAT, payload)
        return cls(build_hash=f[0], in_bytes=f[1], out_bytes=f[2], in_fifo_bytes=f[3], out_fifo_bytes=f[4],
                   clks_per_bit=f[5], version=f[6], frames_done=f[8], errors=f[9], burst_start=f[10])


class ReplyReader:
    """Splits the board's byte stream into replies; bytes before a sync and frames with a bad CRC are dropped
    (counted in ``dropped``): the host retries what stays unanswered."""

    def __init__(self, max_len: int = 1 << 14) -> None:
        self.buf = bytearray()
        self.dropped = 0
        self.max_len = max_len

    def feed(self, data: bytes) -> list[Reply]:
        self.buf += data
        out = []
        while True:
            i = self.buf.find(REPLY_SYNC)
            if i < 0:
                self.dropped += len(self.buf)
                self.buf.clear()
                return out
            if i:
                self.dropped += i
                del self.buf[:i]
            if len(self.buf) < HEADER:
                return out
            n = struct.unpack_from("<H", self.buf, 3)[0]
            if n > self.max_len:  # a corrupted length: not a reply start
                self.dropped += 1
                del self.buf[:1]
                continue
            if len(self.buf) < HEADER + n + 2:
                return out
            body = bytes(self.buf[1:HEADER + n])
            (crc,) = struct.unpack_from("<H", self.buf, HEADER + n)
            if crc != crc16(body):
                self.dropped += 1
                del self.buf[:1]  # resynchronise on the next sync byte
                continue
            out.append(Reply(body[0], body[1], body[4:]))
            del self.buf[:HEADER + n + 2]

    def need(self) -> int:
        """Bytes still missing for the reply under way (at least one)."""
        if len(self.buf) < HEADER:
            return HEADER - len(self.buf)
        n = struct.unpack_from("<H", self.buf, 3)[0]
        return max(1, HEADER + n + 2 - len(self.buf))
