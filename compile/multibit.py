"""Multi-bit activations (FINN's MultiThreshold): a monotone tail ending in an n-bit ``Quant`` becomes
L = qmax - qmin thresholds per channel (2^n - 1, or 2^n - 2 with narrow range), out = sum_i [acc >= T_i].

The element the dataflow carries is the count q - qmin in [0, L] (the unsigned quantized integer itself when
qmin = 0). For a signed ``Quant`` the next layer accumulates the counts and the frontend adds the per-channel
constant qmin * sum_k W[k, c] wherever it turns an accumulator into the ONNX value (host_ir accumulator_value),
so thresholds and the epilogue absorb the offset; a max-pool commutes with it, and padding uses the count of 0.
Each level i (q >= qmin + i) is a step of the monotone tail, found by the same qonnx-driven bisection as a
binary layer's threshold (compile/tails.py derive_thresholds), all levels and channels in one search.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import onnx

from candle_hw.compile.tails import TailError, derive_thresholds
from candle_hw.errors import UserError

# widest multi-bit activation mapped to thresholds (2^n - 1 comparators per channel)
MAX_ACT_BITS = 4


class MultiBitError(UserError):
    """A multi-bit quantizer or tail that cannot become thresholds; the message names the node or channel."""


@dataclass(frozen=True)
class Levels:
    """The integer range [qmin, qmax] of an n-bit ``Quant`` output (real value = q * scale)."""

    qmin: int
    qmax: int

    @property
    def count(self) -> int:
        return self.qmax - self.qmin


def quant_levels(node: onnx.NodeProto, bits: int, signed: bool, narrow: bool) -> Levels | None:
    """None for a 1-bit signed quantizer (a bipolar step); the range of a supported multi-bit one; else refuse."""
    if bits == 1 and signed:
        return None
    if bits < 2 or bits > MAX_ACT_BITS:
        raise MultiBitError(f"{node.name} (Quant): bit width {bits} is not supported for activations "
                            f"(1-bit signed or 2..{MAX_ACT_BITS}-bit)")
    if signed:
        return Levels(-(1 << (bits - 1)) + int(narrow), (1 << (bits - 1)) - 1)
    return Levels(0, (1 << bits) - 1 - int(narrow))


def level_probe(name: str, run: Callable[[np.ndarray], np.ndarray], levels: Levels, out_scale: float):
    """acc (rows, mh) -> q - qmin, the quantizer's level as qonnx computes it (``run``: acc -> Quant output)."""
    values = (np.arange(levels.qmin, levels.qmax + 1, dtype=np.float32) * np.float32(out_scale)).astype(np.float32)

    def level(acc: np.ndarray) -> np.ndarray:
        out = run(acc)
        idx = np.clip(np.searchsorted(values, out), 0, values.size - 1)
        bad = values[idx] != out
        if bad.any():
            r, c = (int(i) for i in np.argwhere(bad)[0])
            raise MultiBitError(f"{name}: channel {c}: quantizer output {float(out[r, c])!r} is not one of "
                                f"q * {out_scale!r}, q in [{levels.qmin}, {levels.qmax}]")
        return idx

    return level


def derive_levels(name: str, level: Callable[[np.ndarray], np.ndarray], lo: int, hi: int, mh: int,
                  n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per level i = 1..n and channel: compile/tails.py's (threshold, falling) for the step [level >= i].
    Returns (n, mh) arrays; level i and channel c are virtual channel i*mh + c of one bisection."""
    steps = np.repeat(np.arange(1, n + 1), mh)

    def is_on(acc: np.ndarray) -> np.ndarray:
        rows = acc.shape[0]
        lv = level(acc.reshape(rows * n, mh)).reshape(rows, n * mh)
        return lv >= steps[None, :]

    t, flip = derive_thresholds(name, is_on, lo, hi, n * mh)
    return t.reshape(n, mh), flip.reshape(n, mh)


def channel_thresholds(name: str, t: np.ndarray, flip: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """The per-level steps as one direction per channel: (n, mh) thresholds and the (mh,) flip flag.

    A falling channel is thresholded on -acc (its weight column negated): the falling steps already hold
    -a (on iff -acc >= -a); a constant level becomes always on (-hi) or off (-lo + 1) on that domain.
    Levels of one channel rising and others falling mean the tail is not monotone: refused."""
    const_on, const_off = ~flip & (t == lo), ~flip & (t == hi + 1)
    rising = ~flip & ~const_on & ~const_off
    falling = flip.any(axis=0)
    mixed = np.flatnonzero(falling & rising.any(axis=0))
    if mixed.size:
        raise MultiBitError(f"{name}: channel {int(mixed[0])}: the quantizer's levels rise and fall with the "
                            "accumulator (not monotone); cannot map to thresholds")
    on_dom = np.where(const_on, -hi, np.where(const_off, -lo + 1, t))
    out = np.where(falling[None, :], on_dom, t)
    unsorted = np.flatnonzero(np.any(np.diff(out, axis=0) < 0, axis=0))
    if unsorted.size:
        raise MultiBitError(f"{name}: channel {int(unsorted[0])}: thresholds {out[:, unsorted[0]].tolist()} are "
                            "not increasing with the level (not monotone)")
    return out, falling


def sum_thresholds(name: str, run: Callable[[np.ndarray], np.ndarray], lo: int, hi: int, channels: int, levels,
                   out_scale: float, falling: Callable[[int], Exception]) -> tuple[np.ndarray, int]:
    """Thresholds of a standalone Thresholding on an integer sum in [lo, hi] (a global pool's, a residual add's).

    ``run(s)`` maps (rows, channels) sums to qonnx's quantizer output on them; ``levels`` is None for a bipolar
    quantizer (one threshold), else the multi-bit quantizer's (one threshold per level).
    The unit cannot negate its input, so a falling channel is refused by raising ``falling(channel)``. Returns the
    (channels, n) thresholds clipped to [lo, hi + 1] and n."""
    if levels is None:
        def is_on(s: np.ndarray) -> np.ndarray:
            out = run(s)
            bad = ~np.isin(out, (-out_scale, out_scale))
            if bad.any():
                raise TailError(f"{name}: channel {int(np.argwhere(bad)[0][1])}: quantizer output {out[bad][0]}, "
                                f"expected ±{out_scale}")
            return out > 0

        thr, flip = derive_thresholds(name, is_on, lo, hi, channels)
        thr = thr[None, :]
    else:
        raw, raw_flip = derive_levels(name, level_probe(name, run, levels, out_scale), lo, hi, channels, levels.count)
        thr, flip = channel_thresholds(name, raw, raw_flip, lo, hi)
    if flip.any():
        raise falling(int(np.flatnonzero(flip)[0]))
    return np.ascontiguousarray(np.clip(thr, lo, hi + 1).T).astype(np.int64), thr.shape[0]
