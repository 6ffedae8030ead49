"""The one definition of bit order: stream words, weight and threshold memories, $readmemh files.

- Element encoding: BIPOLAR v -> bit (v + 1) / 2; unsigned n-bit as is; signed n-bit in two's complement.
- Stream word: ``elems_per_word`` consecutive elements of a frame (C order of the unfolded shape); element j
  of a word occupies bits [j*b, (j+1)*b) (element 0 at the least significant bits, as in FINN).
- Weight memory of a matrix-vector unit (mw x mh, values of its weight type, b bits each: 1 for ±1):
  WMEM = SF*NF words of PE*SIMD*b bits; word address nf*SF + sf; lane (p, s) at bits [(p*SIMD + s)*b, ...)
  holds the encoded W[sf*SIMD + s, nf*PE + p] (FINN's layout; two's complement for signed weights).
- Threshold memory: NF words; lane p, threshold i at bits [(p*n + i)*tb, (p*n + i + 1)*tb) hold
  T[nf*PE + p, i] in two's complement of the threshold type's width tb.
- Padding pattern ROMs of a zero-padded ±1 window (pad_pattern_words): one word per output row (column),
  bit j set iff kernel row (column) j of its window lies outside the image.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from candle_hw.types import BIPOLAR, IntType


def encode(values: np.ndarray, elem_type: IntType, dtype: type = np.uint64) -> np.ndarray:
    """Element values -> raw unsigned bit patterns (``dtype``, uint64 unless a narrower one is asked for)."""
    v = np.asarray(values)
    if elem_type.bipolar:  # compared in the values' own type: the widest stream of a CNV is BIPOLAR
        if v.size and (v.min() < -1 or v.max() > 1):
            raise ValueError(f"values in [{v.min()}, {v.max()}] do not fit {elem_type}")
        if v.size and np.any(v == 0):
            raise ValueError("0 is not a BIPOLAR value")
        return (v > 0).astype(dtype)
    v = v.astype(np.int64)
    if v.size and (v.min() < elem_type.min or v.max() > elem_type.max):
        raise ValueError(f"values in [{v.min()}, {v.max()}] do not fit {elem_type}")
    mask = (1 << elem_type.bits) - 1
    return (v & mask).astype(dtype)


def decode(raw: np.ndarray, elem_type: IntType) -> np.ndarray:
    """Raw bit patterns -> element values (int64)."""
    r = np.asarray(raw).astype(np.int64)
    if elem_type.bipolar:
        return 2 * (r & 1) - 1
    r = r & ((1 << elem_type.bits) - 1)
    if elem_type.signed:
        sign = 1 << (elem_type.bits - 1)
        r = (r ^ sign) - sign
    return r


def _join(fields: np.ndarray, bits: int) -> list[int]:
    """Rows of raw fields (words, lanes) -> Python ints, lane 0 at the LSB."""
    words = []
    for row in fields.tolist():
        acc = 0
        for j, f in enumerate(row):
            acc |= int(f) << (j * bits)
        words.append(acc)
    return words


def _split(words: Sequence[int], lanes: int, bits: int) -> np.ndarray:
    mask = (1 << bits) - 1
    out = np.empty((len(words), lanes), dtype=np.uint64)
    for i, w in enumerate(words):
        w = int(w)
        for j in range(lanes):
            out[i, j] = (w >> (j * bits)) & mask
    return out


def lane_dtype(bits: int) -> type:
    """The narrowest unsigned numpy type that holds one ``bits``-bit element."""
    return next(t for b, t in ((8, np.uint8), (16, np.uint16), (32, np.uint32), (64, np.uint64)) if bits <= b)


def stream_lanes(values: np.ndarray, elem_type: IntType, elems_per_word: int) -> np.ndarray:
    """Element values -> stream words in transfer order, as lanes: (words, elems_per_word) raw bit patterns,
    lane j of a row being the word's bits [j*b, (j+1)*b). The vectorised form of ``pack_stream``."""
    raw = encode(np.asarray(values).reshape(-1), elem_type, lane_dtype(elem_type.bits))
    if raw.size % elems_per_word:
        raise ValueError(f"{raw.size} elements do not fill words of {elems_per_word}")
    return raw.reshape(-1, elems_per_word)


def lanes_to_words(lanes: np.ndarray, bits: int) -> list[int]:
    """Rows of lanes (``stream_lanes``) -> the words as integers, lane 0 at the least significant bits."""
    return _join(np.asarray(lanes).reshape(len(lanes), -1), bits)


def pack_stream(values: np.ndarray, elem_type: IntType, elems_per_word: int) -> list[int]:
    """A frame (or a batch of frames) of element values -> stream words in transfer order."""
    return lanes_to_words(stream_lanes(values, elem_type, elems_per_word), elem_type.bits)


def unpack_stream(words: Sequence[int], elem_type: IntType, elems_per_word: int, shape: Iterable[int]) -> np.ndarray:
    """Stream words -> element values of the given shape (int64)."""
    raw = _split(words, elems_per_word, elem_type.bits)
    return decode(raw.reshape(-1), elem_type).reshape(tuple(shape))


def weight_fields(w: np.ndarray, pe: int, simd: int, wtype: IntType = BIPOLAR) -> np.ndarray:
    """(mw, mh) weights of ``wtype`` -> (WMEM, PE*SIMD) raw lane patterns in memory order (lane p*SIMD + s)."""
    mw, mh = w.shape
    sf, nf = mw // simd, mh // pe
    raw = encode(np.asarray(w), wtype)
    # raw[sf*SIMD + s, nf*PE + p] -> [nf, sf, p, s]
    t = raw.reshape(sf, simd, nf, pe).transpose(2, 0, 3, 1)
    return t.reshape(nf * sf, pe * simd)


def weight_words(w: np.ndarray, pe: int, simd: int, wtype: IntType = BIPOLAR) -> list[int]:
    """(mw, mh) weights -> WMEM words of PE*SIMD*b bits (b = wtype.bits), address nf*SF + sf, lane (p, s) at
    bits [(p*SIMD + s)*b, (p*SIMD + s + 1)*b)."""
    return _join(weight_fields(w, pe, simd, wtype), wtype.bits)


def weight_words_per_pe(w: np.ndarray, pe: int, simd: int, wtype: IntType = BIPOLAR) -> list[list[int]]:
    """One memory per PE: PE lists of WMEM words of SIMD*b bits (the PE's slice of ``weight_words``)."""
    f = weight_fields(w, pe, simd, wtype).reshape(-1, pe, simd)
    return [_join(f[:, p, :], wtype.bits) for p in range(pe)]


def ternary_lane_offsets(w: np.ndarray, in_type: IntType) -> np.ndarray:
    """mvu.sv TERNARY (weights in {-1, 0, 1} as sign s and nonzero n): the weight-only part of each lane's product
    x*w = n*V(x ^ s) + o(w), which the heap leaves out (mvu_heap_fn.svh kt_*): o = (1 - 2^bits) for w = -1 on an
    unsigned x (-x = ~x + 1 - 2^bits), 1 for w = -1 on a signed x (-x = ~x + 1), -1 for w = ±1 on a ±1 x
    (x*w = 2*n*(x_0 ^ s) - n); 0 otherwise. Shape of ``w`` (mw, mh)."""
    w = np.asarray(w, dtype=np.int64)
    if in_type.bipolar:
        return -(w != 0).astype(np.int64)
    return (w < 0).astype(np.int64) * (1 if in_type.signed else 1 - (1 << in_type.bits))


def ternary_heap_constant(mw: int, in_type: IntType) -> int:
    """mvu.sv TERNARY's ACC_INIT (SF * mvu_heap_fn.svh kt_const): the constant of the heap's complemented sign bits
    over a whole vector, -mw * 2^(bits-1) for a signed multi-bit input and 0 otherwise (unsigned or ±1)."""
    return -mw << (in_type.bits - 1) if in_type.signed and not in_type.bipolar else 0


def threshold_words(t: np.ndarray, pe: int, ttype: IntType) -> list[int]:
    """(mh, n) thresholds -> NF words; lane (p, i) at bits [(p*n + i)*tb, ...) in two's complement."""
    mh, n = t.shape
    nf = mh // pe
    raw = encode(t, ttype).reshape(nf, pe * n)
    return _join(raw, ttype.bits)


def pad_pattern_words(padded: np.ndarray) -> list[int]:
    """(n, k) bool, which kernel rows (or columns) of each output row (column) lie in the padding (sim/golden.py
    padded_rows_cols) -> n words of k bits, kernel row/column j at bit j."""
    return _join(np.asarray(padded, dtype=np.uint64), 1)


def hex_digits(width_bits: int) -> int:
    return max(1, (width_bits + 3) // 4)


def write_memh(path: str | Path, words: Sequence[int], width_bits: int) -> None:
    """One word per line in hex, zero-padded to the word width ($readmemh format)."""
    nd = hex_digits(width_bits)
    limit = 1 << width_bits
    lines = []
    for i, w in enumerate(words):
        if w < 0 or w >= limit:
            raise ValueError(f"{path}: word {i} = {w:#x} does not fit {width_bits} bits")
        lines.append(f"{w:0{nd}x}")
    Path(path).write_text("\n".join(lines) + "\n")


def read_memh(path: str | Path) -> list[int]:
    out = []
    for line in Path(path).read_text().splitlines():
        line = line.split("//")[0].strip()
        if line and not line.startswith("@"):
            out.append(int(line, 16))
    return out


# -- the board shell's wire layout (hw_templates/board/shell_unpack.sv and shell_pack.sv) -------------------
# A frame of W-bit stream words travels as bytes: W <= 8: 8 // W words per byte, the first at the least
# significant bits; W > 8: ceil(W / 8) bytes per word, little-endian. Every frame starts on a new byte.
def wire_layout(width: int) -> tuple[int, int]:
    """(words per byte, bytes per word) of ``width``-bit words on the wire."""
    return (8 // width, 1) if width <= 8 else (1, (width + 7) // 8)


def wire_bytes_per_frame(width: int, words_per_frame: int) -> int:
    wpb, bpw = wire_layout(width)
    return -(-words_per_frame // wpb) * bpw


def pack_wire(words: Sequence[int], width: int, words_per_frame: int) -> bytes:
    """Stream words (whole frames, as pack_stream returns them) -> the bytes the shell takes."""
    n = len(words) // words_per_frame
    if n * words_per_frame != len(words):
        raise ValueError(f"{len(words)} words are not whole frames of {words_per_frame}")
    wpb, bpw = wire_layout(width)
    if width > 8:
        return b"".join(int(w).to_bytes(bpw, "little") for w in words)
    per = -(-words_per_frame // wpb)
    a = np.zeros((n, per * wpb), dtype=np.uint16)
    a[:, :words_per_frame] = np.asarray(words, dtype=np.uint16).reshape(n, words_per_frame)
    shifts = (np.arange(wpb, dtype=np.uint16) * width)[None, None, :]
    return (a.reshape(n, per, wpb) << shifts).sum(axis=2).astype(np.uint8).tobytes()


def unpack_wire(data: bytes, width: int, words_per_frame: int) -> list[int]:
    """Bytes of whole frames from the shell -> stream words (the inverse of pack_wire)."""
    wpb, bpw = wire_layout(width)
    per = wire_bytes_per_frame(width, words_per_frame)
    n = len(data) // per
    if n * per != len(data):
        raise ValueError(f"{len(data)} bytes are not whole frames of {per}")
    if width > 8:
        return [int.from_bytes(data[i:i + bpw], "little") for i in range(0, len(data), bpw)]
    b = np.frombuffer(data, dtype=np.uint8).reshape(n, per, 1).astype(np.uint16)
    shifts = (np.arange(wpb, dtype=np.uint16) * width)[None, None, :]
    w = ((b >> shifts) & ((1 << width) - 1)).reshape(n, per * wpb)[:, :words_per_frame]
    return w.reshape(-1).tolist()


# -- AXI DMA beats (hw_templates/board/axis_wrap.sv): a W-bit word zero-extended to a power-of-two byte width --
def dma_bytes(width: int) -> int:
    b = 1
    while 8 * b < width:
        b *= 2
    return b


def pack_dma(words: Sequence[int], width: int) -> np.ndarray:
    """Stream words -> (n_words, dma_bytes(width)) uint8, little-endian beats (what the DMA reads from DDR)."""
    nb = dma_bytes(width)
    return np.frombuffer(b"".join(int(w).to_bytes(nb, "little") for w in words), dtype=np.uint8).reshape(-1, nb)


def unpack_dma(beats: np.ndarray, width: int) -> list[int]:
    """(n_words, dma_bytes(width)) uint8 from the DMA -> stream words (bits above ``width`` must be zero)."""
    mask = (1 << width) - 1
    words = [int.from_bytes(bytes(row), "little") for row in np.asarray(beats, dtype=np.uint8)]
    bad = next((i for i, w in enumerate(words) if w & ~mask), None)
    if bad is not None:
        raise ValueError(f"DMA beat {bad} = {words[bad]:#x} has bits above the {width}-bit word")
    return words
