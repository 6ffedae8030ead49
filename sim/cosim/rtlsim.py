"""Whole-design RTL co-simulation of a build (BUILD/rtl/top.sv) with Verilator, and first-mismatch localisation.

``simulate_rtl(build_dir, frames)`` runs the dataflow input element values of N frames through the stitched
design and returns its output element values plus measured timing; it writes
BUILD/reports/rtlsim_performance.json with FINN's field names. It compares nothing itself.

``first_mismatch(graph, frames, rtl_outputs)`` compares against the functional simulator and, on a difference,
re-runs the failing frames on a debug build of the same top (``CANDLE_TAPS``: every block's output stream is a
port) with a VCD, and names the first block whose stream differs, with the word, frame and cycle.

Timing definitions (cycles of the design clock; cycle 0 = first edge after reset):
- latency_cycles: from the handshake of frame 0's first input word to that of its last output word, inclusive;
- interval_cycles: mean distance between the completions (last output word) of consecutive frames, frame 0's
  completion excluded when N >= 3 (pipeline fill); with m_tready = 1 and s_tvalid = 1 this is the II.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from candle_hw.compile.ir import DataflowGraph, StreamType, require_stitched
from candle_hw.errors import UserError
from candle_hw.sim.cosim.harness import RunResult, StreamDesign
from candle_hw.sim.packing import pack_stream, unpack_stream
from candle_hw.types import IntType

DEFAULT_FCLK_MHZ = 100.0


@dataclass
class RtlResult:
    outputs: np.ndarray              # (frames completed, *graph.output_stream.shape) element values
    interval_cycles: float
    latency_cycles: int
    cycles: int
    n_frames: int
    timeout: bool
    frame_done_cycles: list[int]
    run: RunResult = field(repr=False)
    report: dict[str, Any] = field(default_factory=dict)
    vcd: Path | None = None


@dataclass
class Mismatch:
    node: str
    kind: str
    frame: int
    word: int                        # index of the word within that block's output frame
    cycle: int | None                # handshake cycle of the differing word (None: the word never came)
    expected: int
    got: int | None
    vcd: Path | None

    def __str__(self) -> str:
        got = "nothing" if self.got is None else f"{self.got:#x}"
        when = "never" if self.cycle is None else f"at cycle {self.cycle}"
        return (f"{self.node} ({self.kind}): first difference in frame {self.frame}, output word {self.word}: "
                f"expected {self.expected:#x}, got {got} {when}" + (f"; VCD {self.vcd}" if self.vcd else ""))


def _rtl_dir(build_dir: Path) -> Path:
    """BUILD/rtl, emitted by the compiler (``candle-hw compile``, compile/emit.py): the RTL simulator runs the
    design that was built and never emits one of its own."""
    rtl = build_dir / "rtl"
    if not (rtl / "top.sv").exists():
        raise UserError(f"{build_dir}: no rtl/top.sv; compile the model first (`candle-hw compile`)")
    return rtl


def _design(rtl: Path, obj_parent: Path, trace: bool = False, taps: bool = False) -> StreamDesign:
    names = [ln.strip() for ln in (rtl / "filelist.f").read_text().splitlines() if ln.strip()]
    return StreamDesign(top="top", sources=[rtl / n for n in names], build_dir=obj_parent, include_dirs=[rtl],
                        trace=trace, taps=taps)


def _check_frames(graph: DataflowGraph, frames: np.ndarray) -> np.ndarray:
    s = graph.input_stream
    frames = np.asarray(frames)
    if frames.ndim < 1 or frames.shape[0] < 1 or int(np.prod(frames.shape[1:])) != s.num_elems:
        raise UserError(f"RTL simulation: frames of shape {frames.shape} do not match the dataflow input "
                        f"(N, {', '.join(map(str, s.shape))})")
    return frames.reshape(frames.shape[0], *s.shape)


def _timing(res: RunResult, out_wpf: int) -> tuple[list[int], int, float]:
    """Frame completion cycles, latency and interval (definitions in the module docstring)."""
    done = [res.out_cycles[(k + 1) * out_wpf - 1] for k in range(len(res.out_cycles) // out_wpf)]
    if not done:
        return done, -1, float("nan")
    latency = done[0] - res.in_cycles[0] + 1
    if len(done) >= 3:
        interval = (done[-1] - done[1]) / (len(done) - 2)
    elif len(done) == 2:
        interval = float(done[1] - done[0])
    else:
        interval = float(latency)
    return done, latency, interval


def simulate_rtl(build_dir: Path, frames: np.ndarray, *, in_valid_prob: float = 1.0, out_ready_prob: float = 1.0,
                 seed: int = 0, vcd: bool = False, fclk_mhz: float = DEFAULT_FCLK_MHZ,
                 max_cycles: int | None = None) -> RtlResult:
    """Simulate BUILD's RTL on ``frames`` (N, *graph.input_stream.shape); see the module docstring."""
    build_dir = Path(build_dir).resolve()
    graph = DataflowGraph.load(build_dir)
    frames = _check_frames(graph, frames)
    rtl = _rtl_dir(build_dir)
    design = _design(rtl, build_dir / ("rtlsim_trace" if vcd else "rtlsim"), trace=vcd)
    sin, sout = graph.input_stream, graph.output_stream
    n = frames.shape[0]
    words = pack_stream(frames, sin.elem_type, sin.elems_per_word)
    n_out = n * sout.words_per_frame
    vcd_path = build_dir / "reports" / "rtlsim.vcd" if vcd else None
    (build_dir / "reports").mkdir(exist_ok=True)
    t0 = time.monotonic()
    res = design.run(words, n_out, in_valid_prob=in_valid_prob, out_ready_prob=out_ready_prob, seed=seed,
                     max_cycles=max_cycles, vcd=vcd_path, allow_timeout=True, cwd=rtl)
    runtime = time.monotonic() - t0
    done, latency, interval = _timing(res, sout.words_per_frame)
    complete = len(done)
    outputs = unpack_stream(res.out_words[:complete * sout.words_per_frame], sout.elem_type, sout.elems_per_word,
                            (complete, *sout.shape))
    report = {
        "N": n, "N_IN_TXNS": len(res.in_cycles), "N_OUT_TXNS": len(res.out_cycles), "cycles": res.cycles,
        "TIMEOUT": int(res.timeout), "UNFINISHED_INS": len(words) - res.n_in_consumed,
        "UNFINISHED_OUTS": max(0, n_out - len(res.out_cycles)), "RUNTIME_S": round(runtime, 4),
        "latency_cycles": latency, "interval_cycles": interval, "fclk[mhz]": fclk_mhz,
        "throughput[images/s]": (fclk_mhz * 1e6 / interval) if interval == interval and interval > 0 else 0.0,
        "stable_throughput[images/s]": (fclk_mhz * 1e6 * n / res.cycles) if res.cycles else 0.0,
        "in_valid_prob": in_valid_prob, "out_ready_prob": out_ready_prob, "seed": seed,
        "sim_cycles_per_s": round(res.cycles_per_s, 1),
    }
    (build_dir / "reports" / "rtlsim_performance.json").write_text(json.dumps(report, indent=1) + "\n")
    return RtlResult(outputs=outputs, interval_cycles=interval, latency_cycles=latency, cycles=res.cycles,
                     n_frames=complete, timeout=res.timeout, frame_done_cycles=done, run=res, report=report,
                     vcd=vcd_path)


# -- first mismatch -----------------------------------------------------------------------------------------
def _tap_words(res: RunResult, widths: list[int]) -> list[list[tuple[int, int]]]:
    """Per tap: (cycle, word) of every handshake, from the testbench's tap records."""
    offsets = np.concatenate([[0], np.cumsum(widths)]).tolist()
    out: list[list[tuple[int, int]]] = [[] for _ in widths]
    for cycle, fire, data in res.taps:
        for i, w in enumerate(widths):
            if (fire >> i) & 1:
                out[i].append((cycle, (data >> offsets[i]) & ((1 << w) - 1)))
    return out


def _stream_of(d: dict[str, Any]) -> StreamType:
    return StreamType(IntType.from_name(d["elem_type"]), tuple(d["shape"]), d["elems_per_word"])


def first_mismatch(graph: DataflowGraph, frames: np.ndarray, rtl_outputs: np.ndarray, *,
                   build_dir: Path, in_valid_prob: float = 1.0, out_ready_prob: float = 1.0,
                   seed: int = 0) -> Mismatch | None:
    """None when ``rtl_outputs`` equals the functional simulator's output; else the first differing block.

    ``build_dir``: the build (``graph`` and the rtl/ emitted from it) that produced ``rtl_outputs``; the debug
    build goes to build_dir/rtlsim_debug and the VCD to build_dir/reports/first_mismatch.vcd.
    """
    from candle_hw.sim.functional import run_dataflow

    frames = _check_frames(graph, frames)
    expected = run_dataflow(graph, frames)
    rtl_outputs = np.asarray(rtl_outputs)
    bad = [k for k in range(len(frames)) if k >= len(rtl_outputs) or not np.array_equal(rtl_outputs[k], expected[k])]
    if not bad:
        return None
    upto = bad[0] + 1
    build_dir = Path(build_dir).resolve()
    rtl = _rtl_dir(build_dir)
    require_stitched(graph, "RTL simulation")
    g = graph
    info = json.loads((rtl / "instances.json").read_text())
    if [i["name"] for i in info] != [nd.name for nd in g.nodes]:
        raise UserError(f"{rtl}: instances.json does not match the graph's stitched nodes; re-emit the RTL")
    design = _design(rtl, build_dir / "rtlsim_debug", trace=True, taps=True)
    sin = g.input_stream
    words = pack_stream(frames[:upto], sin.elem_type, sin.elems_per_word)
    n_out = upto * g.output_stream.words_per_frame
    vcd = build_dir / "reports" / "first_mismatch.vcd"
    vcd.parent.mkdir(parents=True, exist_ok=True)
    res = design.run(words, n_out, in_valid_prob=in_valid_prob, out_ready_prob=out_ready_prob, seed=seed, vcd=vcd,
                     allow_timeout=True, cwd=rtl)
    # one tap per output stream (a DuplicateStreams has several, all carrying its output), in instances.json order
    ports = [(node, p, _stream_of(i["out_stream"])) for node, i in zip(g.nodes, info) for p in range(i.get("out_ports", 1))]
    taps = _tap_words(res, [s.width_bits for _, _, s in ports])
    golden_all = dict(zip((nd.name for nd in g.nodes), run_dataflow(g, frames[:upto], return_all=True)))
    for (node, port, s), got in zip(ports, taps):
        want = pack_stream(golden_all[node.name], s.elem_type, s.elems_per_word)
        name = node.name if node.n_out == 1 else f"{node.name}:{port}"
        for j, w in enumerate(want):
            if j >= len(got) or got[j][1] != w:
                return Mismatch(name, node.kind, j // s.words_per_frame, j % s.words_per_frame,
                                got[j][0] if j < len(got) else None, w, got[j][1] if j < len(got) else None, vcd)
    # Every block's stream matched on the re-run: the difference depends on the stall pattern or the frame count.
    return Mismatch(g.sink.name, g.sink.kind, bad[0], -1, None, 0, None, vcd)
