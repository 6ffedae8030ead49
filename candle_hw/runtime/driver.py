"""``Board``: numpy in, numpy out through a board shell (or its whole-system simulation).

``Board(build, port, board)`` opens the port ("sim" or a serial device), asks the shell for INFO and refuses a
shell built from another build (its BUILD_HASH) or with other frame sizes. ``execute(x)`` takes the model's
input tensor and returns its output tensor exactly as ``candle-hw simulate`` does (host prologue -> stream
words -> wire bytes -> board -> wire bytes -> words -> host epilogue). Frames are pipelined: up to ``window``
requests are outstanding (as many as the shell's input FIFO holds, so it can never overflow: the UART has no
flow control); an ERROR reply or a missing answer makes the frame go again (``retries`` times at most).
Every result carries the hardware's cycle count of its completion; ``measure(x)`` sends a burst of frames
queued back to back and reads the network's interval and latency as the hardware counted them.
"""
from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from candle_hw.compile.board import ShellParams, get_board, shell_params
from candle_hw.compile.ir import DataflowGraph
from candle_hw.errors import UserError
from candle_hw.runtime import protocol as P
from candle_hw.sim.packing import pack_stream, pack_wire, unpack_stream, unpack_wire


class BoardError(UserError):
    """No shell answers, the shell belongs to another build, or a frame stays unanswered."""


@dataclass
class RunStats:
    frames: int = 0
    seconds: float = 0.0                  # board time (simulated time for --port sim)
    retries: int = 0
    error_replies: dict[str, int] = field(default_factory=dict)
    done_cycles: list[int] = field(default_factory=list)   # hardware timestamps of completions, in frame order
    bytes_per_frame: int = 0              # host -> board, framing included
    line_bound_fps: float = 0.0           # baud / 10 / bytes_per_frame

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class Board:
    def __init__(self, build: str | Path, port: str, board: str = "icebreaker", *, timeout: float | None = None,
                 retries: int = 5, window: int | None = None, params: ShellParams | None = None,
                 progress: bool = False) -> None:
        self.build = Path(build)
        self.graph = DataflowGraph.load(self.build)
        self.board = get_board(board)
        if self.board.get("link") != "uart":
            raise UserError(f"--board {board}: not a UART board; on a Zynq board use candle_hw.runtime.pynq")
        self.params = params or shell_params(self.build, self.board)
        self.retries = retries
        self.progress = progress
        if port == "sim":
            from candle_hw.runtime.simport import SimTransport

            self.port = SimTransport(self.build, self.params, self.board)
        else:
            from candle_hw.runtime.transport import SerialTransport

            self.port = SerialTransport(port, int(self.board["baud"]))
        self.frame_s = (self.params.in_bytes + P.OVERHEAD) * 10 / self.board["baud"]
        fifo = 2 ** self.params.in_aw - 1
        self.window = window or max(1, min(64, fifo // self.params.in_bytes))
        self.timeout = timeout or self._default_timeout()
        self.reader = P.ReplyReader()
        self.next_id = 0
        try:
            self.info_reply = self.check()
        except BaseException:
            self.port.close()  # no simulator process or open port left behind a refused board
            raise

    def _default_timeout(self) -> float:
        """Time to drain a full window: line time or the estimated network interval per frame, times 4."""
        est = self.build / "reports" / "estimate_network_performance.json"
        ii = 0.0
        if est.exists():
            ii = json.loads(est.read_text()).get("critical_path_cycles", 0) / (self.board["clock_mhz"] * 1e6)
        return 0.05 + 4 * (self.window + 1) * max(self.frame_s, ii)

    def close(self) -> None:
        self.port.close()

    def __enter__(self) -> "Board":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------------------------
    def _ident(self) -> int:
        self.next_id = (self.next_id + 1) & 0xFF
        return self.next_id

    def _replies(self, timeout: float) -> tuple[bool, list[P.Reply]]:
        """(whether any byte came within ``timeout``, the replies it completed)."""
        data = self.port.read(self.reader.need(), timeout)
        return bool(data), (self.reader.feed(data) if data else [])

    def info(self) -> P.Info:
        for _ in range(self.retries + 1):
            ident = self._ident()
            self.port.write(P.request(P.INFO, ident))
            for r in self._drain_until(lambda r: r.typ == P.R_INFO and r.ident == ident, self.timeout):
                return P.Info.parse(r.payload)
        raise BoardError(f"--port {self.port.name}: no candle-hw shell answers (INFO asked {self.retries + 1} "
                         f"times, {self.timeout:.2f} s each); is BUILD's bitstream flashed and the port right?")

    def _drain_until(self, want, timeout: float):
        """Replies until one satisfies ``want`` (yielded) or the line stays quiet for ``timeout``."""
        while True:
            alive, got = self._replies(timeout)
            if not alive:
                self.reader.buf.clear()  # the rest of a reply that will never come
                return
            for r in got:
                if want(r):
                    yield r
                    return

    def check(self) -> P.Info:
        info = self.info()
        p = self.params
        if info.build_hash != p.build_hash:
            raise BoardError(f"the board's shell has build hash {info.build_hash:#010x}, {self.build} has "
                             f"{p.build_hash:#010x}: flash this build's bitstream (candle-hw bitstream "
                             f"{self.build} --board {self.board['name']})")
        if (info.in_bytes, info.out_bytes) != (p.in_bytes, p.out_bytes):
            raise BoardError(f"the board's shell takes {info.in_bytes} B and returns {info.out_bytes} B per frame, "
                             f"{self.build} needs {p.in_bytes} B and {p.out_bytes} B")
        return info

    # -- frames -----------------------------------------------------------------------------------------
    def run_payloads(self, payloads: list[bytes], *, queue: bool = False) -> tuple[list[bytes], RunStats]:
        """Send wire frames, return each frame's result payload in order (see module doc). ``queue``: all but
        the last go as QUEUE, so the network takes them back to back (needs len(payloads) <= window)."""
        n = len(payloads)
        if queue and n > self.window:
            raise UserError(f"a measured burst of {n} frames exceeds the shell's window of {self.window}")
        stats = RunStats(frames=n, bytes_per_frame=self.params.in_bytes + P.OVERHEAD,
                         line_bound_fps=self.board["baud"] / 10 / (self.params.in_bytes + P.OVERHEAD))
        results: dict[int, bytes] = {}
        tries = [0] * n
        todo = deque(range(n))
        pending: dict[int, int] = {}
        bar = _progress(n, self.progress)
        t0 = self.port.now()
        while len(results) < n:
            while todo and len(pending) < self.window:
                k = todo.popleft()
                ident = self._ident()
                # a frame sent again goes as INFER: a QUEUE after the burst's INFER would hold the network
                typ = P.QUEUE if queue and k != n - 1 and not tries[k] else P.INFER
                self.port.write(P.request(typ, ident, payloads[k]))
                pending[ident] = k
            alive, got = self._replies(self.timeout)
            if not alive:
                self._resend_all(pending, todo, tries, stats)
                continue
            for r in got:
                k = pending.pop(r.ident, None)
                if k is None:
                    continue  # a stale duplicate or an answer to something already retried
                if r.typ == P.R_RESULT:
                    results[k] = r.payload
                    bar.update(1)
                elif r.typ == P.R_ERROR:
                    what = P.ERRORS.get(r.payload[0] if r.payload else 0, "unknown")
                    stats.error_replies[what] = stats.error_replies.get(what, 0) + 1
                    self._again(k, todo, tries, stats)
        stats.seconds = self.port.now() - t0
        bar.close()
        out = [results[k] for k in range(n)]
        ob = self.params.out_bytes
        stats.done_cycles = [int.from_bytes(r[ob:ob + P.TIMESTAMP_BYTES], "little") for r in out]
        return [r[:ob] for r in out], stats

    def _again(self, k: int, todo: deque, tries: list[int], stats: RunStats) -> None:
        tries[k] += 1
        stats.retries += 1
        if tries[k] > self.retries:
            raise BoardError(f"frame {k}: no result after {self.retries} retries (see the error replies: "
                             f"{stats.error_replies or 'none'})")
        todo.appendleft(k)

    def _resend_all(self, pending: dict[int, int], todo: deque, tries: list[int], stats: RunStats) -> None:
        """Nothing came for a whole timeout: let the board drain (taking any late result), then send again
        every frame still unanswered."""
        for _ in self._drain_until(lambda r: False, self.timeout):
            pass
        for k in sorted(pending.values(), reverse=True):
            self._again(k, todo, tries, stats)
        pending.clear()

    # -- tensors ----------------------------------------------------------------------------------------
    def execute_frames(self, frames: np.ndarray, **kw) -> tuple[np.ndarray, RunStats]:
        """Dataflow input frames (N, *input_stream.shape) -> output frames, through the board."""
        g, p = self.graph, self.params
        sin, sout = g.input_stream, g.output_stream
        data = pack_wire(pack_stream(frames, sin.elem_type, sin.elems_per_word), p.s_w, p.in_words)
        payloads = [data[i * p.in_bytes:(i + 1) * p.in_bytes] for i in range(len(frames))]
        outs, stats = self.run_payloads(payloads, **kw)
        words = unpack_wire(b"".join(outs), p.m_w, p.out_words)
        y = unpack_stream(words, sout.elem_type, sout.elems_per_word, (len(frames), *sout.shape))
        return y, stats

    def execute(self, x: np.ndarray, batch: int = 256) -> tuple[np.ndarray, RunStats]:
        """The model's input tensor -> its output tensor (as `candle-hw simulate`), in batches of ``batch``."""
        from candle_hw.sim.host import run_epilogue, run_prologue

        frames = run_prologue(self.graph, x)
        ys, total = [], RunStats()
        for i in range(0, len(frames), batch):
            y, st = self.execute_frames(frames[i:i + batch])
            ys.append(y)
            total.frames += st.frames
            total.seconds += st.seconds
            total.retries += st.retries
            for k, v in st.error_replies.items():
                total.error_replies[k] = total.error_replies.get(k, 0) + v
            total.done_cycles += st.done_cycles
            total.bytes_per_frame, total.line_bound_fps = st.bytes_per_frame, st.line_bound_fps
        return run_epilogue(self.graph, np.concatenate(ys)), total

    def measure(self, frames: np.ndarray) -> dict[str, float]:
        """Hardware-counted interval and latency of a back-to-back burst of ``frames`` (at most ``window``)."""
        y, st = self.execute_frames(frames, queue=True)
        info = self.info()
        d = st.done_cycles
        res = {"frames": len(d), "latency_cycles": d[0] - info.burst_start + 1}
        if len(d) >= 3:
            res["interval_cycles"] = (d[-1] - d[1]) / (len(d) - 2)
        elif len(d) == 2:
            res["interval_cycles"] = float(d[1] - d[0])
        return res


def _progress(n: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=n, unit="frame", disable=not enabled, leave=False)
