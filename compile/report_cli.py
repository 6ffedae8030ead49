"""``candle-hw report BUILD``: BUILD/reports/report.json and report.html (estimates, cycle-level prediction, and
measured cycles/resources where the build has them)."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("build", help="build directory written by `candle-hw compile`")


def assumptions(build, r: dict) -> str:
    """Which device and clock the figures are for, and where they came from."""
    import json

    cfg_path = build / "reports" / "estimate_config.json"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.is_file() else {}
    if "assumed" not in cfg:  # written by an older candle-hw
        return f"device {r['device']}, clock {r['clock_mhz']:g} MHz (as recorded in {cfg_path})"
    dev = ("assumed (the build was compiled without --target)" if cfg["assumed"]["target"]
           else "from `compile --target`")
    clk = "the device's default clock" if cfg["assumed"]["clock_mhz"] else "from `compile --clock-mhz`"
    return f"device {r['device']}: {dev}; clock {r['clock_mhz']:g} MHz: {clk}"


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from candle_hw.compile.report import write_report

    r = write_report(args.build)
    print(assumptions(Path(args.build), r))
    perf = r["estimate_network_performance"]
    cs = r["cycle_simulation"]
    print(f"{r['device']} @ {r['clock_mhz']:g} MHz: max_cycles {perf['max_cycles']} ({perf['max_cycles_node_name']}), "
          f"{perf['estimated_throughput_fps']:,.0f} FPS estimated; cycle simulator: interval {cs['interval_cycles']}, "
          f"latency {cs['latency_cycles']} cycles")
    tot = r["estimate_layer_resources"]["total"]
    print(f"estimate: {tot['LUT']} LUT, {tot['FF']} FF, {tot['BRAM_18K']} BRAM_18K")
    print(f"wrote {Path(args.build) / 'reports' / 'report.json'} and report.html")
    return 0
