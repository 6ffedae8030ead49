"""The k-bit matrix-vector unit's LUT model (compile/estimate.py mvu_resources) against Yosys, fitted and checked.

Synthesises (Yosys ``synth_xilinx -family xc7``, xc7z020, each unit alone as a one-node graph through
compile/emit.py and compile/synth.py, cached per config in WORK/<config>.json) a set of k-bit MVUs that differ in
PE, SIMD, weight bits, input bits/kind, thresholds and datapath (ternary or partial-product heap) with seeded
random weights, and, with ``--build DIR``, every k-bit MVU of a compiled build as it stands there (its folding, its
trained weights and thresholds; cached in WORK/<build folder's name>.<node>.json), then:

- ``--fit``: fits the k-bit coefficients of the model (non-negative least squares on all configs, LUT minus the
  model's weight-ROM and input-buffer terms, which are not refitted) and prints them, for compile/estimate.py;
- always: the model's LUT (compile/estimate.py as it stands) beside Yosys' for every config, and, as the error on
  points not used for a fit, each config predicted by the same formula fitted on the other configs
  (leave-one-out), with the mean absolute errors; the same for the flip-flops (compile/estimate.py MVU_FF_COEF,
  one model for every MVU), fitted with ``--fit`` on these units and, with ``--ff-builds DIR ...``, on every MVU of
  those synthesised builds (their per-block FF in DIR/reports/synth.json; the ±1-weight units among them).

The fit of MVU_FF_COEF: the 28 units above and the 27 MVUs of the three xc7z020@3000 candidates of the CIFAR-10-LT
co-design run (runs/codesign_cifar10_lt100/candidates/{2026052f55447b12,7e9b18c9074c6bd0,7f4468969f3040bb}/targets/
xc7z020@3000/build, each synthesised whole by `candle-hw synth`):

    python bench/kbit_mvu_model.py --work W --fit --build cnv_w2a2_fps3000 cnv_w2a2_finn_fc0block --ff-builds C1 C2 C3

    python bench/kbit_mvu_model.py [--work DIR] [--fit] [--build DIR ...]

The fit of compile/estimate.py KBIT_COEF: the shipped W2A2 student at the folding ``--fps 3000`` picked at 7bf812b
(bench/data/cnv_w2a2_lt10_fps3000_folding.json: conv0-5 PE 2/16/4/8/2/1, SIMD 27/64/96/64/48/18; fc0-2 PE 1,
SIMD 4/8/1) and the zoo's cnv_w2a2 at finn-examples' folding with fc0's weights in block RAM (bench/w2a2_cnv.py's
build):

    candle-hw export candle_hw/models/students/cifar10_lt10_cnv_w2a2_cd_ft.npz -o s.onnx
    candle-hw compile s.onnx -o cnv_w2a2_fps3000 --target xc7z020 --folding bench/data/cnv_w2a2_lt10_fps3000_folding.json
    (cd bench && python -c "import w2a2_cnv as m, pathlib as p; m.compiled('cnv_w2a2', p.Path('W2'), 0, {'fc0': 'block'})")
    cp -r bench/W2/cnv_w2a2@fc0=block/build cnv_w2a2_finn_fc0block
    python bench/kbit_mvu_model.py --work W --fit --build cnv_w2a2_fps3000 cnv_w2a2_finn_fc0block

``--lut4 DEVICE`` (e.g. ecp5-85k) instead synthesises every unit (the configs, the ``--build`` units and
OTHER_UNITS: ±1-weight units, LUT-ROM-weight units and the other blocks of a network) for that LUT4 device too
(cached in WORK/<unit>.<device>.json) and prints, per unit, xc7 LUT, LUT4, their ratio and compile/estimate.py's
conversion (device_lut) with its error, fitted on all units and left out, and the estimate on the device; the
fit of LUT4_PER_LUT6 (``--only a,b`` restricts the units, e.g. for a check on iCE40):

    python bench/kbit_mvu_model.py --work W --lut4 ecp5-85k --build B_old

B_old: the 73.90 % W2A2 student (cifar10_lt100_cnv_w2a2_cd_xf_adj.npz) compiled for ecp5-85k with ``--folding
bench/data/cnv_w2a2_lt100_ecp5_85k_fpsmax_old_folding.json`` (the folding --fps max picked with the former single
factor).

``--random conv0`` adds the named build units once more with the configs' kind of random weights and thresholds
(a check that trained weights cost what random ones do; not meant for the fit).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from candle_hw.compile.emit import emit_rtl
from candle_hw.compile.estimate import mvu_ff_terms, kbit_lut_terms, mvu_resources
from candle_hw.compile.ir import (
    DataflowGraph, MatrixVectorUnit, MaxPool, SlidingWindow, StreamFIFO, StreamType, Thresholding, WidthConverter,
)
from candle_hw.compile.mvu_map import ternary_spec
from candle_hw.compile.synth import synthesize
from candle_hw.types import BIPOLAR, IntType, sint, uint


@dataclass(frozen=True)
class Config:
    name: str
    mw: int
    mh: int
    pe: int
    simd: int
    in_type: IntType
    w_type: IntType
    n_thresh: int
    narrow: bool = False  # INT2 weights in {-1, 0, 1} (the ternary datapath)
    style: str = "block"


CONFIGS = [
    Config("tern_u2_p4s16_t3", 144, 16, 4, 16, uint(2), sint(2), 3, narrow=True),
    Config("pp_u2_p4s16_t3", 144, 16, 4, 16, uint(2), sint(2), 3),
    Config("tern_u8_p8s3_t2", 27, 16, 8, 3, uint(8), sint(2), 2, narrow=True),
    Config("pp_s4w4_p2s8_t1", 64, 8, 2, 8, sint(4), sint(4), 1),
    Config("pp_bipw3_p4s8_t2", 64, 16, 4, 8, BIPOLAR, sint(3), 2),
    Config("pp_u2w3_p8s4_t3", 128, 16, 8, 4, uint(2), sint(3), 3),
    Config("tern_u2_p8s8_t2", 288, 32, 8, 8, uint(2), sint(2), 2, narrow=True),
    Config("pp_u2_p2s32_acc", 64, 8, 2, 32, uint(2), sint(2), 0),
    Config("tern_bip_p4s16_t1", 64, 16, 4, 16, BIPOLAR, sint(2), 1, narrow=True),
    Config("pp_s3w4_p4s4_t3", 48, 8, 4, 4, sint(3), sint(4), 3),
]


def random_params(rng: np.random.Generator, mw: int, mh: int, in_type: IntType, w_type: IntType, narrow: bool,
                  n_thresh: int) -> tuple[np.ndarray, np.ndarray | None, int, int]:
    """Seeded weights, uniform over the type ({-1, 0, 1} if narrow), and sorted thresholds uniform over the whole
    accumulator range (lo, hi + 1): (weights, thresholds or None, lo, hi)."""
    w = rng.integers(-1 if narrow else w_type.min, w_type.max + 1, size=(mw, mh))
    xs = (-1, 1) if in_type.bipolar else (in_type.min, in_type.max)
    ends = [x * w for x in xs]
    lo, hi = int(np.minimum(*ends).sum(axis=0).min()), int(np.maximum(*ends).sum(axis=0).max())
    t = np.sort(rng.integers(lo, hi + 2, size=(mh, n_thresh)), axis=1) if n_thresh else None
    return w, t, lo, hi


def build(c: Config, seed: int = 0) -> DataflowGraph:
    w, t, lo, hi = random_params(np.random.default_rng(seed), c.mw, c.mh, c.in_type, c.w_type, c.narrow, c.n_thresh)
    acc = IntType.for_range(lo, hi)
    out = acc if c.n_thresh == 0 else BIPOLAR if c.n_thresh == 1 else uint(c.n_thresh.bit_length())
    n = MatrixVectorUnit(c.name, c.mw, c.mh, c.pe, c.simd, c.in_type, acc, out, False, (4,), c.n_thresh,
                         weight_type=c.w_type, weight_style=c.style)
    params = {f"{c.name}.weights": w}
    if c.n_thresh:
        params[f"{c.name}.thresholds"] = t
    g = DataflowGraph((n,), params)
    assert (ternary_spec(n, w, params.get(f"{c.name}.thresholds", 0)) is not None) == (c.narrow and c.n_thresh > 0)
    return g


def xnor_unit(name: str, mw: int, mh: int, pe: int, simd: int, in_type: IntType, n_thresh: int,
              seed: int = 0) -> DataflowGraph:
    """A ±1-weight unit alone (XNOR popcount for a BIPOLAR input, else the integer-input lanes), seeded random
    weights and, with one threshold, a random threshold inside the accumulator range."""
    rng = np.random.default_rng(seed)
    xnor = in_type.bipolar
    bound = mw * max(abs(in_type.min), abs(in_type.max))
    lo, hi = (0, mw) if xnor else (-bound, bound)
    acc = IntType.for_range(lo, hi)
    params = {f"{name}.weights": rng.choice(np.array([-1, 1], dtype=np.int8), size=(mw, mh))}
    if n_thresh:
        params[f"{name}.thresholds"] = np.sort(rng.integers(lo, hi + 1, size=(mh, 1)), axis=1)
    n = MatrixVectorUnit(name, mw, mh, pe, simd, in_type, acc, BIPOLAR if n_thresh else acc, xnor, (4,), n_thresh)
    return DataflowGraph((n,), params)


def threshold_unit(name: str, channels: int, pe: int, in_type: IntType, n_thresh: int, seed: int = 0) -> DataflowGraph:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(in_type.min, in_type.max + 2, size=(channels, n_thresh)), axis=1)
    out = BIPOLAR if n_thresh == 1 else uint(n_thresh.bit_length())
    return DataflowGraph((Thresholding(name, channels, pe, in_type, out, n_thresh, (16, 16)),),
                         {f"{name}.thresholds": t})


# ±1-weight units and the other blocks of a network, each alone like the configs, for the LUT4 conversion
# (--lut4): its factor per kind of node is measured on these, not assumed
OTHER_UNITS = {
    "xnor_p4s32_t1": lambda n: xnor_unit(n, 288, 64, 4, 32, BIPOLAR, 1),
    "xnor_p16s16_t1": lambda n: xnor_unit(n, 256, 64, 16, 16, BIPOLAR, 1),
    "xnor_p8s64_acc": lambda n: xnor_unit(n, 512, 16, 8, 64, BIPOLAR, 0),
    "bipw_u8_p8s3_t1": lambda n: xnor_unit(n, 27, 64, 8, 3, uint(8), 1),
    "bipw_u4_p4s16_t1": lambda n: xnor_unit(n, 128, 32, 4, 16, uint(4), 1),
    # LUT-ROM weights (mvu_wrom; Yosys' rom_style "logic"), 16 and 64 words deep
    "tern_u2_p4s16_t3_rom": lambda n: build(replace(CONFIGS[0], name=n, style="distributed")),
    "pp_u2_p4s16_t3_rom": lambda n: build(replace(CONFIGS[1], name=n, style="distributed")),
    "tern_u2_p8s8_t2_rom": lambda n: build(replace(CONFIGS[6], name=n, style="distributed")),
    "swg_u2_s8": lambda n: DataflowGraph((SlidingWindow(n, (16, 16), 64, 3, 1, 0, 0, uint(2), 8),), {}),
    "swg_bip_s32": lambda n: DataflowGraph((SlidingWindow(n, (30, 30), 64, 3, 1, 0, -1, BIPOLAR, 32),), {}),
    "fifo_lutram_d32_w64": lambda n: DataflowGraph((StreamFIFO(n, StreamType(uint(2), (256, 64), 32), 32),), {}),
    "fifo_lutram_d64_w24": lambda n: DataflowGraph((StreamFIFO(n, StreamType(uint(2), (256, 60), 12), 64),), {}),
    "fifo_bram_d512_w32": lambda n: DataflowGraph((StreamFIFO(n, StreamType(uint(2), (256, 64), 16), 512),), {}),
    "dwc_up_u2_4to16": lambda n: DataflowGraph((WidthConverter(n, uint(2), (256, 64), 4, 16),), {}),
    "dwc_down_u2_64to8": lambda n: DataflowGraph((WidthConverter(n, uint(2), (256, 64), 64, 8),), {}),
    "maxpool_u2_p4": lambda n: DataflowGraph((MaxPool(n, (16, 16), 64, 2, 2, uint(2), 4),), {}),
    "maxpool_bip_p16": lambda n: DataflowGraph((MaxPool(n, (16, 16), 128, 2, 2, BIPOLAR, 16),), {}),
    "thr_s10_p4_t3": lambda n: threshold_unit(n, 64, 4, sint(10), 3),
    "thr_s8_p8_t3_nf8": lambda n: threshold_unit(n, 64, 8, sint(8), 3),
    "thr_s12_p16_t1": lambda n: threshold_unit(n, 128, 16, sint(12), 1),
}


def build_units(build_dir: Path, randomised: set[str]) -> list[tuple[str, DataflowGraph]]:
    """(name, one-node graph) of every k-bit-weight MVU of a compiled build, with its own parameters; and for the
    units named in ``randomised`` (by node name) the same unit once more, named <name>.random, with the configs'
    kind of parameters (random_params, seed 0: weights uniform over {-1, 0, 1} for ternary units where trained
    ones are about half zeros, thresholds spread over the whole accumulator range)."""
    from candle_hw.compile.pipeline import load_graph

    graph = load_graph(build_dir)
    units = []
    for n in graph.nodes:
        if isinstance(n, MatrixVectorUnit) and not n.binary_xnor and not n.weight_type.bipolar:
            params = {k: v for k, v in graph.params.items() if k.startswith(f"{n.name}.")}
            name = f"{build_dir.resolve().name}.{n.name}"
            units.append((name, DataflowGraph((n,), params)))
            if n.name in randomised:
                w = params[f"{n.name}.weights"]
                narrow = n.weight_type == sint(2) and int(np.min(w)) >= -1
                w, t, _, _ = random_params(np.random.default_rng(0), n.mw, n.mh, n.in_type, n.weight_type, narrow,
                                           n.n_thresholds)
                rparams = {f"{n.name}.weights": w} | ({f"{n.name}.thresholds": t} if t is not None else {})
                units.append((f"{name}.random", DataflowGraph((n,), rparams)))
    return units


def measure(name: str, g: DataflowGraph, work: Path, device: str = "xc7z020") -> dict:
    """Yosys' LUT, FF and BRAM_18K of the one-node graph on ``device`` (cached in WORK/<name>.json for xc7z020,
    WORK/<name>.<device>.json for any other; the Lattice families report block RAM as EBR, recorded as
    BRAM_18K)."""
    f = work / (f"{name}.json" if device == "xc7z020" else f"{name}.{device}.json")
    if f.is_file():
        return json.loads(f.read_text())
    b = work / (name if device == "xc7z020" else f"{name}.{device}")
    emit_rtl(g, b / "rtl")
    start = time.perf_counter()
    blk = synthesize(b, device)["blocks"][g.nodes[0].name]
    blk.setdefault("BRAM_18K", blk.get("EBR", 0))
    out = {k: blk[k] for k in ("LUT", "FF", "BRAM_18K")} | {"seconds": round(time.perf_counter() - start, 1)}
    work.mkdir(parents=True, exist_ok=True)
    f.write_text(json.dumps(out) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("bench_kbit_mvu_model"))
    ap.add_argument("--fit", action="store_true", help="fit the k-bit coefficients on the FIT configs and print them")
    ap.add_argument("--build", type=Path, nargs="*", default=[],
                    help="compiled builds whose k-bit MVUs join the configs (trained weights, the build's folding)")
    ap.add_argument("--ff-builds", type=Path, nargs="*", default=[],
                    help="synthesised builds whose MVUs (reports/synth.json) join the flip-flop fit")
    ap.add_argument("--random", default="", help="comma-separated node names of --build units to measure once more "
                    "with random weights and thresholds (the configs' kind)")
    ap.add_argument("--lut4", metavar="DEVICE", help="instead of the fits: synthesise every unit (the configs, the "
                    "--build units and OTHER_UNITS) for this LUT4 device too (e.g. ecp5-85k, ice40-up5k) and report "
                    "its LUTs per xc7 LUT6 by kind of node against compile/estimate.py LUT4_PER_LUT6")
    ap.add_argument("--only", default="", help="with --lut4: comma-separated unit names to measure and report "
                    "(default all)")
    args = ap.parse_args(argv)
    randomised = {s for s in args.random.split(",") if s}
    units = [(c.name, build(c)) for c in CONFIGS] + [u for b in args.build for u in build_units(b, randomised)]
    if args.lut4:
        only = {s for s in args.only.split(",") if s}
        units += [(k, f(k)) for k, f in OTHER_UNITS.items()]
        lut4_report([u for u in units if not only or u[0] in only], args.work, args.lut4)
        return 0
    rows = []
    for name, g in units:
        n = g.nodes[0]
        tern = ternary_spec(n, g.params[f"{n.name}.weights"], g.params.get(f"{n.name}.thresholds", 0)) is not None
        r = measure(name, g, args.work)
        print(f"  {name}: {r}", flush=True)
        rows.append((name, n, tern, r["LUT"], r["FF"]))
    from scipy.optimize import nnls

    def fit(sel: list[int]) -> np.ndarray:
        a = np.array([kbit_lut_terms(rows[i][1], rows[i][2])[0] for i in sel], dtype=float)
        b = np.array([rows[i][3] - kbit_lut_terms(rows[i][1], rows[i][2])[1] for i in sel], dtype=float)
        return nnls(a, b)[0]

    def predict(coef: np.ndarray, i: int) -> float:
        terms, fixed = kbit_lut_terms(rows[i][1], rows[i][2])
        return fixed + float(np.dot(coef, terms))

    if args.fit:
        print("fitted on all configs (per partial-product heap bit, per ternary heap bit, per PE accumulator bit, "
              "per PE comparator bit, per muxed block-RAM weight bit, per unit):",
              ", ".join(f"{v:.3f}" for v in fit(list(range(len(rows))))))
    # leave-one-out: each config predicted by the model fitted (same formula, NNLS) on the other configs
    loo = [predict(fit([j for j in range(len(rows)) if j != i]), i) for i in range(len(rows))]
    print(f"\n{'config':24} {'datapath':9} {'Yosys LUT':>9} {'model LUT':>9} {'error':>7} {'left-out fit':>12} "
          f"{'error':>7}")
    errs: dict[str, list[float]] = {"model": [], "left out": []}
    for (name, n, tern, lut, _), lo in zip(rows, loo):
        est = mvu_resources(n, ternary=tern)["LUT"]
        errs["model"].append(abs(est - lut) / lut)
        errs["left out"].append(abs(lo - lut) / lut)
        print(f"{name:24} {'ternary' if tern else 'heap':9} {lut:>9,} {est:>9,} {(est - lut) / lut:>+7.1%} "
              f"{lo:>12,.0f} {(lo - lut) / lut:>+7.1%}")
    for k, v in errs.items():
        print(f"mean |error| {k}: {np.mean(v):.1%} (max {np.max(v):.1%}, {len(v)} configs)")
    ff_report(rows + [u for b in args.ff_builds for u in synthesised_units(b)], args.fit)
    return 0


def lut4_report(units: list[tuple[str, DataflowGraph]], work: Path, device: str) -> None:
    """Each unit's Yosys LUTs on xc7z020 (LUT6) and on ``device`` (LUT4; ECP5 counts the LUT4s of its carry and
    RAM cells too), their ratio, and the conversion of compile/estimate.py (device_lut: the unit's lut4_factor,
    its model's shares times LUT4_PER_LUT6) applied to the measured LUT6 and to the model's (the estimate on the
    device); then LUT4_PER_LUT6 fitted (non-negative least squares on relative error, the measured LUT6 split by
    the model's shares) on all units and, per unit, on all the others (left out)."""
    from scipy.optimize import nnls

    from candle_hw.compile.estimate import (
        LUT4_PER_LUT6, device_lut, estimate_layer_resources, graph_ternary_weights, lut4_kind, lut4_shares,
    )
    from candle_hw.compile.mvu_map import runs_ternary
    from candle_hw.devices import get_device

    family = get_device(device).family
    keys = list(LUT4_PER_LUT6)
    rows = []
    for name, g in units:
        n = g.nodes[0]
        tern = isinstance(n, MatrixVectorUnit) and runs_ternary(n, graph_ternary_weights(g, n))
        x, y = measure(name, g, work)["LUT"], measure(name, g, work, device)["LUT"]
        print(f"  {name}: xc7 {x} LUT, {device} {y} LUT", flush=True)
        shares = lut4_shares(n, tern)
        feats = [x * shares.get(k, 0.0) for k in keys]
        rows.append((name, lut4_kind(n, tern), x, y, device_lut(n, x, family, tern), feats,
                     estimate_layer_resources(g, device)[n.name]["LUT"]))
    a = np.array([r[5] for r in rows])
    y = np.array([r[3] for r in rows], dtype=float)

    def fit(sel: list[int]) -> np.ndarray:
        return nnls(a[sel] / y[sel, None], np.ones(len(sel)))[0]

    coef = fit(list(range(len(rows))))
    print("fitted LUT4 per LUT6 on all units: " + ", ".join(f"{k} {v:.3f}" for k, v in zip(keys, coef)))
    print(f"\n{'unit':24} {'kind':7} {'xc7 LUT':>7} {'LUT4':>6} {'ratio':>5} {'model':>6} {'error':>7} "
          f"{'left-out':>8} {'error':>7} {'est LUT4':>8} {'error':>7}")
    errs: dict[str, dict[str, list[float]]] = {}
    for i, (name, kind, x, yy, conv, feats, est) in enumerate(rows):
        lo = float(a[i] @ fit([j for j in range(len(rows)) if j != i]))
        e = errs.setdefault(kind, {"model": [], "left out": [], "estimate": []})
        e["model"].append((conv - yy) / yy)
        e["left out"].append((lo - yy) / yy)
        e["estimate"].append((est - yy) / yy)
        print(f"{name:24} {kind:7} {x:>7,} {yy:>6,} {yy / x:>5.2f} {conv:>6,} {e['model'][-1]:>+7.1%} {lo:>8,.0f} "
              f"{e['left out'][-1]:>+7.1%} {est:>8,} {e['estimate'][-1]:>+7.1%}")
    for k, e in errs.items():
        print(f"{k} ({len(e['model'])} units): " + "; ".join(
            f"{what} mean |error| {np.mean(np.abs(v)):.1%} (max {np.max(np.abs(v)):.1%})" for what, v in e.items()))
    allv = {what: [v for e in errs.values() for v in e[what]] for what in ("model", "left out", "estimate")}
    print(f"all ({len(rows)} units): " + "; ".join(
        f"{what} mean |error| {np.mean(np.abs(v)):.1%} (max {np.max(np.abs(v)):.1%})" for what, v in allv.items()))


def synthesised_units(build_dir: Path) -> list[tuple[str, MatrixVectorUnit, bool, int, int]]:
    """(name, node, ternary, LUT, FF) of every MVU of a build synthesised whole (its reports/synth.json blocks)."""
    from candle_hw.compile.pipeline import load_graph

    graph = load_graph(build_dir)
    blocks = json.loads((build_dir / "reports" / "synth.json").read_text())["blocks"]
    rows = []
    for n in graph.nodes:
        if isinstance(n, MatrixVectorUnit) and n.name in blocks:
            w, t = graph.params.get(f"{n.name}.weights"), graph.params.get(f"{n.name}.thresholds")
            tern = w is not None and t is not None and not n.binary_xnor and ternary_spec(n, w, t) is not None
            b = blocks[n.name]
            rows.append((f"{build_dir.resolve().parents[2].name}.{n.name}", n, tern, b["LUT"], b["FF"]))
    return rows


def ff_report(rows: list, show_fit: bool) -> None:
    """The flip-flop model (compile/estimate.py MVU_FF_COEF . mvu_ff_terms) beside Yosys, fitted and left out, per
    unit and by kind of weights."""
    from scipy.optimize import nnls

    a = np.array([mvu_ff_terms(n, tern) for _, n, tern, _, _ in rows], dtype=float)
    y = np.array([ff for *_, ff in rows], dtype=float)
    if show_fit:
        print("\nFF fitted on all configs (per control bit, per dot-product register bit, per accumulator bit, per "
              "threshold register bit, per unit):", ", ".join(f"{v:.3f}" for v in nnls(a, y)[0]))
    print(f"\n{'config':24} {'Yosys FF':>9} {'model FF':>9} {'error':>7} {'left-out fit':>12} {'error':>7}")
    errs: dict[str, list[float]] = {"model": [], "left out": []}
    for i, (name, n, tern, _, ff) in enumerate(rows):
        est = mvu_resources(n, ternary=tern)["FF"]
        keep = [j for j in range(len(rows)) if j != i]
        lo = float(a[i] @ nnls(a[keep], y[keep])[0])
        errs["model"].append(abs(est - ff) / ff)
        errs["left out"].append(abs(lo - ff) / ff)
        print(f"{name:24} {ff:>9,} {est:>9,} {(est - ff) / ff:>+7.1%} {lo:>12,.0f} {(lo - ff) / ff:>+7.1%}")
    for kind in ("k-bit", "±1"):
        idx = [i for i, r in enumerate(rows) if (r[1].binary_xnor or r[1].weight_type.bipolar) == (kind == "±1")]
        for k, v in errs.items():
            if idx:
                e = [v[i] for i in idx]
                print(f"FF mean |error| {k}, {kind} weights: {np.mean(e):.1%} (max {np.max(e):.1%}, {len(e)} units)")


if __name__ == "__main__":
    sys.exit(main())
