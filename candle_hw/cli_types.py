"""argparse ``type=`` functions: every option is checked, with its range, while the command line is parsed.

A bad value ends the command before any work with one line that names the option and the value (argparse adds
``argument --clock-mhz:`` in front of the message raised here), exit code 2. Ranges are what makes sense for the
hardware or the data, not what Python can represent: a zero clock, a negative sample count, a stall probability
of 1 (the design would never see a valid word) or 10**30 epochs are refused here, not deep inside a pass.
"""
from __future__ import annotations

import argparse
import math
import re
from typing import Callable

SEED_MAX = 2**32 - 1


def int_range(lo: int, hi: int) -> Callable[[str], int]:
    """An integer in [lo, hi]."""

    def parse(text: str) -> int:
        try:
            v = int(text.strip(), 10)
        except (ValueError, AttributeError):
            raise argparse.ArgumentTypeError(f"expected an integer in [{lo}, {hi}], got {text!r}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{v} is outside [{lo}, {hi}]")
        return v

    parse.__name__ = f"int in [{lo}, {hi}]"
    parse.bounds = (lo, hi)  # type: ignore[attr-defined]
    return parse


def float_range(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False) -> Callable[[str], float]:
    """A finite float in the interval; ``lo_open``/``hi_open`` exclude the ends."""
    interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"

    def parse(text: str) -> float:
        try:
            v = float(text)
        except (ValueError, TypeError):
            raise argparse.ArgumentTypeError(f"expected a number in {interval}, got {text!r}") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"expected a finite number in {interval}, got {text!r}")
        if v < lo or v > hi or (lo_open and v == lo) or (hi_open and v == hi):
            raise argparse.ArgumentTypeError(f"{v:g} is outside {interval}")
        return v

    parse.__name__ = f"number in {interval}"
    parse.bounds = (lo, hi)  # type: ignore[attr-defined]
    return parse


seed = int_range(0, SEED_MAX)
clock_mhz = float_range(0.0, 2000.0, lo_open=True)
timeout_s = float_range(0.0, 7 * 24 * 3600.0, lo_open=True)
# a stall probability of 1 would never let a word through: the simulation could not end
stall_probability = float_range(0.0, 1.0, hi_open=True)


def fps(text: str) -> float | str:
    """A target throughput in frames/s, or 'max' (the fastest design that fits)."""
    if text.strip().lower() == "max":
        return "max"
    try:
        return float_range(0.0, 1e12, lo_open=True)(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a number of frames/s in (0, 1e+12] or 'max', got {text!r}") from None


fps.bounds = (0.0, 1e12)  # type: ignore[attr-defined]


def device(text: str) -> str:
    """A device (or alias) of candle_hw/devices.json."""
    from candle_hw.devices import device_names, get_device

    try:
        get_device(text)
    except Exception:
        raise argparse.ArgumentTypeError(f"unknown device {text!r} (devices: {', '.join(device_names())})") from None
    return text


_TORCH_DEVICE = re.compile(r"^(auto|cpu|cuda|cuda:\d{1,2}|mps)$")


def torch_device(text: str) -> str:
    """auto | cpu | cuda | cuda:N | mps."""
    if not _TORCH_DEVICE.match(text):
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda, cuda:N or mps, got {text!r}")
    return text


def run_name(text: str) -> str:
    """A run folder name: one path component (no '/', not '.' or '..', not empty)."""
    if not text or text in (".", "..") or "/" in text or "\\" in text or "\0" in text or len(text) > 200:
        raise argparse.ArgumentTypeError(f"expected a folder name (no '/', not '.' or '..', at most 200 characters), "
                                         f"got {text[:60]!r}")
    return text


def int_list(lo: int, hi: int) -> Callable[[str], list[int]]:
    """A comma-separated list of integers in [lo, hi] (e.g. 128,224,480)."""
    one = int_range(lo, hi)

    def parse(text: str) -> list[int]:
        parts = [p for p in text.split(",") if p.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"expected a comma list of integers in [{lo}, {hi}], got {text!r}")
        return [one(p) for p in parts]

    parse.__name__ = f"comma list of integers in [{lo}, {hi}]"
    return parse
