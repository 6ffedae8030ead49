"""Cycle-level simulator: word-level timing of a stitched dataflow design, and its integer outputs.

``simulate_cycle(graph, frames)`` predicts, for the RTL the compiler emits, when every stream word moves:
per-node first/last activity and initiation interval, network interval and latency, and the maximum
occupancy of every StreamFIFO. Streams follow AXI-Stream ready/valid; nodes with no FIFO between them couple
through their output registers; the testbench drives input every cycle it is accepted and always accepts
output (FINN's rtlsim_performance set-up). The block timing models live in sim/cycle_models.py and are solved
exactly (least fixed point of max-plus constraints, sim/cycle_engine.py) without a per-cycle loop.

No block's timing depends on data, so the values are the functional simulator's (sim/golden.py, frame-batched), and the
schedule is solved for a few frames only: once two consecutive frames repeat the same schedule shifted by
the same number of cycles, every later frame does too, and later frames are extrapolated exactly.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from candle_hw.compile.ir import DataflowGraph, StreamFIFO
from candle_hw.sim.functional import run_dataflow
from candle_hw.sim.cycle_engine import EventSystem, SimulationError
from candle_hw.sim.cycle_models import OutPort, Port, build_node, link, streaming_pattern

__all__ = ["CycleResult", "NodeStats", "simulate_cycle", "simulate_schedule", "SimulationError",
           "stitched_graph", "mean_interval"]


@dataclass(frozen=True)
class NodeStats:
    """Timing of one node in cycles (input/output handshakes of frame 0; ``interval`` in steady state)."""

    first_in: int
    last_in: int
    first_out: int
    last_out: int
    interval: int
    in_words: int
    out_words: int

    @property
    def latency(self) -> int:
        """First input handshake to first output handshake of frame 0."""
        return self.first_out - self.first_in


@dataclass
class CycleResult:
    outputs: np.ndarray
    per_node: dict[str, NodeStats]
    interval_cycles: int
    latency_cycles: int
    fifo_max_occupancy: dict[str, int]  # over the solved frames (sim_frames)
    total_cycles: int
    frame_done_cycles: np.ndarray
    sim_frames: int
    sweeps: int
    runtime_s: float = 0.0
    stream_max_occupancy: dict[str, int] = field(default_factory=dict)
    graph: DataflowGraph | None = None
    fully_periodic: bool = True  # False: frames beyond sim_frames extrapolated from the output's period only

    @property
    def mean_interval_cycles(self) -> float:
        """The interval as sim/cosim/rtlsim.py measures it on the same number of frames."""
        return mean_interval(self.frame_done_cycles)


# -- values -----------------------------------------------------------------------------------------------
def _run_values(graph: DataflowGraph, frames: np.ndarray) -> np.ndarray:
    """The integers every frame produces: the functional simulator's (sim/golden.py per node, batched)."""
    x = np.asarray(frames)
    return run_dataflow(graph, x.reshape((x.shape[0], *graph.input_stream.shape)))


# -- schedule ----------------------------------------------------------------------------------------------
@dataclass
class Schedule:
    """Solved event times of ``frames`` frames: per node its input and output word handshake cycles."""

    frames: int
    in_times: dict[str, np.ndarray]
    out_times: dict[str, np.ndarray]
    sweeps: int


def simulate_schedule(graph: DataflowGraph, frames: int, max_sweeps: int = 20000) -> Schedule:
    sys = EventSystem()
    ports: list[tuple[Port, OutPort]] = [build_node(sys, n, frames) for n in graph.nodes]
    sink_pat = streaming_pattern(graph.output_stream.words_per_frame)
    gaps, cons, _ = sink_pat.tile(frames)
    sink = Port(sys.add_process("sink", gaps), cons)
    for (_, out), (inp, _) in zip(ports, ports[1:]):
        link(sys, out, inp)
    link(sys, ports[-1][1], sink)
    times, sweeps = sys.solve(max_sweeps)
    in_t, out_t = {}, {}
    consumers = [p[0] for p in ports[1:]] + [sink]
    for node, (inp, _), cons_port in zip(graph.nodes, ports, consumers):
        in_t[node.name] = times[inp.proc][inp.events]
        out_t[node.name] = times[cons_port.proc][cons_port.events]
    return Schedule(frames, in_t, out_t, sweeps)


def _periodic(s: Schedule) -> int | None:
    """The per-frame shift if the last two frame steps are identical for every word of every stream."""
    if s.frames < 3:
        return None
    shift = None
    for d in (s.in_times, s.out_times):
        for t in d.values():
            f = t.reshape(s.frames, -1)
            d1, d2 = f[-1] - f[-2], f[-2] - f[-3]
            if not (np.all(d1 == d1[0]) and np.array_equal(d1, d2)):
                return None
            if shift is None:
                shift = int(d1[0])
            elif shift != int(d1[0]):
                return None
    return shift


def _tail_periodic(s: Schedule, sink: str) -> int | None:
    """The completion period if the design's output is periodic and no stream is slower than it.

    A block faster than the bottleneck fills the FIFO behind it a little every frame, so the front of the
    design settles only after many frames; the back pressure it finally meets slows it down to the
    bottleneck's rate without ever starving the bottleneck (its FIFO stays full), so the completions keep
    their period."""
    if s.frames < 3:
        return None
    f = s.out_times[sink].reshape(s.frames, -1)
    d1, d2 = f[-1] - f[-2], f[-2] - f[-3]
    if not (np.all(d1 == d1[0]) and np.array_equal(d1, d2)):
        return None
    period = int(d1[0])
    for d in (s.in_times, s.out_times):
        for t in d.values():
            g = t.reshape(s.frames, -1)
            if np.max(g[-1] - g[-2]) > period:
                return None
    return period


def solve_periodic(graph: DataflowGraph, frames: int, max_sim_frames: int = 4,
                   max_sweeps: int = 20000) -> tuple[Schedule, int, bool]:
    """The schedule solved on as few frames as make it periodic (at most ``max_sim_frames`` unless ``frames``
    is smaller), the period, and whether the whole schedule (not only the output) is periodic."""
    sim = min(frames, 4)
    sink = graph.nodes[-1].name
    while True:
        s = simulate_schedule(graph, sim, max_sweeps)
        shift = _periodic(s)
        if shift is not None:
            return s, shift, True
        if sim >= frames:
            return s, _interval_estimate(s), True
        if sim >= max_sim_frames:
            tail = _tail_periodic(s, sink)
            if tail is not None:
                return s, tail, False
            if sim >= 64:
                raise SimulationError(f"the schedule is not periodic after {sim} frames")
        sim = min(frames, sim * 2)


def _interval_estimate(s: Schedule) -> int:
    last = list(s.out_times.values())[-1].reshape(s.frames, -1)[:, -1]
    return int(last[-1] - last[-2]) if s.frames >= 2 else int(last[-1] - list(s.in_times.values())[0][0] + 1)


def stitched_graph(graph: DataflowGraph) -> DataflowGraph:
    """The graph the RTL emitter builds (compile/emit.py ``stitched``), or the graph itself without it."""
    try:
        from candle_hw.compile.emit import stitched
    except ImportError:
        return graph
    return stitched(graph)


def mean_interval(done: np.ndarray) -> float:
    """sim/cosim/rtlsim.py's interval: mean distance between frame completions, frame 0 excluded if N >= 3."""
    d = np.asarray(done, dtype=np.float64)
    if d.size >= 3:
        return float((d[-1] - d[1]) / (d.size - 2))
    if d.size == 2:
        return float(d[1] - d[0])
    return float("nan")


def _occupancy(writes: np.ndarray, reads: np.ndarray) -> int:
    """Largest number of words held at a write, counting reads strictly before it: a FIFO of this depth
    accepts every write at the same cycle (fifo.sv frees a slot one cycle after the read)."""
    if writes.size == 0:
        return 0
    read_by = np.searchsorted(reads, writes, side="left")
    return int(np.max(np.arange(1, writes.size + 1) - read_by))


def simulate_cycle(graph: DataflowGraph, frames: np.ndarray | int, max_sweeps: int = 20000,
                   stitch: bool = True) -> CycleResult:
    """Run ``frames`` (element values, (N, *input shape)) or just time N frames when given an int.

    With ``stitch`` the graph is first completed exactly as the RTL emitter completes it (width converters
    where words differ, default FIFOs when it has none), so the prediction is for the emitted design.

    ``max_sweeps`` bounds the solver (SimulationError beyond it): designs whose FIFOs are far too small
    settle slowly, because each sweep resolves one more round of stalls between two blocks.
    """
    t0 = time.perf_counter()
    if stitch:
        graph = stitched_graph(graph)
    if isinstance(frames, (int, np.integer)):
        n, outputs = int(frames), np.empty((0,), dtype=np.int64)
    else:
        outputs = _run_values(graph, frames)
        n = outputs.shape[0]
    if n < 1:
        raise ValueError("simulate_cycle needs at least one frame")
    s, shift, exact = solve_periodic(graph, n, max_sweeps=max_sweeps)
    per_node, occ, stream_occ = {}, {}, {}
    for node in graph.nodes:
        ti, to = s.in_times[node.name], s.out_times[node.name]
        wi, wo = node.in_stream().words_per_frame, node.out_stream().words_per_frame
        per_node[node.name] = NodeStats(int(ti[0]), int(ti[wi - 1]), int(to[0]), int(to[wo - 1]), shift, wi, wo)
        stream_occ[node.name] = _occupancy(ti, to) if isinstance(node, StreamFIFO) else 0
        if isinstance(node, StreamFIFO):
            occ[node.name] = stream_occ[node.name]
    first = graph.nodes[0].name
    done = s.out_times[graph.nodes[-1].name].reshape(s.frames, -1)[:, -1]
    if n > s.frames:
        done = np.concatenate([done, done[-1] + shift * np.arange(1, n - s.frames + 1)])
    start = int(s.in_times[first][0])
    latency = int(done[0]) - start + 1
    return CycleResult(
        outputs=outputs, per_node=per_node, interval_cycles=shift, latency_cycles=latency,
        fifo_max_occupancy=occ, total_cycles=int(done[-1]) - start + 1, frame_done_cycles=done - start,
        sim_frames=s.frames, sweeps=s.sweeps, runtime_s=time.perf_counter() - t0,
        stream_max_occupancy=stream_occ, graph=graph, fully_periodic=exact,
    )
