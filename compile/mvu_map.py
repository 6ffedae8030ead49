"""How a MatrixVectorUnit maps onto mvu.sv: which datapath it runs and where its memories go.

These are compiler decisions, not facts of the block (those live in hw_templates/__init__.py): the emitter
(compile/emit.py) turns them into HDL parameters (TERNARY, THRESH_STYLE, WEIGHT_STYLE) and the resource model
(compile/estimate.py) charges for the same choices, so both read them here and neither imports the other. Each is
a function of the node and its parameters, evaluated where it is needed rather than stored in the IR, so a
dataflow.json records only what the user or a pass chose (``weight_style`` "auto" stays "auto").
"""
from __future__ import annotations

import numpy as np

from candle_hw.compile.ir import MatrixVectorUnit
from candle_hw.sim.cycle_models import mvu_ternary_fits
from candle_hw.sim.packing import ternary_heap_constant, ternary_lane_offsets
from candle_hw.types import IntType, sint

# Weight memories up to this depth go to LUT RAM under weight_style "auto": a block RAM would be mostly empty.
DISTRIBUTED_MAX_WMEM = 64


def weight_style(node: MatrixVectorUnit) -> str:
    """mvu.sv's WEIGHT_STYLE: the node's own choice, or for "auto" LUT RAM up to DISTRIBUTED_MAX_WMEM words and
    block RAM beyond."""
    if node.weight_style != "auto":
        return node.weight_style
    return "distributed" if node.wmem <= DISTRIBUTED_MAX_WMEM else "block"


def threshold_style(node: MatrixVectorUnit, ternary: bool) -> str:
    """mvu.sv's THRESH_STYLE: the threshold ROM (NF words) goes to block RAM where its read is registered (the
    ternary datapath) and it is deeper than DISTRIBUTED_MAX_WMEM words, the same bound as "auto" weights: up to 64
    words a LUT ROM costs one LUT6 per bit, deeper ones one per bit per 64 words, while a BRAM18 holds 512 x 36
    bits (W2A2 CNV: fc1's and conv5's 256-word, fc0's 512-word ROMs). compile/estimate.py counts such a ROM as
    BRAM18 (mvu_resources)."""
    return "block" if ternary and node.nf > DISTRIBUTED_MAX_WMEM else "distributed"


def ternary_weights(node: MatrixVectorUnit, w: np.ndarray) -> bool:
    """The part of the ternary test that no folding changes: a thresholded k-bit unit whose 2-bit signed weights
    are all in {-1, 0, 1}. The folding search evaluates it once per unit and ``runs_ternary`` per PE/SIMD."""
    if node.binary_xnor or node.weight_type != sint(2) or not node.n_thresholds:
        return False
    w = np.asarray(w)
    return not (w.size and w.min() < -1)


def runs_ternary(node: MatrixVectorUnit, weights_ternary: bool) -> bool:
    """Whether the unit runs mvu.sv's TERNARY datapath at its folding, given ``ternary_weights`` of its weights: the
    ternary heap must not be slower than the plain one at this SIMD (sim/cycle_models.py mvu_ternary_fits)."""
    return weights_ternary and mvu_ternary_fits(node)


def ternary_spec(node: MatrixVectorUnit, w: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, IntType, IntType] | None:
    """mvu.sv's TERNARY datapath, where it applies: (thresholds, their type, accumulator type) as the unit sees them.

    It applies to a thresholded unit whose 2-bit signed weights are all in {-1, 0, 1} (Brevitas' narrow INT2) and
    whose ternary heap is not slower than the plain one (sim/cycle_models.py mvu_ternary_fits). The unit then
    accumulates acc' = acc - o_r, o_r the channel's sum of weight-only lane terms (sim/packing.py
    ternary_lane_offsets), and compares it with T - o_r, clipped per channel to [lo'_r, hi'_r + 1] (exact, as in
    compile/emit.py threshold_spec); the accumulator type is that of acc' over all channels. The unit's accumulator
    holds acc' - T'_0, so its sign is the first comparison: the memory holds its start value ACC_INIT - T'_0 (ACC_INIT
    the heap's constant, sim/packing.py ternary_heap_constant; loaded as is, no subtraction in the unit) and, for
    i > 0, the differences T'_i - T'_0 (>= 0 for sorted thresholds), compared with acc' - T'_0. The threshold type
    covers every value that accumulator takes (from the start values, as the heap's steps are non-negative, up to
    hi' - lo'): mvu.sv makes it that wide.
    """
    if not runs_ternary(node, ternary_weights(node, w)):
        return None
    w = np.asarray(w, dtype=np.int64)
    it = node.in_type
    lane_off = ternary_lane_offsets(w, it)
    ends = [xv * w - lane_off for xv in ((-1, 1) if it.bipolar else (it.min, it.max))]
    lo = np.minimum(*ends).sum(axis=0)
    hi = np.maximum(*ends).sum(axis=0)
    off = lane_off.sum(axis=0)
    tp = np.clip(np.asarray(t, dtype=np.int64) - off[:, None], lo[:, None], hi[:, None] + 1)
    tp[:, 1:] -= tp[:, :1]  # the others compare with acc' - T'_0
    tp[:, 0] = ternary_heap_constant(node.mw, it) - tp[:, 0]  # the accumulator's start value
    lo_all, hi_all = int(lo.min()), int(hi.max())
    return (tp, IntType.for_range(min(lo_all, 0, int(tp.min())), max(hi_all + 1, hi_all - lo_all + 1, int(tp.max()))),
            IntType.for_range(lo_all, hi_all))
