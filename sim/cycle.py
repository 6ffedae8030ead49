"""Cycle-level simulator: the words of a stitched dataflow design, and the cycle at which each one moves.

``simulate_cycle(graph, frames)`` predicts, for the RTL the compiler emits from ``graph``, when every stream word
moves: per-node first/last activity and initiation interval, network interval and latency, and the maximum
occupancy of every StreamFIFO. Streams follow AXI-Stream ready/valid; nodes with no FIFO between them couple
through their output registers; the testbench drives input every cycle it is accepted and always accepts
output (FINN's rtlsim_performance set-up). The block timing models live in sim/cycle_models.py and are solved
exactly (least fixed point of max-plus constraints, sim/cycle_engine.py) without a per-cycle loop.

The data: the input frames are packed into words (sim/packing.py) and every block model (sim/cycle_streams.py)
turns the words its upstream block emitted into the words it emits, in the RTL's order and grouping; the
outputs are the last block's words unpacked. With ``check`` every block's word sequence is compared with the
functional simulator's output of that node, packed the same way, and the first block that differs is named
with the word and its cycle (``CycleResult.mismatch``).

No block's timing depends on data, so the schedule is solved for a few frames only: once two consecutive
frames repeat the same schedule shifted by the same number of cycles, every later frame does too, and later
frames are extrapolated exactly. The graph must be stitched (pipeline step "stitch"): the simulator models
the design exactly as given and refuses one whose adjacent blocks exchange words of different sizes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from candle_hw.compile.ir import DataflowGraph, DuplicateStreams, Edge, StreamFIFO, require_stitched
from candle_hw.errors import UserError
from candle_hw.sim.cycle_deadlock import explain_deadlock
from candle_hw.sim.cycle_engine import DeadlockError, EventSystem, SimulationError
from candle_hw.sim.cycle_models import Port, Wire, build_block, connect, streaming_pattern
from candle_hw.sim.cycle_streams import block_words, lanes
from candle_hw.sim.functional import batch_chunk, run_node
from candle_hw.sim.packing import decode, lanes_to_words

__all__ = ["CycleResult", "NodeStats", "WordMismatch", "simulate_cycle", "simulate_schedule", "SimulationError",
           "DeadlockError", "mean_interval"]


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


@dataclass(frozen=True)
class WordMismatch:
    """The first block whose output words differ from the functional simulator's output of that node."""

    node: str
    kind: str
    frame: int
    word: int          # index of the word within that block's output frame
    cycle: int | None  # cycle the word leaves the block, from the first input handshake (None: no such word)
    expected: int | None
    got: int | None

    def __str__(self) -> str:
        def show(w: int | None) -> str:
            return "nothing" if w is None else f"{w:#x}"

        when = "" if self.cycle is None else f" at cycle {self.cycle}"
        return (f"{self.node} ({self.kind}): first difference in frame {self.frame}, output word {self.word}"
                f"{when}: expected {show(self.expected)}, got {show(self.got)}")


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
    mismatch: WordMismatch | None = None  # with check: the first block whose words differ from the functional sim

    @property
    def mean_interval_cycles(self) -> float:
        """The interval as sim/cosim/rtlsim.py measures it on the same number of frames."""
        return mean_interval(self.frame_done_cycles)


# -- schedule ----------------------------------------------------------------------------------------------
@dataclass
class Schedule:
    """Solved event times of ``frames`` frames: per node the handshake cycles of the words entering its input
    port 0 and leaving its output port 0 (taken by the consumer; the sink's by the testbench), and per edge
    those of the words on it."""

    frames: int
    in_times: dict[str, np.ndarray]
    out_times: dict[str, np.ndarray]
    sweeps: int
    edge_times: dict[Edge, np.ndarray] = field(default_factory=dict)


def simulate_schedule(graph: DataflowGraph, frames: int, max_sweeps: int = 20000, explain: bool = True) -> Schedule:
    """The event system of ``graph`` for ``frames`` frames, solved. A deadlock (DeadlockError) of a branching
    graph is ``explain``ed: the branch whose FIFOs are too small is named (a few more solves)."""
    sys = EventSystem()
    blocks = {n.name: build_block(sys, n, frames) for n in graph.nodes}
    gaps, cons, _ = streaming_pattern(graph.output_stream.words_per_frame).tile(frames)
    sink = Port(sys.add_process("sink", gaps), cons)
    wires: dict[tuple[str, int], Wire] = {}
    taken: dict[Edge, Port] = {}
    for node in graph.nodes:  # topological: every edge's producer is wired before its consumer
        ins = blocks[node.name].ins
        for e in graph.in_edges(node.name):
            connect(sys, wires[(e.src, e.src_port)], ins[e.dst_port])
            taken[e] = ins[e.dst_port]
        if isinstance(node, DuplicateStreams):
            ups = graph.in_edges(node.name)
            # the graph's source reads the testbench, which offers every word at once: nothing holds the words
            wire = wires[(ups[0].src, ups[0].src_port)] if ups else Wire(None)
            for p in range(node.n_out):
                wires[(node.name, p)] = wire.through(ins[0])
        else:
            for p, out in enumerate(blocks[node.name].outs):
                wires[(node.name, p)] = Wire(out)
    sink_name = graph.sink.name
    connect(sys, wires[(sink_name, 0)], sink)
    try:
        times, sweeps = sys.solve(max_sweeps)
    except DeadlockError as exc:
        if not explain:
            raise
        raise DeadlockError(f"{exc}{_blocked_hint(graph, frames, max_sweeps)}") from None
    edge_t = {e: times[p.proc][p.events] for e, p in taken.items()}
    in_t, out_t = {}, {}
    for node in graph.nodes:
        inp = blocks[node.name].ins[0]
        in_t[node.name] = times[inp.proc][inp.events]
        outs = graph.out_edges(node.name)
        out_t[node.name] = edge_t[outs[0]] if outs else times[sink.proc][sink.events]
    return Schedule(frames, in_t, out_t, sweeps, edge_t)


def _blocked_hint(graph: DataflowGraph, frames: int, max_sweeps: int) -> str:
    def fills(g: DataflowGraph) -> dict[str, int] | None:
        try:
            sch = simulate_schedule(g, frames, max_sweeps, explain=False)
        except SimulationError:
            return None
        return {n.name: _occupancy(sch.in_times[n.name], sch.out_times[n.name])
                for n in g.nodes if isinstance(n, StreamFIFO)}

    return explain_deadlock(graph, fills)


def _periodic(s: Schedule) -> int | None:
    """The per-frame shift if the last two frame steps are identical for every word of every stream."""
    if s.frames < 3:
        return None
    shift = None
    for d in (s.in_times, s.out_times, s.edge_times):
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
    for d in (s.in_times, s.out_times, s.edge_times):
        for t in d.values():
            g = t.reshape(s.frames, -1)
            if np.max(g[-1] - g[-2]) > period:
                return None
    return period


def solve_periodic(graph: DataflowGraph, frames: int, max_sim_frames: int = 4,
                   max_sweeps: int = 20000, explain: bool = True) -> tuple[Schedule, int, bool]:
    """The schedule solved on as few frames as make it periodic (at most ``max_sim_frames`` unless ``frames``
    is smaller), the period, and whether the whole schedule (not only the output) is periodic."""
    sim = min(frames, 4)
    sink = graph.sink.name
    while True:
        s = simulate_schedule(graph, sim, max_sweeps, explain)
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
    """The stored order is topological with one source and one sink: the sink is last, the source first."""
    last = list(s.out_times.values())[-1].reshape(s.frames, -1)[:, -1]
    return int(last[-1] - last[-2]) if s.frames >= 2 else int(last[-1] - list(s.in_times.values())[0][0] + 1)


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


# -- data ------------------------------------------------------------------------------------------------
def _word_cycle(s: Schedule, shift: int, node: str, words_per_frame: int, index: int, start: int) -> int:
    """Cycle at which word ``index`` of ``node``'s output leaves it (frames beyond the solved ones shifted by
    the period)."""
    t = s.out_times[node]
    frame, w = divmod(index, words_per_frame)
    if frame < s.frames:
        return int(t[index]) - start
    return int(t[(s.frames - 1) * words_per_frame + w]) + shift * (frame - s.frames + 1) - start


def _first_word_difference(got: np.ndarray, want: np.ndarray) -> int | None:
    n = min(len(got), len(want))
    bad = np.flatnonzero(np.any(got[:n] != want[:n], axis=1)) if got.shape[1:] == want.shape[1:] else [0]
    if len(bad):
        return int(bad[0])
    return None if len(got) == len(want) else n


def _mismatch(graph: DataflowGraph, node_idx: int, got: np.ndarray, want: np.ndarray, index: int,
              offset: int, when) -> WordMismatch:
    node = graph.nodes[node_idx]
    s = node.out_stream()
    wpf, bits = s.words_per_frame, s.elem_type.bits
    word = offset + index

    def word_at(a: np.ndarray) -> int | None:
        return lanes_to_words(a[index:index + 1], bits)[0] if index < len(a) and a.shape[1:] == (s.elems_per_word,) \
            else None

    cycle = when(node.name, wpf, word) if index < len(got) else None
    return WordMismatch(node.name, node.kind, word // wpf, word % wpf, cycle, word_at(want), word_at(got))


def _last_uses(graph: DataflowGraph) -> dict[str, int]:
    """Node name -> index (stored order) of the last node reading its output."""
    order = {n.name: i for i, n in enumerate(graph.nodes)}
    last: dict[str, int] = {}
    for e in graph.edges:
        last[e.src] = max(last.get(e.src, -1), order[e.dst])
    return last


def _run_words(graph: DataflowGraph, frames: np.ndarray, check: bool, when) -> tuple[np.ndarray, WordMismatch | None]:
    """Every frame's words through every block model, chunk by chunk (sim/functional.py's working-memory bound),
    node after node in the stored (topological) order, each on the words its producers emitted along its
    edges (a block's words are kept until its last consumer has read them); returns the sink's words and,
    with ``check``, the first block whose words differ from the functional simulator's output of the same
    node (fed, like the functional simulator, with its producers' functional outputs)."""
    outs, first = [], None
    step = batch_chunk(graph)
    last_use = _last_uses(graph)
    for f0 in range(0, len(frames), step):
        x = frames[f0:f0 + step]
        n = len(x)
        try:
            words_in = lanes(x, graph.input_stream)
        except ValueError as exc:
            raise UserError(f"cycle simulation: the input frames do not fit the input stream: {exc}") from None
        words: dict[str, np.ndarray] = {}
        refs: dict[str, np.ndarray] = {}
        for k, node in enumerate(graph.nodes):
            srcs = [e.src for e in graph.in_edges(node.name)]
            got = block_words(graph, node, [words[s] for s in srcs] or [words_in], n)
            if check and first is None:
                ref = run_node(graph, node, *([refs[s] for s in srcs] or [x]))
                refs[node.name] = ref
                want = lanes(ref, node.out_stream())
                bad = _first_word_difference(got, want)
                if bad is not None:
                    first = _mismatch(graph, k, got, want, bad, f0 * node.out_stream().words_per_frame, when)
                    if got.shape != want.shape:  # the blocks after it cannot even read its stream
                        raise SimulationError(f"cycle simulation: {first}")
            for s in srcs:
                if last_use[s] == k:
                    words.pop(s, None)
                    refs.pop(s, None)
            words[node.name] = got
        outs.append(words[graph.sink.name])
    return np.concatenate(outs), first


def simulate_cycle(graph: DataflowGraph, frames: np.ndarray | int, max_sweeps: int = 20000,
                   check: bool = True, explain: bool = True) -> CycleResult:
    """Run ``frames`` (element values, (N, *input shape)) or just time N frames when given an int.

    The graph must be stitched (pipeline step "stitch"); it is simulated exactly as given. With ``check`` (and
    frames given as values) every block's words are compared with the functional simulator's (see the
    module docstring); ``check=False`` runs the words through the blocks only.

    ``max_sweeps`` bounds the solver (SimulationError beyond it): designs whose FIFOs are far too small
    settle slowly, because each sweep resolves one more round of stalls between two blocks. A deadlock is
    proven sooner (DeadlockError, once an event passes sim/cycle_engine.py's bound); with ``explain`` the
    message of a branching design names the branch whose FIFOs are too small.
    """
    t0 = time.perf_counter()
    require_stitched(graph, "cycle simulation")
    values = not isinstance(frames, (int, np.integer))
    if values:
        x = np.asarray(frames)
        n = x.shape[0] if x.ndim else 0
        if n and int(np.prod(x.shape[1:])) != graph.input_stream.num_elems:
            raise UserError(f"cycle simulation: frames of shape {x.shape} do not match the dataflow input "
                            f"(N, {', '.join(map(str, graph.input_stream.shape))})")
    else:
        n = int(frames)
    if n < 1:
        raise ValueError("simulate_cycle needs at least one frame")
    s, shift, exact = solve_periodic(graph, n, max_sweeps=max_sweeps, explain=explain)
    start = int(s.in_times[graph.source.name][0])
    outputs, mismatch = np.empty((0,), dtype=np.int64), None
    if values:
        def when(node: str, wpf: int, index: int) -> int:
            return _word_cycle(s, shift, node, wpf, index, start)

        out_words, mismatch = _run_words(graph, x.reshape(n, *graph.input_stream.shape), check, when)
        so = graph.output_stream
        outputs = decode(out_words, so.elem_type).reshape(n, *so.shape)
    per_node, occ, stream_occ = {}, {}, {}
    for node in graph.nodes:
        ti, to = s.in_times[node.name], s.out_times[node.name]
        wi, wo = node.in_stream().words_per_frame, node.out_stream().words_per_frame
        per_node[node.name] = NodeStats(int(ti[0]), int(ti[wi - 1]), int(to[0]), int(to[wo - 1]), shift, wi, wo)
        stream_occ[node.name] = _occupancy(ti, to) if isinstance(node, StreamFIFO) else 0
        if isinstance(node, StreamFIFO):
            occ[node.name] = stream_occ[node.name]
    done = s.out_times[graph.sink.name].reshape(s.frames, -1)[:, -1]
    if n > s.frames:
        done = np.concatenate([done, done[-1] + shift * np.arange(1, n - s.frames + 1)])
    latency = int(done[0]) - start + 1
    return CycleResult(
        outputs=outputs, per_node=per_node, interval_cycles=shift, latency_cycles=latency,
        fifo_max_occupancy=occ, total_cycles=int(done[-1]) - start + 1, frame_done_cycles=done - start,
        sim_frames=s.frames, sweeps=s.sweeps, runtime_s=time.perf_counter() - t0,
        stream_max_occupancy=stream_occ, graph=graph, fully_periodic=exact, mismatch=mismatch,
    )
