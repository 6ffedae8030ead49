"""Cycle-level simulator vs Verilator on the same stitched designs: timing agreement and speed, one run.

Usage: OMP_NUM_THREADS=1 python bench/cycle_speed.py [--frames N] [--repeat R] [--designs mlp,cnv_small,tfc,...]

Both simulators are timed the same way: one warm-up call, then R timed calls; best and median are printed, the
speed-up is the ratio of medians. Not timed: building the graphs, emitting and compiling the Verilator model
(printed once as "build s"), drawing the frames. Two figures per side:
- end to end: Verilator = ``simulate_rtl(build, frames)`` (loads the graph from disk, packs words, writes the
  stimulus, starts the testbench process, reads $readmemh files, parses the trace); cycle simulator =
  ``simulate_cycle`` on the graph loaded from the same build (words through every block model, schedule, and
  the per-block check against the functional simulator);
- simulation only: Verilator = the testbench's own simulation loop (tb.cpp's ``loop_ns``); cycle simulator =
  ``simulate_cycle(graph, frames, check=False)`` on the loaded graph (words through every block and schedule).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from candle_hw.compile.emit import emit_rtl  # noqa: E402
from candle_hw.compile.ir import DataflowGraph  # noqa: E402
from candle_hw.compile.passes.fifo_sizing import SizeFIFOs  # noqa: E402
from candle_hw.compile.passes.stitch import Stitch  # noqa: E402
from candle_hw.sim.cosim.rtlsim import simulate_rtl  # noqa: E402
from candle_hw.sim.cycle import simulate_cycle  # noqa: E402
from fixtures import handbuilt_graphs  # noqa: E402
from fixtures.reference_graphs import cnv_graph, tfc_graph  # noqa: E402


def designs() -> dict:
    return {
        "mlp": lambda: Stitch()(handbuilt_graphs.mlp_graph(seed=3, k=3)),
        "cnv_small": lambda: Stitch()(handbuilt_graphs.cnv_graph(seed=5)),
        "tfc": lambda: Stitch()(tfc_graph()),
        "tfc_sized": lambda: SizeFIFOs()(tfc_graph()),
        "cnv_sized": lambda: SizeFIFOs()(cnv_graph()),
    }


def timed(fn, repeat: int) -> tuple[list[float], object]:
    """One warm-up call, then ``repeat`` timed calls: (seconds of each, last result)."""
    result = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def compare(name: str, graph, frames: int, work: Path, repeat: int) -> dict:
    g = graph  # stitched (designs() above); both simulators take it as it is
    build = work / name
    g.save(build)
    x = handbuilt_graphs.random_frames(g, frames, seed=1)
    t0 = time.perf_counter()
    emit_rtl(g, build / "rtl")
    simulate_rtl(build, x[:1])  # compiles the Verilator model (cached for the calls below)
    t_build = time.perf_counter() - t0
    loops: list[float] = []

    def rtl_call():
        r = simulate_rtl(build, x)
        loops.append(r.run.loop_s)
        return r

    rtl_e2e, rtl = timed(rtl_call, repeat)
    rtl_loop = loops[1:]  # the warm-up's loop time left out, as for every other figure
    cyc_e2e, checked = timed(lambda: simulate_cycle(DataflowGraph.load(build), x), repeat)
    assert checked.mismatch is None, str(checked.mismatch)
    cyc_sim, cyc = timed(lambda: simulate_cycle(g, x, check=False), repeat)
    np.testing.assert_array_equal(cyc.outputs, rtl.outputs)
    done_rtl = np.asarray(rtl.frame_done_cycles) - rtl.frame_done_cycles[0]
    done_cyc = cyc.frame_done_cycles - cyc.frame_done_cycles[0]
    return dict(design=name, frames=frames, rtl_latency=rtl.latency_cycles, cyc_latency=cyc.latency_cycles,
                rtl_interval=rtl.interval_cycles, cyc_interval=cyc.mean_interval_cycles, build=t_build,
                rtl_e2e=rtl_e2e, rtl_loop=rtl_loop, cyc_e2e=cyc_e2e, cyc_sim=cyc_sim,
                worst=int(np.max(np.abs(done_rtl - done_cyc))), cycles=rtl.cycles)


def fmt(ts: list[float]) -> str:
    return f"{statistics.median(ts):8.4f} ({min(ts):.4f})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--designs", default="mlp,cnv_small,tfc_sized,cnv_sized")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    table = designs()
    print(f"times in s: median (best) of {args.repeat} after 1 warm-up; speed-up = ratio of medians")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.designs.split(","):
            r = compare(name, table[name](), args.frames, Path(tmp), args.repeat)
            med = {k: statistics.median(r[k]) for k in ("rtl_e2e", "rtl_loop", "cyc_e2e", "cyc_sim")}
            print(f"\n== {name}: {r['frames']} frames, {r['cycles']:,} cycles; latency RTL {r['rtl_latency']} / cycle "
                  f"{r['cyc_latency']}, interval RTL {r['rtl_interval']:.1f} / cycle {r['cyc_interval']:.1f}, worst "
                  f"frame-completion difference {r['worst']} cycles; Verilator build {r['build']:.1f} s")
            print(f"  end to end       Verilator {fmt(r['rtl_e2e'])}   cycle sim {fmt(r['cyc_e2e'])}   "
                  f"speed-up {med['rtl_e2e'] / med['cyc_e2e']:6.1f}x")
            print(f"  simulation only  Verilator {fmt(r['rtl_loop'])}   cycle sim {fmt(r['cyc_sim'])}   "
                  f"speed-up {med['rtl_loop'] / med['cyc_sim']:6.1f}x   (Verilator loop "
                  f"{r['cycles'] / med['rtl_loop'] / 1e6:.2f} M cycles/s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
