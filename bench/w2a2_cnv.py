"""W2A2 CNV at finn-examples' folding: Yosys LUTs of our blocks vs FINN's estimate for the same folding.

The zoo's ``cnv_w2a2`` (FINN's CNV topology, 2-bit weights {-1, 0, 1} and 2-bit activations; seeded weights and
BatchNorm, untrained) is compiled with finn-examples' cnv-w2a2 folding (bench/data/finn_examples_cnv-w2a2_folding.json,
PE/SIMD/ram_style per layer from Xilinx/finn-examples build/bnn-pynq/folding_config/cnv-w2a2_folding_config.json
@5a74263). Yosys on the whole CNV is too slow on a shared 2-core machine, so every compute block (matrix-vector
units, sliding windows, max-pools) is synthesised on its own (a one-node graph through compile/emit.py and
compile/synth.py, ``synth_xilinx -family xc7``) and the LUTs are summed. FINN's side is its estimator on the same
nodes (compile/estimate.py finn_mvau with the layer's ram_style and weight width, SWG; FINN charges nothing for
max-pool). FIFOs and width converters are not synthesised: both sides' estimates for them are printed apart.
The binary baseline is the zoo's ``cnv_w1a1`` at the same folding (per-layer MVU LUTs side by side).

    python bench/w2a2_cnv.py [--work DIR] [--nets cnv_w2a2,cnv_w1a1] [--only conv1,fc0]

The first of ``--nets`` is compared with FINN's estimate, the others are the per-layer baselines (each may run as
its own process first, e.g. ``--nets cnv_w1a1``, to fill the caches in parallel).

Results are cached per node in WORK/<net>/synth/<node>.json (delete to re-run).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from candle_hw.compile.emit import emit_rtl
from candle_hw.compile.estimate import estimate_layer_resources, finn_mvau, finn_node_resources
from candle_hw.compile.ir import DataflowGraph, MatrixVectorUnit, MaxPool, SlidingWindow
from candle_hw.compile.pipeline import CompileOptions, compile_model, load_graph
from candle_hw.compile.synth import synthesize

FOLDING = Path(__file__).resolve().parent / "data" / "finn_examples_cnv-w2a2_folding.json"
BLOCKS = (MatrixVectorUnit, SlidingWindow, MaxPool)


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


def compiled(name: str, work: Path, seed: int) -> DataflowGraph:
    build = work / name / "build"
    if not (build / "dataflow.json").is_file():
        onnx = work / name / f"{name}.onnx"
        onnx.parent.mkdir(parents=True, exist_ok=True)
        export(name, onnx, seed)
        compile_model(onnx, build, CompileOptions(folding=str(FOLDING), emit_rtl=False), force=True)
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


def measure(name: str, work: Path, seed: int, only: set[str]) -> tuple[DataflowGraph, dict[str, dict]]:
    graph = compiled(name, work, seed)
    rows = {}
    for n in graph.nodes:
        if isinstance(n, BLOCKS) and (not only or n.name in only):
            rows[n.name] = synth_node(graph, n, work / name / "synth")
            print(f"  {name} {n.name}: {rows[n.name]}", flush=True)
    return graph, rows


def finn_lut(n) -> int:
    """FINN's LUT estimate of a node; a matrix unit with the folding's ram_style (distributed weights: c2 > 0)."""
    if isinstance(n, MatrixVectorUnit):
        return finn_mvau(n, ram_style=n.weight_style)["LUT"]
    return finn_node_resources(n)["LUT"]


def describe(n) -> str:
    if isinstance(n, MatrixVectorUnit):
        return f"{n.in_type}x{n.weight_type} {n.mw}x{n.mh} PE{n.pe} SIMD{n.simd} {n.weight_style}"
    return f"{n.kind} simd/pe {getattr(n, 'simd', getattr(n, 'pe', 1))}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("bench_w2a2_cnv"))
    ap.add_argument("--nets", default="cnv_w2a2,cnv_w1a1", help="zoo presets: the compared one, then baselines")
    ap.add_argument("--only", default="", help="comma-separated node names to synthesise")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    only = {s for s in args.only.split(",") if s}
    main_net, *baselines = args.nets.split(",")
    graph, ours = measure(main_net, args.work, args.seed, only)
    base = measure(baselines[0], args.work, args.seed, only)[1] if baselines else {}
    print(f"\n{'node':8} {'block':44} {'Yosys LUT':>9} {'FF':>6} {'BRAM18':>6} {'FINN est LUT':>12} {'ratio':>6} "
          f"{(baselines or ['-'])[0] + ' LUT':>14}")
    tot_ours = tot_finn = 0
    for n in graph.nodes:
        if n.name not in ours:
            continue
        r, finn = ours[n.name], finn_lut(n)
        tot_ours, tot_finn = tot_ours + r["LUT"], tot_finn + finn
        b = base.get(n.name, {}).get("LUT", "")
        print(f"{n.name:8} {describe(n):44} {r['LUT']:>9,} {r['FF']:>6,} {r['BRAM_18K']:>6} {finn:>12,} "
              f"{r['LUT'] / finn if finn else float('nan'):>6.2f} {b:>14}")
    print(f"{'total':53} {tot_ours:>9,} {'':>6} {'':>6} {tot_finn:>12,} {tot_ours / tot_finn:>6.3f}")
    rest = [n for n in graph.nodes if not isinstance(n, BLOCKS)]
    est = estimate_layer_resources(graph)
    print(f"not synthesised ({len(rest)} FIFOs / width converters / label select): our estimate "
          f"{sum(est[n.name]['LUT'] for n in rest):,} LUT, FINN's {sum(finn_node_resources(n)['LUT'] for n in rest):,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
