"""Integer element types shared by the compiler, the simulators and the RTL emitter (torch-free).

A stream element is either BIPOLAR (values -1/+1, carried as one bit: bit 1 <-> +1, bit 0 <-> -1) or an
n-bit integer, signed (two's complement) or unsigned. FINN calls these BIPOLAR, INTn, UINTn.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IntType:
    """An integer element type. ``bipolar`` types have bits == 1 and values {-1, +1}."""

    bits: int
    signed: bool
    bipolar: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.bits, int) or self.bits < 1 or self.bits > 64:
            raise ValueError(f"IntType: bits={self.bits!r} must be an integer in [1, 64]")
        if self.bipolar and self.bits != 1:
            raise ValueError(f"IntType: a bipolar type has 1 bit, got bits={self.bits}")

    @property
    def min(self) -> int:
        if self.bipolar:
            return -1
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        if self.bipolar:
            return 1
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def name(self) -> str:
        if self.bipolar:
            return "BIPOLAR"
        return f"{'INT' if self.signed else 'UINT'}{self.bits}"

    def __str__(self) -> str:
        return self.name

    def contains(self, lo: int, hi: int) -> bool:
        return self.min <= lo and hi <= self.max

    @staticmethod
    def from_name(name: str) -> "IntType":
        if name == "BIPOLAR":
            return BIPOLAR
        if name == "BINARY":
            return IntType(1, False)
        for prefix, signed in (("UINT", False), ("INT", True)):
            if name.startswith(prefix) and name[len(prefix):].isdigit():
                return IntType(int(name[len(prefix):]), signed)
        raise ValueError(f"unknown integer type name {name!r}")

    @staticmethod
    def for_range(lo: int, hi: int) -> "IntType":
        """Smallest type holding every integer in [lo, hi]."""
        lo, hi = int(lo), int(hi)
        if lo > hi:
            raise ValueError(f"IntType.for_range: empty range [{lo}, {hi}]")
        if lo >= 0:
            return IntType(max(1, hi.bit_length()), False)
        bits = max((-lo - 1).bit_length(), hi.bit_length() if hi > 0 else 0) + 1
        return IntType(bits, True)


BIPOLAR = IntType(1, True, bipolar=True)


def type_values(t: IntType):
    """Every value of ``t`` in increasing order, as float32 (the order of an input table's rows)."""
    import numpy as np

    return np.array([-1.0, 1.0], np.float32) if t.bipolar else np.arange(t.min, t.max + 1, dtype=np.float32)


def value_index(x, t: IntType):
    """The position in ``type_values(t)`` of each value of ``x`` (values of ``t``, checked by the caller)."""
    import numpy as np

    x = np.asarray(x)
    return ((x + 1) // 2 if t.bipolar else x - t.min).astype(np.int64)


def uint(bits: int) -> IntType:
    return IntType(bits, False)


def sint(bits: int) -> IntType:
    return IntType(bits, True)


def clog2(n: int) -> int:
    """Bits needed to address n items (ceil(log2(n)), at least 1)."""
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1
