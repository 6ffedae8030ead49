"""Per-block timing models for the cycle-level simulator, one per RTL block in hw_templates/.

Each model turns one IR node into processes and constraints of the event solver (sim/cycle_engine.py):
- ``Pattern``: the events of one frame of one process: ``gaps`` (cycles after the previous event; gaps[0]
  counts from the previous frame's last event), ``cons[w]`` (event accepting input word w), ``prod[k]`` (event
  emitting output word k).
- ``BlockTiming``: the block's output latency (cycles from the emitting event to m_tvalid), its output
  capacity (words it can hold un-accepted before it stalls) and ``free`` (0 when a slot freed by an output
  handshake can be refilled in the same cycle, 1 when one cycle later).
The numbers in ``TIMING`` are the blocks' documented timing (header comments of hw_templates/<block>/<block>.sv),
checked against Verilator traces by tests/sim/test_cycle_rtl.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from candle_hw.compile.ir import (
    LabelSelect, MatrixVectorUnit, MaxPool, Node, SlidingWindow, StreamFIFO, Thresholding, WidthConverter,
)
from candle_hw.sim.cycle_engine import EventSystem


@dataclass(frozen=True)
class BlockTiming:
    latency: int
    capacity: int
    free: int = 0


TIMING: dict[str, BlockTiming] = {
    "MatrixVectorUnit": BlockTiming(latency=2, capacity=2),
    "Thresholding": BlockTiming(latency=1, capacity=2),
    "SlidingWindow": BlockTiming(latency=1, capacity=2),
    "MaxPool": BlockTiming(latency=1, capacity=2),
    "LabelSelect": BlockTiming(latency=1, capacity=1),
    "WidthConverter": BlockTiming(latency=1, capacity=2),
    "StreamFIFO": BlockTiming(latency=1, capacity=0),  # capacity = depth, set per node
    "Sink": BlockTiming(latency=0, capacity=1),
}


@dataclass
class Pattern:
    gaps: np.ndarray
    cons: np.ndarray
    prod: np.ndarray

    def tile(self, frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        e = self.gaps.size
        off = (np.arange(frames, dtype=np.int64) * e)[:, None]
        return (np.tile(self.gaps, frames), (self.cons[None, :] + off).ravel(), (self.prod[None, :] + off).ravel())


@dataclass
class Port:
    proc: int
    events: np.ndarray  # event index per word, all frames


@dataclass
class OutPort(Port):
    timing: BlockTiming


def _i64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


# -- per-frame event patterns ---------------------------------------------------------------------------
def mvu_pattern(n: MatrixVectorUnit) -> Pattern:
    """Per vector: SF accepting steps (fold 0, emitting output 0 on the last), then NF-1 folds of SF steps each
    re-reading the buffered vector and emitting one output word at the fold's last step."""
    sf, nf, v = n.sf, n.nf, n.vectors
    per_vec = sf + nf - 1
    gaps = np.ones((v, per_vec), dtype=np.int64)
    gaps[:, sf:] = sf
    base = (np.arange(v, dtype=np.int64) * per_vec)[:, None]
    cons = (base + np.arange(sf)).ravel()
    prod = (base + np.concatenate(([sf - 1], sf + np.arange(nf - 1)))).ravel()
    return Pattern(gaps.ravel(), cons, prod)


def streaming_pattern(words: int) -> Pattern:
    """One event per word, accepting and emitting it (thresholding, FIFO, sink)."""
    idx = np.arange(words, dtype=np.int64)
    return Pattern(np.ones(words, dtype=np.int64), idx, idx)


def maxpool_pattern(n: MaxPool) -> Pattern:
    """One event per input word; the word completing a window (its bottom-right pixel) emits that output."""
    h, w = n.ifm_dim
    oh, ow = n.ofm_dim
    cf = n.channels // n.pe
    k, s = n.kernel, n.stride
    oy, ox, c = np.meshgrid(np.arange(oh), np.arange(ow), np.arange(cf), indexing="ij")
    prod = (((oy * s + k - 1) * w + (ox * s + k - 1)) * cf + c).ravel()
    return Pattern(np.ones(h * w * cf, dtype=np.int64), np.arange(h * w * cf, dtype=np.int64), _i64(prod))


def label_select_pattern(n: LabelSelect) -> Pattern:
    """Accept labels/pe words, then emit the k indices one per cycle."""
    words = n.labels // n.pe
    gaps = np.ones(words + n.k, dtype=np.int64)
    return Pattern(gaps, np.arange(words, dtype=np.int64), words + np.arange(n.k, dtype=np.int64))


def width_converter_pattern(n: WidthConverter) -> Pattern:
    """Greedy converter: each cycle accepts one input word if the buffer (in + out elements) has room and
    emits one output word if it holds enough elements."""
    a, b = n.in_elems, n.out_elems
    total = int(np.prod(n.shape))
    n_in, n_out = total // a, total // b
    cons, prod = np.empty(n_in, dtype=np.int64), np.empty(n_out, dtype=np.int64)
    held, i, o, e = 0, 0, 0, 0
    cap = a + b - np.gcd(a, b)
    while o < n_out:
        took = False
        if i < n_in and held + a <= cap:
            cons[i], held, i, took = e, held + a, i + 1, True
        if held >= b:
            prod[o], held, o = e, held - b, o + 1
        elif not took:
            raise AssertionError("width converter model stalled")
        e += 1
    return Pattern(np.ones(e, dtype=np.int64), cons, prod)


# -- sliding window: a writer and a reader process --------------------------------------------------------
def swg_need_and_free(n: SlidingWindow) -> tuple[np.ndarray, np.ndarray]:
    """need[k]: last input word that output word k waits for (its window's newest pixel, same fold);
    last_use[w]: last output word reading input word w (cumulative max, so it is monotone)."""
    h, w = n.ifm_dim
    oh, ow = n.ofm_dim
    k, s, p = n.kernel, n.stride, n.pad
    cf = n.channels // n.simd
    oy = np.arange(oh)[:, None]
    ox = np.arange(ow)[None, :]
    ny = np.clip(oy * s - p + k - 1, 0, h - 1)
    nx = np.clip(ox * s - p + k - 1, 0, w - 1)
    newest = (ny * w + nx) * cf + cf - 1  # last word of the newest pixel of each window
    need = np.repeat(newest.reshape(-1), k * k * cf)
    iy, ix = np.arange(h)[:, None], np.arange(w)[None, :]
    ly = np.minimum((iy + p) // s, oh - 1)
    lx = np.minimum((ix + p) // s, ow - 1)
    ky = iy - (ly * s - p)
    kx = ix - (lx * s - p)
    inside = (ky >= 0) & (ky < k) & (kx >= 0) & (kx < k)
    last_out = (((ly * ow + lx) * k * k + np.clip(ky, 0, k - 1) * k + np.clip(kx, 0, k - 1)) * cf)
    last_out = np.where(inside, last_out, -1)
    last_use = (last_out[:, :, None] + np.arange(cf)[None, None, :]).reshape(-1)
    last_use = np.where(np.repeat(inside.reshape(-1), cf), last_use, -1)
    return _i64(need), np.maximum.accumulate(_i64(last_use))


def swg_buffer_words(n: SlidingWindow) -> int:
    """Input words the SWG buffer holds: k full input rows plus one pixel (line buffer)."""
    return (n.kernel * n.ifm_dim[1] + 1) * (n.channels // n.simd)


# -- building the event system --------------------------------------------------------------------------
def _single(sys: EventSystem, name: str, pat: Pattern, frames: int, timing: BlockTiming) -> tuple[Port, OutPort]:
    gaps, cons, prod = pat.tile(frames)
    p = sys.add_process(name, gaps)
    return Port(p, cons), OutPort(p, prod, timing)


def build_node(sys: EventSystem, node: Node, frames: int) -> tuple[Port, OutPort]:
    t = TIMING[node.kind]
    if isinstance(node, MatrixVectorUnit):
        return _single(sys, node.name, mvu_pattern(node), frames, t)
    if isinstance(node, Thresholding):
        return _single(sys, node.name, streaming_pattern(node.in_stream().words_per_frame), frames, t)
    if isinstance(node, StreamFIFO):
        ft = BlockTiming(t.latency, node.depth, t.free)
        return _single(sys, node.name, streaming_pattern(node.stream.words_per_frame), frames, ft)
    if isinstance(node, MaxPool):
        return _single(sys, node.name, maxpool_pattern(node), frames, t)
    if isinstance(node, LabelSelect):
        return _single(sys, node.name, label_select_pattern(node), frames, t)
    if isinstance(node, WidthConverter):
        return _single(sys, node.name, width_converter_pattern(node), frames, t)
    if isinstance(node, SlidingWindow):
        return _build_swg(sys, node, frames, t)
    raise NotImplementedError(f"{node.name}: no cycle model for {node.kind}")


def _build_swg(sys: EventSystem, n: SlidingWindow, frames: int, t: BlockTiming) -> tuple[Port, OutPort]:
    n_in, n_out = n.in_stream().words_per_frame, n.out_stream().words_per_frame
    need, last_use = swg_need_and_free(n)
    wr = sys.add_process(n.name + ".write", np.ones(n_in * frames, dtype=np.int64))
    rd = sys.add_process(n.name + ".read", np.ones(n_out * frames, dtype=np.int64))
    f_in = (np.arange(frames, dtype=np.int64) * n_in)[:, None]
    f_out = (np.arange(frames, dtype=np.int64) * n_out)[:, None]
    # a window is read once its newest word is written (one cycle through the buffer RAM)
    sys.add_constraint(rd, np.arange(n_out * frames), wr, (need[None, :] + f_in).ravel(), 1)
    # a buffer slot is rewritten only after its last reader; later frames also wait for the previous frame
    buf = swg_buffer_words(n)
    w_all = np.arange(n_in * frames, dtype=np.int64)
    old = w_all - buf
    frame_of_old = np.floor_divide(old, n_in)
    lu = last_use[np.mod(old, n_in)] + frame_of_old * n_out
    ok = (old >= 0) & (last_use[np.mod(old, n_in)] >= 0)
    sys.add_constraint(wr, w_all[ok], rd, lu[ok], 1)
    return Port(wr, w_all), OutPort(rd, np.arange(n_out * frames, dtype=np.int64), t)


def link(sys: EventSystem, producer: OutPort, consumer: Port) -> None:
    """Handshake between a producer and its consumer: data (latency) and space (capacity) constraints."""
    t = producer.timing
    sys.add_constraint(consumer.proc, consumer.events, producer.proc, producer.events, t.latency)
    q = t.capacity
    if q < producer.events.size:
        sys.add_constraint(producer.proc, producer.events[q:], consumer.proc, consumer.events[:-q], t.free)
