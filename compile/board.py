"""Board shells: which board, which pins, and the parameters of hw_templates/board/board_shell.sv for a build.

The board table is data (candle_hw/boards.json, with its sources). ``shell_params(build, board)`` derives every
HDL parameter of the shell from the build's dataflow graph and the board: stream widths and words per frame of
the network's input and output, clock cycles per UART bit, and BUILD_HASH, a 32-bit digest of the build's RTL,
memory images and graph that the shell returns in its INFO reply, so the host refuses a bitstream that was built
from another build. Bytes per frame on the wire follow sim/packing.py (``wire_bytes_per_frame``).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from candle_hw.errors import UserError
from candle_hw.sim.packing import wire_bytes_per_frame

SHELL_TOP = "board_shell"
SHELL_CORE = "uart_shell"
SHELL_SOURCES = ("uart_rx.sv", "uart_tx.sv", "crc16_ccitt.sv", "shell_fifo.sv", "shell_unpack.sv", "shell_pack.sv",
                 "shell_rx.sv", "shell_tx.sv", "uart_shell.sv", "board_shell.sv")
FIFO_AW = 9          # smallest FIFO: 2**9 - 1 = 511 bytes (one 4 Kbit iCE40 EBR, one ECP5 DP16KD)
TIMEOUT_BYTES = 16   # a frame with no byte for this many byte times is abandoned (shell_rx TIMEOUT)


@lru_cache(maxsize=1)
def boards() -> dict[str, dict[str, Any]]:
    data = json.loads(resources.files("candle_hw").joinpath("boards.json").read_text())
    return {b["name"]: b for b in data["boards"]}


def get_board(name: str) -> dict[str, Any]:
    table = boards()
    if name not in table:
        raise UserError(f"--board {name}: unknown board (known: {', '.join(sorted(table))})")
    return table[name]


@dataclass(frozen=True)
class ShellParams:
    """HDL parameters of board_shell for one build on one board (names as in the HDL, values as integers)."""

    s_w: int
    m_w: int
    in_words: int
    out_words: int
    clks_per_bit: int
    build_hash: int
    rst_active_low: bool
    in_aw: int = FIFO_AW
    out_aw: int = FIFO_AW

    @property
    def in_bytes(self) -> int:
        return wire_bytes_per_frame(self.s_w, self.in_words)

    @property
    def out_bytes(self) -> int:
        return wire_bytes_per_frame(self.m_w, self.out_words)

    @property
    def timeout(self) -> int:
        return TIMEOUT_BYTES * 10 * self.clks_per_bit

    def hdl(self) -> dict[str, int | str]:
        """Parameter name -> value; BUILD_HASH as a sized hex literal (both Yosys and Verilator take it)."""
        return {"S_W": self.s_w, "M_W": self.m_w, "IN_WORDS": self.in_words, "OUT_WORDS": self.out_words,
                "CLKS_PER_BIT": self.clks_per_bit, "BUILD_HASH": f"32'h{self.build_hash:08x}",
                "IN_AW": self.in_aw, "OUT_AW": self.out_aw, "TIMEOUT": self.timeout,
                "RST_ACTIVE_LOW": int(self.rst_active_low)}


def build_hash(build: Path) -> int:
    """First 32 bits of a SHA-256 over the build's RTL, memory images and graph (file names and contents)."""
    build = Path(build)
    h = hashlib.sha256()
    files = sorted(p for p in (build / "rtl").iterdir() if p.is_file() and p.suffix in (".sv", ".v", ".mem", ".f"))
    for p in [*files, build / "dataflow.json", build / "params.npz"]:
        if p.exists():
            h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return int.from_bytes(h.digest()[:4], "little")


def clks_per_bit(board: dict[str, Any]) -> int:
    hz, baud = round(board["clock_mhz"] * 1e6), int(board["baud"])
    if hz % baud:
        raise UserError(f"board {board['name']}: baud={baud} does not divide the {board['clock_mhz']:g} MHz clock")
    return hz // baud


def fifo_aw(frame_bytes: int) -> int:
    """Address width of a FIFO that holds at least two frames (so the host can keep one frame on the line while
    the network reads the other), and never less than one block RAM's worth."""
    return max(FIFO_AW, (2 * frame_bytes).bit_length())


def shell_params(build: Path, board: dict[str, Any], *, in_aw: int | None = None,
                 out_aw: int | None = None) -> ShellParams:
    from candle_hw.compile.ir import DataflowGraph

    build = Path(build)
    g = DataflowGraph.load(build)
    sin, sout = g.input_stream, g.output_stream
    in_bytes = wire_bytes_per_frame(sin.width_bits, sin.words_per_frame)
    out_bytes = wire_bytes_per_frame(sout.width_bits, sout.words_per_frame)
    in_aw, out_aw = in_aw or fifo_aw(in_bytes), out_aw or fifo_aw(out_bytes + 4)  # + the completion timestamp
    for what, aw, need in (("input", in_aw, in_bytes), ("output", out_aw, out_bytes + 4)):
        if 2 ** aw - 1 < need:  # a whole frame must fit: results leave only whole, inputs are committed whole
            raise UserError(f"shell {what} FIFO of {2 ** aw - 1} B cannot hold one frame of {need} B")
    return ShellParams(s_w=sin.width_bits, m_w=sout.width_bits, in_words=sin.words_per_frame,
                       out_words=sout.words_per_frame, clks_per_bit=clks_per_bit(board),
                       build_hash=build_hash(build), rst_active_low=bool(board.get("reset_active_low", True)),
                       in_aw=in_aw, out_aw=out_aw)


def shell_source_text(name: str) -> str:
    return resources.files("candle_hw.hw_templates").joinpath("board", name).read_text()


def board_pins(board: dict[str, Any]) -> dict[str, str]:
    """board_shell's ports on the board's pins (candle_hw/boards.json)."""
    return {"clk": board["clock_pin"], "rst_in": board["reset_pin"], "uart_rx": board["uart_rx"],
            "uart_tx": board["uart_tx"]}


def pin_constraints(fmt: str, header: list[str], pins: dict[str, str], freq: float, iostandard: str = "LVCMOS33",
                    reset_pull: str | None = None) -> str:
    """The one writer of nextpnr pin and clock constraints: ``fmt`` "pcf" (iCE40) or "lpf" (ECP5, with the I/O
    standard and the reset pin's pull mode), ``header`` as comment lines, ``pins`` port -> site, clock ``clk``
    at ``freq`` MHz. Used for device builds (compile/bitstream.py) and board shells alike."""
    lines = [f"# {h}" for h in header]
    if fmt == "pcf":
        lines += [f"set_io {port} {pin}" for port, pin in pins.items()]
        lines.append(f"set_frequency clk {freq:g}")
    else:
        for port, pin in pins.items():
            pull = f" PULLMODE={reset_pull}" if port == "rst_in" and reset_pull else ""
            lines.append(f'LOCATE COMP "{port}" SITE "{pin}";')
            lines.append(f'IOBUF PORT "{port}" IO_TYPE={iostandard}{pull};')
        lines.append(f'FREQUENCY PORT "clk" {freq:g} MHZ;')
    return "\n".join(lines) + "\n"


def board_constraints(board: dict[str, Any], fmt: str, freq: float) -> str:
    """board_shell's constraints on ``board`` in its nextpnr's format ``fmt``."""
    return pin_constraints(fmt, [f"{board['title']}: pins from {board['sources'][0].split(':')[0]}"],
                           board_pins(board), freq, board.get("iostandard", "LVCMOS33"), board.get("reset_pull"))
