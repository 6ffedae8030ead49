"""Host runtime for board shells: ``Board(build, port).execute(x)`` (numpy in, numpy out), pyserial underneath,
or ``port="sim"`` for the whole-system Verilator simulation of the same bitstream top."""
from candle_hw.runtime.driver import Board, BoardError, RunStats

__all__ = ["Board", "BoardError", "RunStats"]
