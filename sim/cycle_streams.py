"""The words each RTL block emits, computed from the words its upstream block emitted (the cycle level's data).

A stream is held as *lanes*: a (words, elems_per_word) array of raw bit patterns in sim/packing.py's layout
(lane j of a row is the word's bits [j*b, (j+1)*b)), words in transfer order, frame after frame. Each block model
reads the words it receives the way its RTL block reads its input stream, computes with the block's sim/golden.py
function, and emits its output words in the order and grouping the RTL block emits them. No model looks at any
other block's values: a block that regroups or reorders words wrongly changes everything downstream, and
``first_difference`` (sim/cycle.py) names it.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from candle_hw.compile.ir import (
    AccPool, AddStreams, DataflowGraph, DuplicateStreams, GlobalAccPool, LabelSelect, MatrixVectorUnit, MaxPool, Node, SlidingWindow, StreamFIFO, StreamType, Thresholding,
    WidthConverter,
)
from candle_hw.sim import golden
from candle_hw.sim.packing import decode, encode, stream_lanes


def lanes(values: np.ndarray, s: StreamType) -> np.ndarray:
    """Element values of whole frames -> their words on stream ``s`` (sim/packing.py's layout)."""
    return stream_lanes(values, s.elem_type, s.elems_per_word)


def _read(words: np.ndarray, s: StreamType, frames: int) -> np.ndarray:
    """The element values a block receives on stream ``s``: (frames, *s.shape); a word's lane j is its element j."""
    if words.shape != (frames * s.words_per_frame, s.elems_per_word):
        raise ValueError(f"{words.shape[0]} words of {words.shape[1]} elements arrive where {frames} frames of "
                         f"{s.words_per_frame} words of {s.elems_per_word} are expected")
    return decode(words, s.elem_type).reshape(frames, *s.shape)


def fifo_words(graph: DataflowGraph, node: StreamFIFO, words: np.ndarray, frames: int) -> np.ndarray:
    """fifo.sv: every word leaves as it came, in the order it came."""
    return words


def dwc_words(graph: DataflowGraph, node: WidthConverter, words: np.ndarray, frames: int) -> np.ndarray:
    """dwc.sv: the elements leave in the order they came (lane 0 first), regrouped OUT_ELEMS per word."""
    return words.reshape(-1, node.out_elems)


def swg_words(graph: DataflowGraph, node: SlidingWindow, words: np.ndarray, frames: int) -> np.ndarray:
    """swg.sv: per output pixel (oy, ox), row-major, its K*K window positions (ky, kx) row-major, each as
    C/SIMD words of SIMD consecutive channels; positions outside the image carry the pad value's bits.

    A window only moves elements, so it moves their bit patterns as they are (no decoding and re-encoding of
    the largest stream of a CNV)."""
    s = node.in_stream()
    if words.shape != (frames * s.words_per_frame, s.elems_per_word):
        raise ValueError(f"{node.name}: {words.shape[0]} words of {words.shape[1]} elements do not make "
                         f"{frames} frames of {s.words_per_frame} words of {s.elems_per_word}")
    pad_bits = int(encode(np.array([node.pad_value]), node.elem_type)[0]) if node.pad else 0
    x = words.reshape(frames, *node.ifm_dim, node.channels)
    win = golden.sliding_window(x, node.kernel, node.stride, node.pad, pad_bits)
    oh, ow = node.ofm_dim
    k2, cf = node.kernel * node.kernel, node.channels // node.simd
    order = win.reshape(frames, oh, ow, k2, cf, node.simd)  # word (oy, ox, ky*K + kx, cf), lane = channel % SIMD
    return order.reshape(-1, node.simd)


def mvu_words(graph: DataflowGraph, node: MatrixVectorUnit, words: np.ndarray, frames: int) -> np.ndarray:
    """mvu.sv: a vector arrives as SF words of SIMD elements; per vector it emits NF words, word nf holding
    output channels nf*PE .. nf*PE + PE - 1 (lane p = channel nf*PE + p), thresholded when it has thresholds
    (a zero-padded window's taps in the padding counted as 0)."""
    x = _read(words, node.in_stream(), frames).reshape(-1, node.mw)
    w = graph.params[f"{node.name}.weights"]
    t = graph.params.get(f"{node.name}.thresholds") if node.n_thresholds else None
    padded = None
    if node.border:  # the unit counts its window's taps in the zero padding as 0 (it knows them by position)
        taps = golden.padded_taps(*node.border_window, node.simd_base)
        padded = np.broadcast_to(taps, (frames, *taps.shape)).reshape(-1, node.mw)
    y = golden.mvu(x, w, t, node.binary_xnor, padded)
    return lanes(y.reshape(-1, node.nf, node.pe), node.out_stream())


def thresholding_words(graph: DataflowGraph, node: Thresholding, words: np.ndarray, frames: int) -> np.ndarray:
    """thresholding.sv: one output word per input word, lane p thresholded against its channel's thresholds."""
    x = _read(words, node.in_stream(), frames).reshape(-1, node.channels)
    out = golden.multithreshold(x, graph.params[f"{node.name}.thresholds"])
    y = golden.to_bipolar(out) if node.n_thresholds == 1 else out
    return lanes(y, node.out_stream())


def maxpool_words(graph: DataflowGraph, node: MaxPool, words: np.ndarray, frames: int) -> np.ndarray:
    """maxpool.sv: per output pixel, row-major, C/PE words of PE channels (the max over the pixel's window)."""
    x = _read(words, node.in_stream(), frames)
    y = golden.maxpool(x, node.kernel, node.stride)
    return lanes(y.reshape(frames, *node.ofm_dim, node.channels // node.pe, node.pe), node.out_stream())


def acc_pool_words(graph: DataflowGraph, node: AccPool, words: np.ndarray, frames: int) -> np.ndarray:
    """acc_pool.sv: per output pixel, row-major, C/PE words of PE channels (the sum over the pixel's window)."""
    x = _read(words, node.in_stream(), frames)
    y = golden.acc_pool(x, node.kernel, node.stride, node.in_type.bipolar)
    return lanes(y.reshape(frames, *node.ofm_dim, node.channels // node.pe, node.pe), node.out_stream())


def global_acc_pool_words(graph: DataflowGraph, node: GlobalAccPool, words: np.ndarray, frames: int) -> np.ndarray:
    """global_acc_pool.sv: per frame C/PE words of PE channel sums, emitted while the last pixel streams in."""
    x = _read(words, node.in_stream(), frames)
    return lanes(golden.global_acc_pool(x, node.in_type.bipolar), node.out_stream())


def label_select_words(graph: DataflowGraph, node: LabelSelect, words: np.ndarray, frames: int) -> np.ndarray:
    """label_select.sv: per frame K words of one index each, the largest value's index first."""
    x = _read(words, node.in_stream(), frames).reshape(frames, node.labels)
    return lanes(golden.label_select(x, node.k), node.out_stream())


def duplicate_words(graph: DataflowGraph, node: DuplicateStreams, words: np.ndarray, frames: int) -> np.ndarray:
    """duplicate_streams.sv: every output port carries the input's words as they came."""
    return words


def add_streams_words(graph: DataflowGraph, node: AddStreams, words: tuple[np.ndarray, np.ndarray],
                      frames: int) -> np.ndarray:
    """add_streams.sv: word w of the output is the lane-wise sum of word w of both inputs, each lane read as
    its element value (a BIPOLAR bit b as 2b - 1)."""
    a, b = (_read(w, node.in_stream(p), frames).reshape(frames, -1) for p, w in enumerate(words))
    return lanes(golden.add_streams(a, b), node.out_stream())


BlockModel = Callable[[DataflowGraph, Node, np.ndarray, int], np.ndarray]
MODELS: dict[type[Node], BlockModel] = {
    StreamFIFO: fifo_words, WidthConverter: dwc_words, SlidingWindow: swg_words, MatrixVectorUnit: mvu_words,
    Thresholding: thresholding_words, MaxPool: maxpool_words, AccPool: acc_pool_words, GlobalAccPool: global_acc_pool_words,
    LabelSelect: label_select_words, DuplicateStreams: duplicate_words, AddStreams: add_streams_words,
}


def block_words(graph: DataflowGraph, node: Node, words: list[np.ndarray], frames: int) -> np.ndarray:
    """The words ``node`` emits (on every output port) for ``frames`` frames, given the words it receives on
    each input port."""
    model = MODELS.get(type(node))
    if model is None:
        raise NotImplementedError(f"{node.name}: no word model for {node.kind}")
    if len(words) != node.n_in:
        raise ValueError(f"{node.name}: {len(words)} input streams for {node.n_in} input ports")
    return model(graph, node, tuple(words) if node.n_in > 1 else words[0], frames)
