"""A real board behind a serial port (pyserial): the transport interface the driver uses (write, read, now)."""
from __future__ import annotations

import time

from candle_hw.errors import UserError


class SerialTransport:
    def __init__(self, port: str, baud: int) -> None:
        try:
            import serial  # pyserial, the `hw` extra
        except ImportError as exc:
            raise UserError("--port: talking to a board needs pyserial: pip install 'candle-hw[hw]'") from exc
        try:
            self.ser = serial.Serial(port, baud, timeout=1.0)
        except serial.SerialException as exc:
            raise UserError(f"--port {port}: cannot open ({exc})") from None
        self.name = port
        self.ser.reset_input_buffer()

    def write(self, data: bytes) -> None:
        self.ser.write(data)

    def read(self, n: int, timeout: float) -> bytes:
        self.ser.timeout = timeout
        return self.ser.read(n)

    def now(self) -> float:
        return time.monotonic()

    def close(self) -> None:
        self.ser.close()
