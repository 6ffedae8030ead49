"""The typed streaming-dataflow IR (FINN's model of a binary network accelerator).

A ``DataflowGraph`` is a DAG of nodes stored in a topological order, joined by ``edges`` (compile/dag.py): each
edge is one stream from an output port of its producer to an input port of its consumer. A chain (every
FINN-class binary network: TFC/SFC/LFC, CNV) is the special case where node i feeds node i+1; given no edges,
the graph is that chain. Residual graphs branch only through ``DuplicateStreams`` (one stream to n identical
ones) and join through ``AddStreams`` (two integer streams to their sum). Nodes are frozen, slotted dataclasses with validated fields, so they hash and compare by value;
integer parameters (weights, thresholds) live in ``DataflowGraph.params`` keyed ``"<node>.<kind>"``.

Stream conventions (shared with sim/packing.py, the RTL blocks and the cycle simulator):
- tensors are channel-last (NHWC without N); a stream carries the elements of one frame in C order,
  ``elems_per_word`` of them per transfer (word); element 0 of a word sits at its least significant bits;
- BIPOLAR elements travel as one bit: bit 1 <-> +1, bit 0 <-> -1; signed integers in two's complement.

Outside the dataflow, the graph records what stays on the host, as typed values (see compile/host_ir.py):
a ``Prologue`` (float ops from the model input to the first quantizer, producing the integers that enter the
dataflow) and an ``Epilogue`` (the last accumulator's per-channel float ops, replayed in float32 in QONNX's
order, or label indices, or the integers themselves). ``origins`` maps nodes to the ONNX tensors they compute
(what layer-by-layer verification compares); it is not needed to run the graph.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

import networkx as nx

from candle_hw.compile import dag
from candle_hw.compile.dag import Edge, IRError
from candle_hw.compile.host_ir import Epilogue, HostOp, InputQuant, LayerOrigin, Prologue, accumulator_value
from candle_hw.types import BIPOLAR, IntType, clog2


# widest integer weight a matrix-vector unit multiplies (FINN's W2..W4 networks; wider ones belong on DSPs)
MAX_WEIGHT_BITS = 4


def _check_pos(name: str, **vals: int) -> None:
    for k, v in vals.items():
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise IRError(f"{name}: {k}={v!r} must be a positive integer")


def _check_div(name: str, what: str, part: int, whole_name: str, whole: int) -> None:
    if whole % part != 0:
        raise IRError(f"{name}: {what}={part} does not divide {whole_name}={whole}")


def _check_window(pool: "MaxPool | AccPool") -> None:
    """The fields of a pool over k x k windows with stride s, no padding (MaxPool, AccPool)."""
    _check_pos(pool.name, channels=pool.channels, kernel=pool.kernel, stride=pool.stride, pe=pool.pe)
    _check_div(pool.name, "pe", pool.pe, "channels", pool.channels)
    if pool.ifm_dim[0] < pool.kernel or pool.ifm_dim[1] < pool.kernel:
        raise IRError(f"{pool.name}: kernel={pool.kernel} exceeds the input {pool.ifm_dim}")


def pool_sum_range(in_type: IntType, pixels: int) -> tuple[int, int]:
    """The sums an accumulating pool (GlobalAccPool, AccPool) makes of ``pixels`` elements: a BIPOLAR input is
    summed as its count of +1 elements, in [0, pixels]; an integer input as its values."""
    return (0, pixels) if in_type.bipolar else (pixels * in_type.min, pixels * in_type.max)


def _window_ofm(pool: "MaxPool | AccPool") -> tuple[int, int]:
    """Output map of a pool over k x k windows with stride s, no padding: (H - k) // s + 1 per side."""
    h, w = pool.ifm_dim
    return ((h - pool.kernel) // pool.stride + 1, (w - pool.kernel) // pool.stride + 1)


@dataclass(frozen=True, slots=True)
class StreamType:
    """One stream: element type, unfolded per-frame shape, and elements per transfer (word)."""

    elem_type: IntType
    shape: tuple[int, ...]
    elems_per_word: int

    @property
    def num_elems(self) -> int:
        return int(math.prod(self.shape))

    @property
    def words_per_frame(self) -> int:
        return self.num_elems // self.elems_per_word

    @property
    def width_bits(self) -> int:
        return self.elems_per_word * self.elem_type.bits

    @property
    def folded_shape(self) -> tuple[int, ...]:
        """FINN's folded shape: the last axis split into (words, elems_per_word)."""
        return self.shape[:-1] + (self.shape[-1] // self.elems_per_word, self.elems_per_word)


@dataclass(frozen=True, slots=True)
class Node:
    """A dataflow block. ``in_stream(port)``/``out_stream(port)`` type its ports; every kind but
    DuplicateStreams (n_out outputs) and AddStreams (2 inputs) has one input and one output (port 0)."""

    name: str
    kind: ClassVar[str] = "Node"

    @property
    def n_in(self) -> int:
        return 1

    @property
    def n_out(self) -> int:
        return 1

    def in_stream(self, port: int = 0) -> StreamType:  # pragma: no cover - abstract
        raise NotImplementedError

    def out_stream(self, port: int = 0) -> StreamType:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, tuple):
                v = [x.name if isinstance(x, IntType) else x for x in v]
            d[f.name] = v.name if isinstance(v, IntType) else v
        return d


@dataclass(frozen=True, slots=True)
class SlidingWindow(Node):
    """Sliding-window generator (FINN: ConvolutionInputGenerator / SWG).

    Input: an (H, W, C) frame, ``simd`` channels per word. Output: for each output pixel (oy, ox) in row-major
    order, the k*k*C window in (ky, kx, c) order, channel fastest (qonnx's Im2Col order), ``simd`` per word.
    Pixels outside the image read ``pad_value`` (in element values: -1 or +1 for BIPOLAR, which is what makes
    padding of a ±1 map exact; 0 is not a bipolar value). Zero padding of a ±1 map (what Brevitas/QONNX do)
    is this window padding with -1 followed by a MatrixVectorUnit with ``border``, which counts the padded taps
    as 0.
    OH = (H + 2*pad - k) // stride + 1, likewise OW.
    """

    ifm_dim: tuple[int, int]
    channels: int
    kernel: int
    stride: int
    pad: int
    pad_value: int
    elem_type: IntType
    simd: int = 1
    kind: ClassVar[str] = "SlidingWindow"

    def __post_init__(self) -> None:
        _check_pos(self.name, channels=self.channels, kernel=self.kernel, stride=self.stride, simd=self.simd)
        if self.pad < 0:
            raise IRError(f"{self.name}: pad={self.pad} must be >= 0")
        _check_div(self.name, "simd", self.simd, "channels", self.channels)
        h, w = self.ifm_dim
        if h + 2 * self.pad < self.kernel or w + 2 * self.pad < self.kernel:
            raise IRError(f"{self.name}: kernel={self.kernel} exceeds the padded input {self.ifm_dim}")
        if self.pad and self.elem_type.bipolar and self.pad_value not in (-1, 1):
            raise IRError(f"{self.name}: pad_value={self.pad_value} is not a bipolar value (-1 or +1)")
        if self.pad and not self.elem_type.bipolar and not (self.elem_type.min <= self.pad_value <= self.elem_type.max):
            raise IRError(f"{self.name}: pad_value={self.pad_value} does not fit {self.elem_type}")

    @property
    def ofm_dim(self) -> tuple[int, int]:
        h, w = self.ifm_dim
        return ((h + 2 * self.pad - self.kernel) // self.stride + 1, (w + 2 * self.pad - self.kernel) // self.stride + 1)

    def in_stream(self, port: int = 0) -> StreamType:
        return StreamType(self.elem_type, (*self.ifm_dim, self.channels), self.simd)

    def out_stream(self, port: int = 0) -> StreamType:
        return StreamType(self.elem_type, (*self.ofm_dim, self.kernel * self.kernel * self.channels), self.simd)


@dataclass(frozen=True, slots=True)
class MatrixVectorUnit(Node):
    """Matrix-vector unit (FINN: MVAU / MatrixVectorActivation) with fused thresholds.

    For each of ``prod(num_vectors)`` input vectors x (length mw) and weight matrix W (mw x mh, values of
    ``weight_type``: ±1 for BIPOLAR, else integers of at most MAX_WEIGHT_BITS bits; params["<name>.weights"]),
    output channel r:
    - binary_xnor (x and W BIPOLAR): acc_r = popcount(xnor(x_bits, w_bits)) = P, the ±1 dot product is 2P - mw;
    - otherwise: acc_r = sum_k x_k * W[k, r], x_k the element values (±1 for a BIPOLAR input); acc_type holds
      the range the frontend derives from the stored weights and in_type (compile/frontend.py _acc_bounds);
    - n_thresholds == 0: out_r = acc_r (out_type == acc_type);
      n_thresholds >= 1: out_r = sum_i [acc_r >= T[r, i]] (params["<name>.thresholds"], shape (mh, n), sorted);
      with one threshold the output is BIPOLAR (bit 1 <-> +1 iff acc_r >= T[r, 0]).
    Zero padding of a ±1 map (``border`` = (ifm_h, ifm_w, kernel, stride, pad), binary_xnor only): the input
    comes from a SlidingWindow of that geometry, whose padded taps (sim/golden.py padded_taps) must count 0,
    as in QONNX. The unit knows which taps are padded from its own pixel and tap counters, and accumulates
    acc_r = sum_{k not padded} 2*[x_k == W[k, r]] + (number of padded taps) = z_r + mw, where z_r is the
    zero-padded ±1 dot product; acc in [0, 2*mw], thresholds per channel as above. simd must divide the
    channels mw/kernel^2, so that every input word is wholly padded or wholly inside the image.
    Folding: SIMD inputs and PE outputs per cycle; SF = mw/simd, NF = mh/pe; output channel r = nf*pe + p.
    """

    mw: int
    mh: int
    pe: int
    simd: int
    in_type: IntType
    acc_type: IntType
    out_type: IntType
    binary_xnor: bool
    num_vectors: tuple[int, ...] = (1,)
    n_thresholds: int = 1
    weight_type: IntType = BIPOLAR
    weight_style: str = "auto"
    border: tuple[int, ...] = ()
    kind: ClassVar[str] = "MatrixVectorUnit"

    WEIGHT_STYLES: ClassVar[tuple[str, ...]] = ("auto", "block", "distributed", "logic")

    def __post_init__(self) -> None:
        _check_pos(self.name, mw=self.mw, mh=self.mh, pe=self.pe, simd=self.simd)
        _check_div(self.name, "simd", self.simd, "mw", self.mw)
        _check_div(self.name, "pe", self.pe, "mh", self.mh)
        if not self.weight_type.bipolar and not 2 <= self.weight_type.bits <= MAX_WEIGHT_BITS:
            raise IRError(f"{self.name}: weight_type={self.weight_type} is not supported (BIPOLAR or an integer "
                          f"type of 2..{MAX_WEIGHT_BITS} bits)")
        if self.binary_xnor != (self.in_type.bipolar and self.weight_type.bipolar):
            raise IRError(f"{self.name}: binary_xnor={self.binary_xnor} contradicts in_type={self.in_type} x "
                          f"weight_type={self.weight_type} (XNOR only for BIPOLAR x BIPOLAR)")
        if self.n_thresholds == 0 and self.out_type != self.acc_type:
            raise IRError(f"{self.name}: without thresholds out_type={self.out_type} must equal acc_type={self.acc_type}")
        if self.n_thresholds == 1 and self.out_type != BIPOLAR:
            raise IRError(f"{self.name}: one threshold gives a BIPOLAR output, not {self.out_type}")
        if self.weight_style not in self.WEIGHT_STYLES:
            raise IRError(f"{self.name}: weight_style={self.weight_style!r} not in {self.WEIGHT_STYLES}")
        if not self.num_vectors or any(v < 1 for v in self.num_vectors):
            raise IRError(f"{self.name}: num_vectors={self.num_vectors} must be positive")
        if self.border:
            self._check_border()

    def _check_border(self) -> None:
        if len(self.border) != 5 or any(not isinstance(v, (int, np.integer)) or v < 0 for v in self.border):
            raise IRError(f"{self.name}: border={self.border} must be (ifm_h, ifm_w, kernel, stride, pad), non-negative")
        h, w, k, s, p = self.border
        if not self.binary_xnor:
            raise IRError(f"{self.name}: border={self.border} needs a binary_xnor unit (an integer map zero-pads with 0)")
        if k < 1 or s < 1 or p < 1 or h + 2 * p < k or w + 2 * p < k:
            raise IRError(f"{self.name}: border={self.border} is not a padded window geometry")
        ofm = ((h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
        if tuple(self.num_vectors) != ofm or self.mw % (k * k):
            raise IRError(f"{self.name}: border={self.border} gives {ofm} windows of k*k*C, not num_vectors={self.num_vectors}, mw={self.mw}")
        _check_div(self.name, "simd", self.simd, "channels of the zero-padded window", self.mw // (k * k))

    @property
    def simd_base(self) -> int:
        """What simd must divide: mw, or the window's channels after a zero-padded ±1 map."""
        return self.mw // (self.border[2] ** 2) if self.border else self.mw

    @property
    def border_window(self) -> tuple[tuple[int, int], int, int, int]:
        """(ifm_dim, kernel, stride, pad): the arguments of sim/golden.py padded_taps."""
        h, w, k, s, p = self.border
        return (h, w), k, s, p

    @property
    def sf(self) -> int:
        return self.mw // self.simd

    @property
    def nf(self) -> int:
        return self.mh // self.pe

    @property
    def wmem(self) -> int:
        """Weight memory depth in words of pe*simd bits (FINN: WMEM)."""
        return self.sf * self.nf

    @property
    def vectors(self) -> int:
        return int(math.prod(self.num_vectors))

    @property
    def acc_range(self) -> tuple[int, int]:
        if self.binary_xnor:
            return 0, self.mw * (2 if self.border else 1)
        return self.acc_type.min, self.acc_type.max

    @property
    def threshold_type(self) -> IntType:
        """Type holding every threshold, clipped to [acc_min, acc_max + 1]."""
        lo, hi = self.acc_range
        return IntType.for_range(lo, hi + 1)

    def in_stream(self, port: int = 0) -> StreamType:
        return StreamType(self.in_type, (*self.num_vectors, self.mw), self.simd)

    def out_stream(self, port: int = 0) -> StreamType:
        return StreamType(self.out_type, (*self.num_vectors, self.mh), self.pe)


@dataclass(frozen=True, slots=True)
class Thresholding(Node):
    """Standalone multi-threshold unit (FINN: Thresholding): out_c = sum_i [x_c >= T[c, i]], pe channels/word."""

    channels: int
    pe: int
    in_type: IntType
    out_type: IntType
    n_thresholds: int
    num_vectors: tuple[int, ...] = (1,)
    kind: ClassVar[str] = "Thresholding"

    def __post_init__(self) -> None:
        _check_pos(self.name, channels=self.channels, pe=self.pe, n_thresholds=self.n_thresholds)
        _check_div(self.name, "pe", self.pe, "channels", self.channels)
        if self.n_thresholds == 1 and self.out_type != BIPOLAR:
            raise IRError(f"{self.name}: one threshold gives a BIPOLAR output, not {self.out_type}")

    def in_stream(self, port: int = 0) -> StreamType:
        return StreamType(self.in_type, (*self.num_vectors, self.channels), self.pe)

    def out_stream(self, port: int = 0) -> StreamType:
        return StreamType(self.out_type, (*self.num_vectors, self.channels), self.pe)


@dataclass(frozen=True, slots=True)
class MaxPool(Node):
    """Max-pool over k x k windows with stride s, no padding (FINN: StreamingMaxPool / Pool).

    On BIPOLAR data the max is the bitwise OR of the bits. pe channels per word.
    """

    ifm_dim: tuple[int, int]
    channels: int
    kernel: int
    stride: int
    elem_type: IntType
    pe: int = 1
    kind: ClassVar[str] = "MaxPool"

    def __post_init__(self) -> None:
        _check_window(self)

    @property
    def ofm_dim(self) -> tuple[int, int]:
        return _window_ofm(self)

    def in_stream(self, port: int = 0) -> StreamType:
        return StreamType(self.elem_type, (*self.ifm_dim, self.channels), self.pe)

    def out_stream(self, port: int = 0) -> StreamType:
        return StreamType(self.elem_type, (*self.ofm_dim, self.channels), self.pe)


@dataclass(frozen=True, slots=True)
class GlobalAccPool(Node):
    """Global accumulating pool (FINN: GlobalAccPool): an (H, W, C) frame, ``pe`` channels per word, to the
    (C,) per-channel integer sums over all H*W pixels. A BIPOLAR input is summed as its count of +1 elements
    P in [0, H*W] (the ±1 sum is 2P - H*W, as the XNOR unit's accumulator); an integer input as its values.
    The average QONNX's GlobalAveragePool takes is left to what follows: a Thresholding (the next quantizer's
    thresholds on the sum, FINN's GlobalAccPool + Thresholding) or the host epilogue.
    """

    ifm_dim: tuple[int, int]
    channels: int
    in_type: IntType
    out_type: IntType
    pe: int = 1
    kind: ClassVar[str] = "GlobalAccPool"

    def __post_init__(self) -> None:
        _check_pos(self.name, channels=self.channels, pe=self.pe, ifm_h=self.ifm_dim[0], ifm_w=self.ifm_dim[1])
        _check_div(self.name, "pe", self.pe, "channels", self.channels)
        lo, hi = self.sum_range
        if self.out_type.bipolar or self.out_type.min > lo or self.out_type.max < hi:
            raise IRError(f"{self.name}: out_type={self.out_type} cannot hold sums in [{lo}, {hi}]")

    @property
    def pixels(self) -> int:
        return self.ifm_dim[0] * self.ifm_dim[1]

    @property
    def sum_range(self) -> tuple[int, int]:
        return pool_sum_range(self.in_type, self.pixels)

    def in_stream(self, port: int = 0) -> StreamType:
        return StreamType(self.in_type, (*self.ifm_dim, self.channels), self.pe)

    def out_stream(self, port: int = 0) -> StreamType:
        return StreamType(self.out_type, (self.channels,), self.pe)


@dataclass(frozen=True, slots=True)
class AccPool(Node):
    """Windowed accumulating pool: the integer sum over k x k windows with stride s, no padding (FINN: Pool, i.e.
    finn-hlslib's Pool_batch with its AccPoolFunction, the sum a QuantAvgPool2d shifts; FINN feeds it from a
    ConvolutionInputGenerator). An (H, W, C) frame, ``pe`` channels per word, to (OH, OW, C) sums,
    OH = (H - k) // s + 1 (likewise OW), in the input's scan order. As in GlobalAccPool, a BIPOLAR input is
    summed as its count of +1 elements P in [0, k*k] (the ±1 sum is 2P - k*k), an integer input as its values.
    QONNX's AveragePool divides the sum by k*k in float32; that division and the next quantizer become a
    Thresholding on the sum (compile/global_pool.py), as after a GlobalAccPool.
    """

    ifm_dim: tuple[int, int]
    channels: int
    kernel: int
    stride: int
    in_type: IntType
    out_type: IntType
    pe: int = 1
    kind: ClassVar[str] = "AccPool"

    def __post_init__(self) -> None:
        _check_window(self)
        lo, hi = self.sum_range
        if self.out_type.bipolar or not self.out_type.contains(lo, hi):
            raise IRError(f"{self.name}: out_type={self.out_type} cannot hold sums in [{lo}, {hi}]")

    @property
    def ofm_dim(self) -> tuple[int, int]:
        return _window_ofm(self)

    @property
    def pixels(self) -> int:
        """Pixels of one window (what the average divides by)."""
        return self.kernel * self.kernel

    @property
    def sum_range(self) -> tuple[int, int]:
        return pool_sum_range(self.in_type, self.pixels)

    def in_stream(self, port: int = 0) -> StreamType:
        return StreamType(self.in_type, (*self.ifm_dim, self.channels), self.pe)

    def out_stream(self, port: int = 0) -> StreamType:
        return StreamType(self.out_type, (*self.ofm_dim, self.channels), self.pe)


# the pools over k x k windows: one streaming block each (maxpool.sv, acc_pool.sv), both window_pool.sv (one scan
# and timing), lowered alike (compile/passes/pool_windows.py) and folded alike (compile/passes/folding.py)
WINDOW_POOLS: tuple[type[Node], ...] = (MaxPool, AccPool)


@dataclass(frozen=True, slots=True)
class LabelSelect(Node):
    """Top-k label select (FINN: LabelSelect): indices of the k largest inputs, lowest index first on ties.

    Input (labels,) with pe per word; output (k,) indices of type out_type, one per word.
    """

    labels: int
    k: int
    pe: int
    in_type: IntType
    out_type: IntType
    kind: ClassVar[str] = "LabelSelect"

    def __post_init__(self) -> None:
        _check_pos(self.name, labels=self.labels, k=self.k, pe=self.pe)
        _check_div(self.name, "pe", self.pe, "labels", self.labels)
        if self.k > self.labels:
            raise IRError(f"{self.name}: k={self.k} exceeds labels={self.labels}")
        if self.out_type.max < self.labels - 1:
            raise IRError(f"{self.name}: out_type={self.out_type} cannot hold label {self.labels - 1}")

    def in_stream(self, port: int = 0) -> StreamType:
        return StreamType(self.in_type, (self.labels,), self.pe)

    def out_stream(self, port: int = 0) -> StreamType:
        return StreamType(self.out_type, (self.k,), 1)


@dataclass(frozen=True, slots=True)
class StreamFIFO(Node):
    """FIFO of ``depth`` words on a stream (FINN: StreamingFIFO); identity on data."""

    stream: StreamType
    depth: int
    kind: ClassVar[str] = "StreamFIFO"

    def __post_init__(self) -> None:
        _check_pos(self.name, depth=self.depth)

    def in_stream(self, port: int = 0) -> StreamType:
        return self.stream

    def out_stream(self, port: int = 0) -> StreamType:
        return self.stream

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "depth": self.depth, "stream": _stream_to_dict(self.stream)}


@dataclass(frozen=True, slots=True)
class WidthConverter(Node):
    """Data-width converter (FINN: StreamingDataWidthConverter): regroups elements, identity on data."""

    elem_type: IntType
    shape: tuple[int, ...]
    in_elems: int
    out_elems: int
    kind: ClassVar[str] = "WidthConverter"

    def __post_init__(self) -> None:
        _check_pos(self.name, in_elems=self.in_elems, out_elems=self.out_elems)
        n = self.shape[-1]
        _check_div(self.name, "in_elems", self.in_elems, "innermost dim", n)
        _check_div(self.name, "out_elems", self.out_elems, "innermost dim", n)

    def in_stream(self, port: int = 0) -> StreamType:
        return StreamType(self.elem_type, self.shape, self.in_elems)

    def out_stream(self, port: int = 0) -> StreamType:
        return StreamType(self.elem_type, self.shape, self.out_elems)


def _check_port(node: Node, port: int, n: int, what: str) -> None:
    if not 0 <= port < n:
        raise IRError(f"{node.name}: no {what} port {port} ({n} of them)")


@dataclass(frozen=True, slots=True)
class DuplicateStreams(Node):
    """Fan-out (FINN: DuplicateStreams_Batch): every one of ``n_out`` output ports carries the input's words
    unchanged, ``pe`` elements per word. An input word is consumed once every output has taken it; each output
    keeps its own "taken" flag, so consumers may accept the same word in different cycles."""

    shape: tuple[int, ...]
    elem_type: IntType
    pe: int
    n_out: int = 2
    kind: ClassVar[str] = "DuplicateStreams"

    def __post_init__(self) -> None:
        _check_pos(self.name, pe=self.pe)
        if not self.shape or any(not isinstance(v, (int, np.integer)) or v < 1 for v in self.shape):
            raise IRError(f"{self.name}: shape={self.shape} must be positive integers")
        _check_div(self.name, "pe", self.pe, "innermost dim", self.shape[-1])
        if not isinstance(self.n_out, int) or isinstance(self.n_out, bool) or self.n_out < 2:
            raise IRError(f"{self.name}: n_out={self.n_out!r} must be an integer >= 2")

    def in_stream(self, port: int = 0) -> StreamType:
        _check_port(self, port, 1, "input")
        return StreamType(self.elem_type, tuple(self.shape), self.pe)

    def out_stream(self, port: int = 0) -> StreamType:
        _check_port(self, port, self.n_out, "output")
        return StreamType(self.elem_type, tuple(self.shape), self.pe)


@dataclass(frozen=True, slots=True)
class AddStreams(Node):
    """Elementwise sum of two streams (FINN: AddStreams_Batch): out = value(a) + value(b), a BIPOLAR element's
    value being ±1 (bit b -> 2b - 1), an integer's its value. Both inputs and the output carry ``pe`` elements
    per word; one word is taken from each input in the same cycle. ``out_type`` must hold every sum. Port 0 is
    the first operand of the ONNX Add (the order matters for wiring only)."""

    shape: tuple[int, ...]
    in_types: tuple[IntType, IntType]
    out_type: IntType
    pe: int
    kind: ClassVar[str] = "AddStreams"

    def __post_init__(self) -> None:
        _check_pos(self.name, pe=self.pe)
        if not self.shape or any(not isinstance(v, (int, np.integer)) or v < 1 for v in self.shape):
            raise IRError(f"{self.name}: shape={self.shape} must be positive integers")
        _check_div(self.name, "pe", self.pe, "innermost dim", self.shape[-1])
        if len(self.in_types) != 2 or not all(isinstance(t, IntType) for t in self.in_types):
            raise IRError(f"{self.name}: in_types={self.in_types} must be two integer types")
        lo, hi = self.sum_range
        if self.out_type.bipolar or not self.out_type.contains(lo, hi):
            raise IRError(f"{self.name}: out_type={self.out_type} cannot hold sums in [{lo}, {hi}]")

    @property
    def n_in(self) -> int:
        return 2

    @property
    def sum_range(self) -> tuple[int, int]:
        a, b = self.in_types
        return a.min + b.min, a.max + b.max

    def in_stream(self, port: int = 0) -> StreamType:
        _check_port(self, port, 2, "input")
        return StreamType(self.in_types[port], tuple(self.shape), self.pe)

    def out_stream(self, port: int = 0) -> StreamType:
        _check_port(self, port, 1, "output")
        return StreamType(self.out_type, tuple(self.shape), self.pe)


# 2: typed prologue/epilogue (float ops replayed, no lookup table) and origins beside them
# 3: edges (the graph is a DAG); a version-2 file is a chain and loads as one
FORMAT_VERSION = 3
_READS_VERSIONS = (2, 3)

NODE_KINDS: dict[str, type[Node]] = {
    c.kind: c for c in (SlidingWindow, MatrixVectorUnit, Thresholding, MaxPool, AccPool, GlobalAccPool, LabelSelect, StreamFIFO,
                        WidthConverter, DuplicateStreams, AddStreams)
}


def _stream_to_dict(s: StreamType) -> dict[str, Any]:
    return {"elem_type": s.elem_type.name, "shape": list(s.shape), "elems_per_word": s.elems_per_word}


def _stream_from_dict(d: dict[str, Any]) -> StreamType:
    return StreamType(IntType.from_name(d["elem_type"]), tuple(d["shape"]), d["elems_per_word"])


def node_from_dict(d: dict[str, Any]) -> Node:
    d = dict(d)
    cls = NODE_KINDS.get(d.pop("kind", None))
    if cls is None:
        raise IRError(f"unknown node kind in {d!r}")
    kw: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in d:
            continue
        v = d[f.name]
        if f.name == "stream":
            v = _stream_from_dict(v)
        elif isinstance(v, str) and f.name.endswith("type"):
            v = IntType.from_name(v)
        elif isinstance(v, list) and f.name.endswith("types"):
            v = tuple(IntType.from_name(x) for x in v)
        elif isinstance(v, list):
            v = tuple(v)
        kw[f.name] = v
    return cls(**kw)


@dataclass(frozen=True)
class DataflowGraph:
    """A DAG of dataflow nodes plus integer parameters and the host-side prologue/epilogue.

    ``nodes`` are stored in a topological order; ``edges`` join them (empty: the chain nodes[i] -> nodes[i+1],
    filled in on construction). One source node reads the dataflow input (its port 0), one sink node writes the
    dataflow output. ``prologue``: the float ops from the model input to the dataflow input; ``epilogue``: how
    the sink's integers become the model output (both run by sim/host.py; constants live in ``params``).
    ``origins``: the ONNX tensor each mapped node computes (for layer-by-layer verification only).
    ``model_input_shape``/``model_output_shape``: the QONNX model's own tensor shapes (with batch 1).
    """

    nodes: tuple[Node, ...]
    params: dict[str, np.ndarray] = field(default_factory=dict, compare=False, hash=False)
    prologue: Prologue | None = None
    epilogue: Epilogue = Epilogue("int")
    model_input_shape: tuple[int, ...] = ()
    model_output_shape: tuple[int, ...] = ()
    origins: tuple[LayerOrigin, ...] = ()
    edges: tuple[Edge, ...] = ()

    def __post_init__(self) -> None:
        if not self.nodes:
            raise IRError("the dataflow graph has no nodes")
        names = [n.name for n in self.nodes]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise IRError(f"duplicate node names: {sorted(dup)}")
        object.__setattr__(self, "edges", tuple(self.edges) if self.edges else dag.chain_edges(self.nodes))
        dag.check_structure(self.nodes, self.edges)
        ins, outs = dag.adjacency(self.edges)
        object.__setattr__(self, "_by_name", {n.name: n for n in self.nodes})
        object.__setattr__(self, "_in", ins)
        object.__setattr__(self, "_out", outs)
        for e in self.edges:
            a, b = self._by_name[e.src], self._by_name[e.dst]
            sa, sb = a.out_stream(e.src_port), b.in_stream(e.dst_port)
            if sa.elem_type != sb.elem_type or sa.num_elems != sb.num_elems:
                raise IRError(
                    f"{e}: stream mismatch, {a.name} produces {sa.elem_type}{list(sa.shape)} "
                    f"but {b.name} expects {sb.elem_type}{list(sb.shape)}"
                )
        for n in self.nodes:
            if isinstance(n, MatrixVectorUnit) and n.border:
                _check_border_source(self, n)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataflowGraph):
            return NotImplemented
        return (
            self.nodes == other.nodes
            and self.edges == other.edges
            and self.model_input_shape == other.model_input_shape
            and self.model_output_shape == other.model_output_shape
            and self.prologue == other.prologue
            and self.epilogue == other.epilogue
            and self.origins == other.origins
            and self.params.keys() == other.params.keys()
            and all(np.array_equal(self.params[k], other.params[k]) for k in self.params)
        )

    __hash__ = None  # type: ignore[assignment]

    # -- access -----------------------------------------------------------------------------------------
    def node(self, name: str) -> Node:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no node named {name!r}; nodes are {[n.name for n in self.nodes]}") from None

    def of_kind(self, cls: type[Node]) -> list[Node]:
        return [n for n in self.nodes if isinstance(n, cls)]

    def in_edges(self, name: str) -> list[Edge]:
        """The edges into ``name``, by input port."""
        self.node(name)
        return list(self._in.get(name, ()))

    def out_edges(self, name: str) -> list[Edge]:
        """The edges out of ``name``, by output port."""
        self.node(name)
        return list(self._out.get(name, ()))

    def preds(self, name: str) -> list[Node]:
        """The producers of ``name``'s inputs, by input port."""
        return [self._by_name[e.src] for e in self.in_edges(name)]

    def succs(self, name: str) -> list[Node]:
        """The consumers of ``name``'s outputs, by output port."""
        return [self._by_name[e.dst] for e in self.out_edges(name)]

    def edge_streams(self, e: Edge) -> tuple[StreamType, StreamType]:
        """(what the producer writes, what the consumer reads) on edge ``e``: same elements, maybe other words."""
        return self.node(e.src).out_stream(e.src_port), self.node(e.dst).in_stream(e.dst_port)

    @property
    def source(self) -> Node:
        return next(n for n in self.nodes if n.name not in self._in)

    @property
    def sink(self) -> Node:
        return next(n for n in self.nodes if n.name not in self._out)

    @property
    def input_stream(self) -> StreamType:
        return self.source.in_stream()

    @property
    def output_stream(self) -> StreamType:
        return self.sink.out_stream()

    @property
    def is_chain(self) -> bool:
        return self.edges == dag.chain_edges(self.nodes)

    def to_networkx(self) -> nx.MultiDiGraph:
        """A networkx.MultiDiGraph of the graph (node attribute ``node``, edge attributes src_port/dst_port);
        derived, not stored."""
        return dag.to_networkx(self.nodes, self.edges)

    def replace(self, **changes: Any) -> "DataflowGraph":
        """dataclasses.replace, except that new ``nodes`` without new ``edges`` keep a chain a chain (the node
        list of a chain defines its edges); a DAG whose node names change needs its new edges."""
        if "nodes" in changes and "edges" not in changes:
            if [n.name for n in changes["nodes"]] != [n.name for n in self.nodes]:
                if not self.is_chain:
                    raise IRError("replace: new nodes for a branching graph need their edges "
                                  "(use insert_on_edge, or pass edges=)")
                changes["edges"] = ()
        return dataclasses.replace(self, **changes)

    def with_node(self, new: Node) -> "DataflowGraph":
        """A copy with the node of the same name replaced."""
        nodes = tuple(new if n.name == new.name else n for n in self.nodes)
        if nodes == self.nodes and new not in self.nodes:
            raise KeyError(f"no node named {new.name!r}")
        return self.replace(nodes=nodes)

    def insert_on_edge(self, edge: Edge, new_nodes: tuple[Node, ...] | list[Node]) -> "DataflowGraph":
        """A copy with the chain ``new_nodes`` (each one input, one output) spliced into ``edge``."""
        nodes, edges = dag.splice(self.nodes, self.edges, edge, new_nodes)
        return dataclasses.replace(self, nodes=tuple(nodes), edges=tuple(edges))

    def without_node(self, name: str) -> "DataflowGraph":
        """A copy with the one-input, one-output node ``name`` removed and its producer wired to its consumer
        (e.g. a FIFO found unnecessary); at the source or sink, its neighbour becomes the new one."""
        n = self.node(name)
        if n.n_in != 1 or n.n_out != 1:
            raise IRError(f"without_node: {name} has {n.n_in} inputs and {n.n_out} outputs (1 and 1 needed)")
        if len(self.nodes) == 1:
            raise IRError(f"without_node: {name} is the only node")
        ins, outs = self.in_edges(name), self.out_edges(name)
        edges = [e for e in self.edges if name not in (e.src, e.dst)]
        if ins and outs:
            i = self.edges.index(ins[0])
            edges.insert(min(i, len(edges)), Edge(ins[0].src, outs[0].dst, ins[0].src_port, outs[0].dst_port))
        return dataclasses.replace(self, nodes=tuple(m for m in self.nodes if m.name != name), edges=tuple(edges))

    # -- serialisation ----------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format": "candle-hw-dataflow",
            "version": FORMAT_VERSION,
            "model_input_shape": list(self.model_input_shape),
            "model_output_shape": list(self.model_output_shape),
            "prologue": self.prologue.to_json() if self.prologue is not None else None,
            "epilogue": self.epilogue.to_json(),
            "origins": [o.to_json() for o in self.origins],
            "nodes": [n.to_dict() for n in self.nodes],
            "edges": [e.to_json() for e in self.edges],
        }

    @staticmethod
    def from_json(d: dict[str, Any], params: dict[str, np.ndarray]) -> "DataflowGraph":
        if d.get("format") != "candle-hw-dataflow":
            raise IRError("not a candle-hw dataflow.json (missing format tag)")
        if d.get("version") not in _READS_VERSIONS:
            raise IRError(f"dataflow.json: format version {d.get('version')!r} (this candle-hw reads {FORMAT_VERSION}); "
                          "compile the model again")
        pro = d.get("prologue")
        return DataflowGraph(
            nodes=tuple(node_from_dict(n) for n in d["nodes"]),
            params=dict(params),
            prologue=Prologue.from_json(pro) if pro is not None else None,
            epilogue=Epilogue.from_json(d["epilogue"]),
            model_input_shape=tuple(d.get("model_input_shape", ())),
            model_output_shape=tuple(d.get("model_output_shape", ())),
            origins=tuple(LayerOrigin.from_json(o) for o in d.get("origins", ())),
            edges=tuple(Edge.from_json(e) for e in d.get("edges", ())),
        )

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "dataflow.json").write_text(json.dumps(self.to_json(), indent=1) + "\n")
        np.savez(directory / "params.npz", **self.params)

    @staticmethod
    def load(directory: str | Path) -> "DataflowGraph":
        directory = require_build(directory)
        d = json.loads((directory / "dataflow.json").read_text())
        with np.load(directory / "params.npz") as z:
            params = {k: z[k] for k in z.files}
        return DataflowGraph.from_json(d, params)


def require_build(directory: str | Path) -> Path:
    """``directory`` as a Path if it holds a compiled graph (dataflow.json), else the one-line refusal every
    command that reads a build gives."""
    directory = Path(directory)
    if not (directory / "dataflow.json").is_file():
        raise IRError(f"{directory}: not a build directory (no dataflow.json); run `candle-hw compile` first")
    return directory


def _check_border_source(graph: DataflowGraph, mvu: MatrixVectorUnit) -> None:
    """A unit with border thresholds must be fed (through FIFOs/width converters only) by the -1-padding
    sliding window of the same geometry: otherwise its thresholds would correct taps that are not there."""
    n = mvu
    while True:
        preds = graph.preds(n.name)
        if not preds:
            break
        n = preds[0]
        if isinstance(n, (StreamFIFO, WidthConverter)):
            continue
        if isinstance(n, SlidingWindow) and n.pad_value == -1 and n.elem_type.bipolar and (
            (*n.ifm_dim, n.kernel, n.stride, n.pad) == tuple(mvu.border)
        ):
            return
        break
    raise IRError(f"{mvu.name}: border={mvu.border} needs a BIPOLAR sliding window with that geometry and pad_value=-1 before it")


def require_stitched(graph: DataflowGraph, user: str) -> None:
    """Refuse a graph whose connected blocks exchange words of different sizes: the RTL wires a producer's word
    straight into its consumer, so only a graph completed by the pipeline's "stitch" step
    (compile/passes/stitch.py) describes a design that can be emitted or simulated cycle by cycle."""
    for e in graph.edges:
        sa, sb = graph.edge_streams(e)
        if sa.elems_per_word != sb.elems_per_word:
            raise IRError(f"{user}: {e}: words of {sa.elems_per_word} and {sb.elems_per_word} elements meet without "
                          "a width converter; stitch the graph first (pipeline step 'stitch', compile/passes/stitch.py)")


__all__ = [
    "IRError", "StreamType", "Node", "SlidingWindow", "MatrixVectorUnit", "Thresholding", "MaxPool", "AccPool",
    "WINDOW_POOLS",
    "GlobalAccPool", "LabelSelect", "StreamFIFO", "WidthConverter", "DuplicateStreams", "AddStreams", "Edge",
    "DataflowGraph", "NODE_KINDS", "node_from_dict",
    "require_stitched", "clog2", "Prologue", "Epilogue", "LayerOrigin", "FORMAT_VERSION",
]
