"""Per-block timing models for the cycle-level simulator, one per RTL block in hw_templates/.

Each model turns one IR node into processes and constraints of the event solver (sim/cycle_engine.py):
- ``Pattern``: the events of one frame of one process: ``gaps`` (cycles after the previous event; gaps[0]
  counts from the previous frame's last event), ``cons[w]`` (event accepting input word w), ``prod[k]`` (event
  emitting output word k).
- ``BlockTiming``: the block's output latency (cycles from the emitting event to m_tvalid), its output
  capacity (words it can hold un-accepted before it stalls) and ``free`` (0 when a slot freed by an output
  handshake can be refilled in the same cycle, 1 when one cycle later).
The numbers are the blocks' documented timing (header comments of hw_templates/<block>/<block>.sv),
checked against Verilator traces by tests/sim/test_cycle_rtl.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from candle_hw.compile.ir import (
    WINDOW_POOLS, AccPool, AddStreams, DuplicateStreams, GlobalAccPool, LabelSelect, MatrixVectorUnit, MaxPool, Node, SlidingWindow,
    StreamFIFO, Thresholding, WidthConverter,
)
from candle_hw.hw_templates import dwc_buffer_elems, dwc_room_delay, fifo_uses_block_ram
from candle_hw.sim.cycle_engine import EventSystem
from candle_hw.types import clog2


@dataclass(frozen=True)
class BlockTiming:
    latency: int
    capacity: int
    free: int = 0


TIMING: dict[str, BlockTiming] = {
    # thresholding.sv: offered 2 cycles after the input handshake; at most 3 words in flight or queued
    "Thresholding": BlockTiming(latency=2, capacity=3, free=1),
    # maxpool.sv (window_pool.sv): offered the cycle after the window's last input; 2-word output queue
    "MaxPool": BlockTiming(latency=1, capacity=2, free=1),
    # acc_pool.sv: window_pool.sv as maxpool.sv is, with a sum in place of the max
    "AccPool": BlockTiming(latency=1, capacity=2, free=1),
    # global_acc_pool.sv: offered the cycle after the handshake of the input word completing a sum; 2-word queue
    "GlobalAccPool": BlockTiming(latency=1, capacity=2, free=1),
    # label_select.sv: first index the cycle after the frame's last word, which waits for an empty buffer
    "LabelSelect": BlockTiming(latency=1, capacity=1, free=1),
    # swg.sv: issue -> read register -> 3-word queue (offered 2 cycles after issue), 3 credits
    "SlidingWindow": BlockTiming(latency=2, capacity=3, free=1),
    # add_streams.sv: a pair taken at c is offered at c+1 from the output register, which takes the next pair
    # in the cycle its word leaves
    "AddStreams": BlockTiming(latency=1, capacity=1, free=0),
}
POP_REG_EVERY = 3  # mvu.sv default


def _heap_step(h: list[int], ow: int) -> list[int]:
    """One level of mvu_heap_fn.svh heap_next(): the column heights after a level of 6:3 / r:3 / 3:2 counters."""
    def cnt(c: int) -> int:
        return h[c] // 6 + (1 if 0 <= c and h[c] % 6 >= 3 else 0) if c >= 0 else 0

    def n3(c: int) -> int:
        return h[c] // 6 + (1 if h[c] % 6 >= 4 else 0) if c >= 0 else 0

    def pas(c: int) -> int:
        return h[c] % 6 if h[c] % 6 < 3 else 0

    return [(cnt(c) + cnt(c - 1) + n3(c - 2) + pas(c)) if c < ow else 0 for c in range(32)]


def _heap_levels(heights: list[int], ow: int) -> int:
    """mvu_heap_fn.svh heap_levels(): 6:3 / r:3 / 3:2 counter levels until no column holds more than 3 bits."""
    h = heights[:32] + [0] * (32 - len(heights[:32]))
    n = 0
    while max(h) > 3 and n < 64:
        h = _heap_step(h, ow)
        n += 1
    return n


def heap_register_bits(heights: list[int], ow: int, reg_every: int = POP_REG_EVERY) -> int:
    """Flip-flops of one dot product (mvu_xnor_popcount.sv / mvu_kbit_dot.sv with mvu_heap.sv): the registered
    first level (every heap bit), the outputs of every reg_every-th counter level, and the registered OW-bit sum."""
    h = heights[:32] + [0] * (32 - len(heights[:32]))
    bits, level = sum(h), 0
    while max(h) > 3 and level < 64:
        h = _heap_step(h, ow)
        if level % reg_every == reg_every - 1:
            bits += sum(h)
        level += 1
    return bits + ow


def kbit_heap(simd: int, in_bits: int, in_signed: bool, wb: int, bipolar: bool) -> tuple[list[int], int]:
    """mvu_heap_fn.svh kb_heights() and the heap's output width (kb_max): the partial-product bit heap of a
    k-bit-weight PE (mvu_kbit_dot.sv) after its fused first level, column heights from column 0."""
    cols = [j + 1 for j in range(wb)] + list(range(wb)) if bipolar else [i + j for i in range(in_bits) for j in range(wb)]
    g, g2 = (simd + 2) // 3, simd // 3 + (1 if simd % 3 == 2 else 0)
    h = [0] * 32
    for c in cols:
        h[c] += g
        h[c + 1] += g2
    return h, (simd * sum(1 << c for c in cols)).bit_length()


def kbit_ternary_heap(simd: int, in_bits: int, bipolar: bool) -> tuple[list[int], int]:
    """mvu_heap_fn.svh kt_heights() and kt_max's width: the heap of the ternary datapath (one bit per lane and
    input bit in column i; one bit in column 1 for a ±1 input)."""
    cols = [1] if bipolar else list(range(in_bits))
    h = [0] * 32
    for c in cols:
        h[c] += simd
    return h, (simd * sum(1 << c for c in cols)).bit_length()


def mvu_ternary_fits(n: MatrixVectorUnit, reg_every: int = POP_REG_EVERY) -> bool:
    """mvu.sv TERNARY: the ternary heap is delayed to the plain k-bit heap's POP_LAT, so it must not be slower."""
    return mvu_ternary_latency(n, reg_every) <= mvu_pop_latency(n, reg_every)


def mvu_ternary_latency(n: MatrixVectorUnit, reg_every: int = POP_REG_EVERY) -> int:
    """mvu.sv TERN_LAT: register stages of the ternary heap (its sum is then delayed to POP_LAT)."""
    heights, ow = kbit_ternary_heap(n.simd, n.in_type.bits, n.in_type.bipolar)
    return _heap_levels(heights, ow) // reg_every + 2


def mvu_pop_latency(n: MatrixVectorUnit, reg_every: int = POP_REG_EVERY) -> int:
    """mvu.sv pop_latency(): register stages of the popcount (compressor tree), k-bit partial-product heap or
    integer adder tree."""
    if not n.binary_xnor and not n.weight_type.bipolar:
        return _heap_levels(*_unit_kbit_heap(n)) // reg_every + 2
    if not n.binary_xnor:
        return (clog2(n.simd) + 1) // 2 if n.simd > 1 else 0
    return _heap_levels(*xnor_heap(n.simd)) // reg_every + 2


def xnor_heap(simd: int) -> tuple[list[int], int]:
    """mvu_xnor_popcount.sv: the popcount's column heights after its fused first level (SIMD XNOR bits summed in
    groups of three) and the count's width."""
    s = simd
    return [(s + 2) // 3, s // 3 + (1 if s % 3 == 2 else 0)], (clog2(s + 1) if s > 1 else 1)


def _unit_kbit_heap(n: MatrixVectorUnit) -> tuple[list[int], int]:
    """kbit_heap() of a k-bit-weight unit's own SIMD, input and weight types."""
    it = n.in_type
    return kbit_heap(n.simd, it.bits, it.signed and not it.bipolar, n.weight_type.bits, it.bipolar)


def mvu_dot_pipeline(n: MatrixVectorUnit, ternary: bool = False) -> tuple[int, int]:
    """(POP_LAT, flip-flops of one PE's dot product): for XNOR lanes or k-bit weights the heap's registered bits
    (heap_register_bits; on the ternary datapath plus the sum's delay from TERN_LAT to POP_LAT, mvu.sv dot_d), for
    integer inputs with ±1 weights mvu_add_tree.sv's registered sums (every even level from the root)."""
    it, pop_lat = n.in_type, mvu_pop_latency(n)
    if n.binary_xnor:
        return pop_lat, heap_register_bits(*xnor_heap(n.simd))
    if n.weight_type.bipolar:
        levels, width = clog2(n.simd), it.bits + 1
        return pop_lat, sum((1 << d) * (width + levels - d) for d in range(0, levels, 2))
    if ternary:
        heights, ow = kbit_ternary_heap(n.simd, it.bits, it.bipolar)
        return pop_lat, heap_register_bits(heights, ow) + (pop_lat - mvu_ternary_latency(n)) * ow
    return pop_lat, heap_register_bits(*_unit_kbit_heap(n))


def mvu_timing(n: MatrixVectorUnit) -> BlockTiming:
    """mvu.sv: LAT = POP_LAT + 3 from a fold's last step to m_tvalid; ODEPTH = ceil(LAT/SF) + 1 output slots,
    reserved at the fold's last step and freed (usable the next cycle) when the word leaves."""
    lat = mvu_pop_latency(n) + 3
    return BlockTiming(latency=lat, capacity=-(-lat // n.sf) + 1, free=1)


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
    # extra space constraints on the producer that wait for the consumer: (proc, event idx, word idx, offset):
    # S[proc][event idx] >= (consumer's handshake of word idx) + offset
    waits: list[tuple[int, np.ndarray, np.ndarray, int]] = field(default_factory=list)


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


def maxpool_pattern(n: MaxPool | AccPool) -> Pattern:
    """One event per input word; the word completing a window (its bottom-right pixel) emits that output."""
    h, w = n.ifm_dim
    oh, ow = n.ofm_dim
    cf = n.channels // n.pe
    k, s = n.kernel, n.stride
    oy, ox, c = np.meshgrid(np.arange(oh), np.arange(ow), np.arange(cf), indexing="ij")
    prod = (((oy * s + k - 1) * w + (ox * s + k - 1)) * cf + c).ravel()
    return Pattern(np.ones(h * w * cf, dtype=np.int64), np.arange(h * w * cf, dtype=np.int64), _i64(prod))


def global_acc_pool_pattern(n: GlobalAccPool) -> Pattern:
    """One event per input word; the words of the last pixel complete their channel fold's sum and emit it."""
    cf = n.channels // n.pe
    words = n.pixels * cf
    return Pattern(np.ones(words, dtype=np.int64), np.arange(words, dtype=np.int64),
                   (n.pixels - 1) * cf + np.arange(cf, dtype=np.int64))


# -- sliding window: a writer and a reader process --------------------------------------------------------
# -- building the event system --------------------------------------------------------------------------
def _single(sys: EventSystem, name: str, pat: Pattern, frames: int, timing: BlockTiming) -> tuple[Port, OutPort]:
    gaps, cons, prod = pat.tile(frames)
    p = sys.add_process(name, gaps)
    return Port(p, cons), OutPort(p, prod, timing)


@dataclass
class Block:
    """A node's ports in the event system: one Port per input port and one OutPort per output port; a
    DuplicateStreams has no OutPort of its own (``outs`` empty): its outputs are wires (``Wire``)."""

    ins: list[Port]
    outs: list[OutPort]


@dataclass(frozen=True)
class Wire:
    """What a consumer sees on an edge: the block output that holds the words (``source``), and the
    DuplicateStreams input handshakes the words pass on their way (combinationally, in graph order)."""

    source: OutPort | None  # None: the graph input feeds a DuplicateStreams source (the testbench offers every word)
    joins: tuple[Port, ...] = ()

    def through(self, dup: Port) -> "Wire":
        return Wire(self.source, (*self.joins, dup))


def build_block(sys: EventSystem, node: Node, frames: int) -> Block:
    if isinstance(node, DuplicateStreams):
        # duplicate_streams.sv has no storage: one process, the input handshake of each word (the cycle the
        # last output takes it); the outputs' handshakes are the consumers' own events (see connect)
        words = node.in_stream().words_per_frame * frames
        return Block([Port(sys.add_process(node.name, np.ones(words, dtype=np.int64)),
                           np.arange(words, dtype=np.int64))], [])
    if isinstance(node, AddStreams):
        # add_streams.sv: one process, one event per word taking a word from both inputs in the same cycle
        inp, out = _single(sys, node.name, streaming_pattern(node.out_stream().words_per_frame), frames,
                           TIMING[node.kind])
        return Block([inp, Port(inp.proc, inp.events)], [out])
    inp, out = build_node(sys, node, frames)
    return Block([inp], [out])


def build_node(sys: EventSystem, node: Node, frames: int) -> tuple[Port, OutPort]:
    if isinstance(node, MatrixVectorUnit):
        return _single(sys, node.name, mvu_pattern(node), frames, mvu_timing(node))
    if isinstance(node, StreamFIFO):
        return _build_fifo(sys, node, frames)
    if isinstance(node, WidthConverter):
        return _build_dwc(sys, node, frames)
    t = TIMING[node.kind]
    if isinstance(node, Thresholding):
        return _single(sys, node.name, streaming_pattern(node.in_stream().words_per_frame), frames, t)
    if isinstance(node, WINDOW_POOLS):
        return _single(sys, node.name, maxpool_pattern(node), frames, t)
    if isinstance(node, GlobalAccPool):
        return _single(sys, node.name, global_acc_pool_pattern(node), frames, t)
    if isinstance(node, LabelSelect):
        return _build_label_select(sys, node, frames, t)
    if isinstance(node, SlidingWindow):
        return _build_swg(sys, node, frames, t)
    raise NotImplementedError(f"{node.name}: no cycle model for {node.kind}")


def _build_fifo(sys: EventSystem, n: StreamFIFO, frames: int) -> tuple[Port, OutPort]:
    """fifo.sv. "distributed" (depth <= 64): capacity DEPTH, word taken at c offered at c+1, a slot freed by a
    read is writable one cycle later. "block": the DEPTH-word RAM (freed when a word moves on, writable a
    cycle later) feeds a read-data register and an output register (each refillable in the cycle it
    empties), 3 cycles from write to m_tvalid, DEPTH + 2 words in all."""
    pat = streaming_pattern(n.stream.words_per_frame)
    mem_in, mem_out = _single(sys, n.name, pat, frames, BlockTiming(1, n.depth, 1))
    if not fifo_uses_block_ram(n.depth):
        return mem_in, mem_out
    rd_in, rd_out = _single(sys, n.name + ".rd", pat, frames, BlockTiming(1, 1, 0))
    out_in, out_out = _single(sys, n.name + ".out", pat, frames, BlockTiming(1, 1, 0))
    link(sys, mem_out, rd_in)
    link(sys, rd_out, out_in)
    return mem_in, out_out


def _frames_of(idx: np.ndarray, frames: int, per_frame: int) -> np.ndarray:
    return (idx[None, :] + (np.arange(frames, dtype=np.int64) * per_frame)[:, None]).ravel()


def _build_label_select(sys: EventSystem, n: LabelSelect, frames: int, t: BlockTiming) -> tuple[Port, OutPort]:
    """label_select.sv: one input word per cycle; the frame's last word loads the K-index output buffer (so
    it waits until the previous frame's K indices have left) and index j is offered j+1 cycles later."""
    words = n.labels // n.pe
    inp = sys.add_process(n.name, np.ones(words * frames, dtype=np.int64))
    last = _frames_of(np.array([words - 1], dtype=np.int64), frames, words)
    if n.k == 1:
        return Port(inp, np.arange(words * frames, dtype=np.int64)), OutPort(inp, last, t)
    out = sys.add_process(n.name + ".out", np.ones(n.k * frames, dtype=np.int64))
    first = _frames_of(np.array([0], dtype=np.int64), frames, n.k)
    sys.add_constraint(out, first, inp, last, 0)
    lasts = _frames_of(np.array([n.k - 1], dtype=np.int64), frames, n.k)
    wait = (inp, last[1:], lasts[:-1], 1)
    port = OutPort(out, np.arange(n.k * frames, dtype=np.int64), BlockTiming(1, n.k * frames + 1, 1), [wait])
    return Port(inp, np.arange(words * frames, dtype=np.int64)), port


def _build_dwc(sys: EventSystem, n: WidthConverter, frames: int) -> tuple[Port, OutPort]:
    """dwc.sv: an input word is taken while count <= BUF - IN, room freed by an output handshake counting
    dwc_room_delay cycles later (the next cycle where count is read from registers, the same cycle for g_down);
    output word k is offered once its last element is in (the cycle after that input handshake) and the
    previous word has left (the next cycle)."""
    a, b = n.in_elems, n.out_elems
    total = int(np.prod(n.shape)) * frames
    n_in, n_out = total // a, total // b
    inp = sys.add_process(n.name, np.ones(n_in, dtype=np.int64))
    out = sys.add_process(n.name + ".out", np.ones(n_out, dtype=np.int64))
    k = np.arange(n_out, dtype=np.int64)
    sys.add_constraint(out, k, inp, -(-((k + 1) * b) // a) - 1, 1)
    w = np.arange(n_in, dtype=np.int64)
    need_out = -(-((w + 1) * a - dwc_buffer_elems(a, b)) // b) - 1  # output word that must have left before w enters
    ok = need_out >= 0
    port = OutPort(out, k, BlockTiming(0, 1, 1), [(inp, w[ok], need_out[ok], dwc_room_delay(a, b))])
    return Port(inp, w), port


def swg_rows(n: SlidingWindow) -> tuple[np.ndarray, np.ndarray]:
    """Per output row oy: the last input row it needs (hi) and the first row the next output row needs
    (rows below it are released after row oy; everything after the frame's last output row)."""
    h = n.ifm_dim[0]
    oh = n.ofm_dim[0]
    oy = np.arange(oh, dtype=np.int64)
    hi = np.clip(oy * n.stride - n.pad + n.kernel - 1, 0, h - 1)
    keep = np.clip((oy + 1) * n.stride - n.pad, 0, h)
    keep[-1] = h
    return hi, keep


def _build_swg(sys: EventSystem, n: SlidingWindow, frames: int, t: BlockTiming) -> tuple[Port, OutPort]:
    """swg.sv: a ring of R = KERNEL + STRIDE input rows. The writer takes a word while fewer than R rows are
    held (a row is held from its first word until released); output row oy is read (one word per cycle)
    once input row hi(oy) is complete; its last word waits until every row it releases is complete, and
    after it those rows (the ones the next output row does not need; all of the frame's rows after its last
    output row) are released."""
    h, w = n.ifm_dim
    oh, ow = n.ofm_dim
    cf = n.channels // n.simd
    row_words = w * cf
    n_in = h * row_words
    out_row_words = ow * n.kernel * n.kernel * cf
    n_out = oh * out_row_words
    wr = sys.add_process(n.name, np.ones(n_in * frames, dtype=np.int64))
    rd = sys.add_process(n.name + ".read", np.ones(n_out * frames, dtype=np.int64))
    hi, keep = swg_rows(n)
    # output row oy's first word waits for the last word of input row hi(oy), registered
    first_out = _frames_of(np.arange(oh, dtype=np.int64) * out_row_words, frames, n_out)
    need_in = _frames_of((hi + 1) * row_words - 1, frames, n_in)
    sys.add_constraint(rd, first_out, wr, need_in, 1)
    # its last word also waits for every row it releases (rows_held >= rel): with STRIDE > KERNEL the rows
    # between windows, and after the frame's last output row all its remaining rows, none of them read
    last_out = np.arange(1, oh + 1, dtype=np.int64) * out_row_words - 1
    ok = keep > 0
    sys.add_constraint(rd, _frames_of(last_out[ok], frames, n_out), wr,
                       _frames_of(keep[ok] * row_words - 1, frames, n_in), 1)
    # global input row g (frame f, row r) may start once global row g - R is released
    ring = n.kernel + n.stride
    rows = h * frames
    g = np.arange(ring, rows, dtype=np.int64)
    old = g - ring
    f_old, r_old = old // h, old % h
    rel_row = np.searchsorted(keep, r_old, side="right")  # first output row whose keep > r_old
    rel_word = f_old * n_out + (rel_row + 1) * out_row_words - 1
    sys.add_constraint(wr, g * row_words, rd, rel_word, 1)
    return Port(wr, np.arange(n_in * frames, dtype=np.int64)), OutPort(rd, np.arange(n_out * frames, dtype=np.int64), t)


def swg_frame_cycles(n: SlidingWindow) -> int:
    """Cycles per frame of swg.sv in steady state, its input always valid and its output always ready: the
    constraints of ``_build_swg`` at row granularity (within a row only an input row's first word and an output
    row's first and last words can wait), iterated frame after frame until the interval repeats. More than the
    output words when the ring cannot hold the next frame's first rows while the last output row is read
    (e.g. 7x7, k3 s1 p0: 225 words + 2 input rows of 7 words = 239 cycles)."""
    h, w = n.ifm_dim
    oh, ow = n.ofm_dim
    cf = n.channels // n.simd
    row_words, out_row_words = w * cf, ow * n.kernel * n.kernel * cf
    hi, keep = (v.tolist() for v in swg_rows(n))
    ring = n.kernel + n.stride
    releaser = np.searchsorted(keep, np.arange(h), side="right").tolist()  # output row releasing input row r
    w_end: list[int] = []  # cycle of the last word of global input row g
    r_end: list[int] = []  # cycle of the last word of global output row j
    starts: list[int] = []  # cycle of each frame's first output word
    for f in range(64):
        for oy in range(oh):
            need = max(hi[oy], keep[oy] - 1)
            while len(w_end) <= f * h + need:  # the input rows this output row waits for
                g = len(w_end)
                start = w_end[-1] + 1 if w_end else 0
                if g >= ring:
                    old = g - ring
                    start = max(start, r_end[old // h * oh + releaser[old % h]] + 1)
                w_end.append(start + row_words - 1)
            first = max(r_end[-1] + 1 if r_end else 0, w_end[f * h + hi[oy]] + 1)
            if oy == 0:
                starts.append(first)
            last = first + out_row_words - 1
            if keep[oy] > 0:
                last = max(last, w_end[f * h + keep[oy] - 1] + 1)
            r_end.append(last)
        d = np.diff(starts[-4:])
        if d.size == 3 and d.min() == d.max():
            return int(d[0])
    raise AssertionError(f"{n.name}: no periodic regime within 64 frames")  # never seen; a model error if hit


def connect(sys: EventSystem, wire: Wire, consumer: Port) -> None:
    """Handshake along an edge. Straight from a block: ``link``. Through DuplicateStreams (whose input was
    linked to the block holding the words): the consumer takes word w once the block offers it and once every
    output of each duplicate on the way has taken word w-1 (its input handshake, w-1, plus one cycle: only
    then is w at its input), and each duplicate's input handshake of w waits for this consumer's (the
    per-output taken flags: the word leaves when the last output has it)."""
    if not wire.joins:
        link(sys, wire.source, consumer)
        return
    src = wire.source
    if src is not None:
        sys.add_constraint(consumer.proc, consumer.events, src.proc, src.events, src.timing.latency)
    for dup in wire.joins:
        sys.add_constraint(consumer.proc, consumer.events[1:], dup.proc, dup.events[:-1], 1)
        sys.add_constraint(dup.proc, dup.events, consumer.proc, consumer.events, 0)


def link(sys: EventSystem, producer: OutPort, consumer: Port) -> None:
    """Handshake between a producer and its consumer: data (latency) and space (capacity) constraints."""
    t = producer.timing
    sys.add_constraint(consumer.proc, consumer.events, producer.proc, producer.events, t.latency)
    q = t.capacity
    if q < producer.events.size:
        sys.add_constraint(producer.proc, producer.events[q:], consumer.proc, consumer.events[:-q], t.free)
    for proc, idx, words, off in producer.waits:
        sys.add_constraint(proc, idx, consumer.proc, consumer.events[words], off)
