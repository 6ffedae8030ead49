"""W2A2 CNV at finn-examples' folding: Yosys LUTs of our blocks vs FINN's estimate for the same folding.

The zoo's ``cnv_w2a2`` (FINN's CNV topology, 2-bit weights {-1, 0, 1} and 2-bit activations; seeded weights and
BatchNorm, untrained) is compiled with finn-examples' cnv-w2a2 folding (bench/data/finn_examples_cnv-w2a2_folding.json,
PE/SIMD/ram_style per layer from Xilinx/finn-examples build/bnn-pynq/folding_config/cnv-w2a2_folding_config.json
@5a74263). Yosys on the whole CNV is too slow on a shared 2-core machine, so every compute block (matrix-vector
units, sliding windows, max-pools) is synthesised on its own (a one-node graph through compile/emit.py and
compile/synth.py, ``synth_xilinx -family xc7``) and the LUTs are summed. FINN's side is its estimator on the same
nodes (compile/estimate.py finn_mvau with the layer's ram_style and weight width, finn_swg; max-pool 0: FINN's
StreamingMaxPool defines no lut_estimation or bram_estimation, so its base class's 0 applies, see
compile/estimate.py finn_node_resources). FIFOs and width converters are not synthesised: both sides' estimates
for them are printed apart.
The binary baseline is the zoo's ``cnv_w1a1`` at the same folding (per-layer MVU LUTs side by side).

    python bench/w2a2_cnv.py [--work DIR] [--nets cnv_w2a2,cnv_w1a1] [--only conv1,fc0] [--ram-style fc0=block] [--glue]

The first of ``--nets`` is compared with FINN's estimate, the others are the per-layer baselines (each may run as
its own process first, e.g. ``--nets cnv_w1a1``, to fill the caches in parallel).

``--ram-style LAYER=block|distributed[,...]`` adds a second memory mapping: the named layers' weights move to
that memory on BOTH sides (our compile through the folding's ram_style, FINN's estimate with the same ram_style,
which drops its LUT-ROM term c2 for block RAM), and the totals of both mappings are printed side by side with
the BRAM18 counts of both sides, so that LUTs saved by moving weights into block RAM show where they went. Only
the moved layers are synthesised again; the other blocks are the same in both mappings.

``--glue`` synthesises the FIFOs, width converters and label select too and counts them in both sides' totals
(FINN's side: its formulas for the same nodes, a FIFO deeper than 256 words as the Vivado FIFO FINN's flow makes
it, label select 0 as in FINN), so the ratio is the whole design's, not the compute blocks'. FINN's own build
writes its estimate report before it inserts width converters and FIFOs, so that report has no rows for them.

Results are cached per node in WORK/<net>/synth/<node>.json, and per mapping in WORK/<net>@<mapping>/ (delete
to re-run).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from candle_hw.compile.emit import emit_rtl
from candle_hw.compile.estimate import estimate_layer_resources, finn_mvau, finn_node_resources
from candle_hw.compile.ir import DataflowGraph, MatrixVectorUnit, MaxPool, SlidingWindow
from candle_hw.compile.pipeline import CompileOptions, compile_model, load_graph
from candle_hw.compile.synth import synthesize

FOLDING = Path(__file__).resolve().parent / "data" / "finn_examples_cnv-w2a2_folding.json"
BLOCKS = (MatrixVectorUnit, SlidingWindow, MaxPool)
RAM_STYLES = ("block", "distributed")  # FINN's MVAU ram_style values that both sides implement


def export(name: str, path: Path, seed: int) -> None:
    import torch

    from candle_hw.compile.export import export_qonnx_model
    from candle_hw.models import build_model, randomize_bn

    torch.manual_seed(seed)
    model = build_model(name)
    with torch.no_grad():  # weights spread over every level of the weight quantizer
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                m.weight.copy_(torch.randn(m.weight.shape) * 0.8)
    randomize_bn(model, seed)
    export_qonnx_model(model.eval(), path, input_shape=(1, *model.input_shape))


def parse_ram_styles(text: str) -> dict[str, str]:
    """``fc0=block,fc2=distributed`` -> {layer: ram_style}; bad input: one line naming the option, exit 2."""
    out: dict[str, str] = {}
    for item in filter(None, text.split(",")):
        layer, sep, style = item.partition("=")
        if not sep or not layer or style not in RAM_STYLES:
            raise ValueError(f"--ram-style: {item!r} is not LAYER=STYLE with STYLE one of {', '.join(RAM_STYLES)}")
        out[layer] = style
    return out


def mapping_tag(ram_styles: dict[str, str]) -> str:
    return "+".join(f"{k}={v}" for k, v in sorted(ram_styles.items()))


def folding_with(work: Path, ram_styles: dict[str, str]) -> Path:
    """finn-examples' folding with the named layers' ram_style replaced (written under WORK)."""
    fold = json.loads(FOLDING.read_text())
    unknown = sorted(set(ram_styles) - set(fold))
    if unknown:
        raise ValueError(f"--ram-style: layer {unknown[0]!r} is not in {FOLDING.name} (layers: {', '.join(fold)})")
    for layer, style in ram_styles.items():
        fold[layer] = {**fold[layer], "ram_style": style}
    path = work / f"folding@{mapping_tag(ram_styles)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fold, indent=1) + "\n")
    return path


def compiled(name: str, work: Path, seed: int, ram_styles: dict[str, str] | None = None) -> DataflowGraph:
    """The net compiled with finn-examples' folding, or with the named layers' ram_style replaced."""
    folding, where = FOLDING, work / name
    if ram_styles:
        folding, where = folding_with(work, ram_styles), work / f"{name}@{mapping_tag(ram_styles)}"
    build = where / "build"
    if not (build / "dataflow.json").is_file():
        onnx = work / name / f"{name}.onnx"
        if not onnx.is_file():
            onnx.parent.mkdir(parents=True, exist_ok=True)
            export(name, onnx, seed)
        compile_model(onnx, build, CompileOptions(folding=str(folding), emit_rtl=False), force=True)
    return load_graph(build)


def synth_node(graph: DataflowGraph, node, cache: Path) -> dict:
    """Yosys resources of one block (one-node graph), cached."""
    f = cache / f"{node.name}.json"
    if f.is_file():
        return json.loads(f.read_text())
    params = {k: v for k, v in graph.params.items() if k.startswith(f"{node.name}.")}
    build = cache / node.name
    emit_rtl(DataflowGraph((node,), params), build / "rtl")
    start = time.perf_counter()
    rep = synthesize(build, "xc7z020")
    blk = rep["blocks"][node.name]
    out = {k: blk[k] for k in ("LUT", "FF", "BRAM_18K", "DSP")} | {"seconds": round(time.perf_counter() - start, 1)}
    cache.mkdir(parents=True, exist_ok=True)
    f.write_text(json.dumps(out) + "\n")
    return out


def measure(name: str, work: Path, seed: int, only: set[str], glue: bool = False
            ) -> tuple[DataflowGraph, dict[str, dict]]:
    graph = compiled(name, work, seed)
    rows = {}
    for n in graph.nodes:
        if (glue or isinstance(n, BLOCKS)) and (not only or n.name in only):
            rows[n.name] = synth_node(graph, n, work / name / "synth")
            print(f"  {name} {n.name}: {rows[n.name]}", flush=True)
    return graph, rows


def measure_moved(name: str, work: Path, seed: int, ram_styles: dict[str, str], graph: DataflowGraph,
                  rows: dict[str, dict]) -> tuple[DataflowGraph, dict[str, dict]]:
    """The second mapping: the moved layers synthesised again, every other block as in ``rows``."""
    moved_graph = compiled(name, work, seed, ram_styles)
    where = work / f"{name}@{mapping_tag(ram_styles)}" / "synth"
    same = {n.name: n for n in graph.nodes}
    out = {}
    for n in moved_graph.nodes:
        if n.name not in rows:
            continue
        if n == same.get(n.name) and n.name not in ram_styles:
            out[n.name] = rows[n.name]
        else:
            out[n.name] = synth_node(moved_graph, n, where)
            print(f"  {name} {n.name} ({n.weight_style}): {out[n.name]}", flush=True)
    return moved_graph, out


def finn_res(n) -> dict[str, int]:
    """FINN's estimate of a node; a matrix unit with the folding's ram_style (distributed weights: c2 > 0, no
    BRAM; block: BRAM18 by FINN-R's table, c2 = 0)."""
    if isinstance(n, MatrixVectorUnit):
        return finn_mvau(n, ram_style=n.weight_style)
    return finn_node_resources(n)


def describe(n) -> str:
    if isinstance(n, MatrixVectorUnit):
        return f"{n.in_type}x{n.weight_type} {n.mw}x{n.mh} PE{n.pe} SIMD{n.simd} {n.weight_style}"
    return f"{n.kind} simd/pe {getattr(n, 'simd', getattr(n, 'pe', 1))}"


def totals(graph: DataflowGraph, rows: dict[str, dict]) -> tuple[int, int, int, int]:
    """(our LUT, our BRAM18, FINN's LUT, FINN's BRAM18) over the measured blocks."""
    ours = [rows[n.name] for n in graph.nodes if n.name in rows]
    finn = [finn_res(n) for n in graph.nodes if n.name in rows]
    return (sum(r["LUT"] for r in ours), sum(r["BRAM_18K"] for r in ours),
            sum(f["LUT"] for f in finn), sum(f["BRAM_18K"] for f in finn))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("bench_w2a2_cnv"))
    ap.add_argument("--nets", default="cnv_w2a2,cnv_w1a1", help="zoo presets: the compared one, then baselines")
    ap.add_argument("--only", default="", help="comma-separated node names to synthesise")
    ap.add_argument("--ram-style", default="", metavar="LAYER=STYLE[,...]",
                    help="a second memory mapping: these layers' weights in block (or distributed) RAM on both sides")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--glue", action="store_true",
                    help="synthesise FIFOs, width converters and label select too and count them in the totals")
    args = ap.parse_args(argv)
    only = {s for s in args.only.split(",") if s}
    try:  # the layer names are checked against the folding before anything is compiled
        ram_styles = parse_ram_styles(args.ram_style)
        if ram_styles:
            folding_with(args.work, ram_styles)
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    main_net, *baselines = args.nets.split(",")
    graph, ours = measure(main_net, args.work, args.seed, only, args.glue)
    base = measure(baselines[0], args.work, args.seed, only)[1] if baselines else {}
    print(f"\n{'node':8} {'block':44} {'Yosys LUT':>9} {'FF':>6} {'BRAM18':>6} {'FINN est LUT':>12} "
          f"{'FINN BRAM18':>11} {'ratio':>6} {(baselines or ['-'])[0] + ' LUT':>14}")
    for n in graph.nodes:
        if n.name not in ours:
            continue
        r, finn = ours[n.name], finn_res(n)
        b = base.get(n.name, {}).get("LUT", "")
        print(f"{n.name:8} {describe(n):44} {r['LUT']:>9,} {r['FF']:>6,} {r['BRAM_18K']:>6} {finn['LUT']:>12,} "
              f"{finn['BRAM_18K']:>11} {r['LUT'] / finn['LUT'] if finn['LUT'] else float('nan'):>6.2f} {b:>14}")
    mappings = [("finn-examples", graph, ours)]
    if ram_styles:
        moved_graph, moved = measure_moved(main_net, args.work, args.seed, ram_styles, graph, ours)
        for n in moved_graph.nodes:
            if n.name in ram_styles and n.name in moved:
                r, finn = moved[n.name], finn_res(n)
                print(f"{n.name:8} {describe(n):44} {r['LUT']:>9,} {r['FF']:>6,} {r['BRAM_18K']:>6} "
                      f"{finn['LUT']:>12,} {finn['BRAM_18K']:>11} {r['LUT'] / finn['LUT']:>6.2f}")
        mappings.append((f"finn-examples, {mapping_tag(ram_styles)} (both sides)", moved_graph, moved))
    print(f"\n{'memory mapping':50} {'Yosys LUT':>9} {'BRAM18':>6} {'FINN est LUT':>12} {'FINN BRAM18':>11} "
          f"{'LUT ratio':>9}")
    for label, g, rows in mappings:
        lut, bram, flut, fbram = totals(g, rows)
        print(f"{label:50} {lut:>9,} {bram:>6} {flut:>12,} {fbram:>11} {lut / flut:>9.3f}")
    rest = [n for n in graph.nodes if n.name not in ours and not isinstance(n, BLOCKS)]
    if not rest:
        return 0
    est = estimate_layer_resources(graph)
    print(f"not synthesised ({len(rest)} FIFOs / width converters / label select): our estimate "
          f"{sum(est[n.name]['LUT'] for n in rest):,} LUT, "
          f"FINN's formulas {sum(finn_node_resources(n)['LUT'] for n in rest):,} "
          "(rows FINN's own estimate report does not have: its build inserts FIFOs and width converters after it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
