"""``--port sim``: the whole bitstream top (board_shell: shell + network) in Verilator, behind the same transport
interface as a serial port, exchanging the very bytes the board's UART pins would carry (uart_tb.cpp).

The model is built once per build and shell parameters into BUILD/board_sim/<board>/ (a stamp keyed by the
sources and parameters decides rebuilds; the Verilator runtime objects are shared with sim/cosim's cache).
Time is simulated: ``read`` runs the model until the bytes came or the timeout (seconds of board time at the
board clock) passed, and ``now`` is the simulated time, so frames/s measured through this port are the
board's, not the host computer's.
"""
from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import subprocess
from importlib import resources
from pathlib import Path

from candle_hw.compile.board import SHELL_SOURCES, SHELL_TOP, ShellParams, shell_source_text
from candle_hw.errors import UserError
from candle_hw.sim.cosim.harness import _restore_runtime, _save_runtime
from candle_hw.sim.cosim.toolchain import check_host_tools, run_tool, verilator_bin

_CFLAGS = "-O2"


def _rtl_sources(rtl: Path) -> list[Path]:
    names = [ln.strip() for ln in (rtl / "filelist.f").read_text().splitlines() if ln.strip()]
    return [rtl / n for n in names]


def build_model(build: Path, params: ShellParams, name: str) -> Path:
    """Verilate board_shell + the build's network with uart_tb.cpp; returns the executable."""
    build = Path(build).resolve()
    rtl = build / "rtl"
    if not (rtl / "filelist.f").exists():
        raise UserError(f"{build}: no rtl/filelist.f; run `candle-hw compile` first")
    out = build / "board_sim" / name
    shell = out / "shell"
    shell.mkdir(parents=True, exist_ok=True)
    tb = resources.files("candle_hw.runtime").joinpath("uart_tb.cpp").read_bytes()
    h = hashlib.sha256(tb + json.dumps(params.hdl(), sort_keys=True).encode()
                       + importlib.metadata.version("verilator").encode())
    for f in SHELL_SOURCES:
        h.update(shell_source_text(f).encode())
    for p in _rtl_sources(rtl):
        h.update(p.read_bytes())
    key = h.hexdigest()
    obj = out / "obj"
    binary = obj / "Vboard"
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = out / "build.stamp"
        if stamp.exists() and stamp.read_text() == key and binary.exists():
            return binary
        check_host_tools()
        for f in SHELL_SOURCES:
            (shell / f).write_text(shell_source_text(f))
        obj.mkdir(exist_ok=True)
        (obj / "uart_tb.cpp").write_bytes(tb)
        log = out / "build.log"
        log.write_text("")
        cmd = [str(verilator_bin()), "--cc", "--exe", "--prefix", "Vboard", "--top-module", SHELL_TOP,
               "-Mdir", str(obj), "-o", "Vboard", "-Wno-fatal", "-Wno-lint", "-Wno-style",
               "--x-assign", "fast", "--x-initial", "fast", "-CFLAGS", _CFLAGS, f"-I{rtl}"]
        cmd += [f"-G{k}={v}" for k, v in params.hdl().items()]
        cmd += [str(p) for p in _rtl_sources(rtl)] + [str(shell / f) for f in SHELL_SOURCES] + [str(obj / "uart_tb.cpp")]
        run_tool(cmd, out, f"{SHELL_TOP}: verilator", log)
        _restore_runtime(obj, False)
        run_tool(["make", "-s", "-j", "2", "-C", str(obj), "-f", "Vboard.mk", "OPT_FAST=-O2", "OPT_SLOW=-O1",
                  "CFG_CXXFLAGS_PCH_I=-include"], out, f"{SHELL_TOP}: C++ build", log)
        _save_runtime(obj, False)
        stamp.write_text(key)
    return binary


class SimTransport:
    """A board in simulation: ``write`` queues bytes on the line, ``read`` runs the model (see module doc)."""

    def __init__(self, build: Path, params: ShellParams, board: dict, name: str | None = None) -> None:
        self.params = params
        self.clock_hz = board["clock_mhz"] * 1e6
        self.name = "sim"
        binary = build_model(build, params, name or board["name"])
        self.proc = subprocess.Popen([str(binary), str(params.clks_per_bit), str(int(params.rst_active_low))],
                                     cwd=Path(build).resolve() / "rtl", stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        self.cycle = 0

    def _cmd(self, line: str) -> str | None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        if line[0] in "WGQ":
            return None
        reply = self.proc.stdout.readline()
        if not reply.startswith("D "):
            raise RuntimeError(f"board simulation stopped (exit {self.proc.poll()}): {reply!r}")
        parts = reply.split()
        self.cycle = int(parts[1])
        return parts[2] if len(parts) > 2 else ""

    def write(self, data: bytes) -> None:
        if data:
            self._cmd("W " + data.hex())

    def read(self, n: int, timeout: float) -> bytes:
        return bytes.fromhex(self._cmd(f"R {n} {max(1, int(timeout * self.clock_hz))}"))

    def now(self) -> float:
        return self.cycle / self.clock_hz

    # test hooks (no real-port equivalent)
    def reset_board(self, cycles: int = 16) -> None:
        self._cmd(f"X {cycles}")

    def set_gap(self, cycles: int) -> None:
        self._cmd(f"G {cycles}")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self._cmd("Q")
                self.proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            self.proc.wait(timeout=10)
