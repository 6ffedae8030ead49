"""Build reports: FINN-named estimate files, and report.json + report.html with predicted vs measured numbers.

``write_estimate_reports(graph, build, target, clock_mhz)`` (called by the compile pipeline) writes FINN's files
reports/estimate_layer_resources.json, estimate_layer_cycles.json, estimate_network_performance.json and
remembers the target in reports/estimate_config.json.
``write_report(build)`` (``candle-hw report BUILD``) writes reports/report.json: the three estimates, FINN's
own estimator formulas beside ours (each node's figure labelled: FINN's formula, FINN's formula for a FIFO or width
converter that FINN's own estimate report omits, FINN's 0, or not re-implemented; and the total over the nodes
FINN's own report lists), the cycle-level simulator's prediction (interval, latency, per node), the
FIFO depths, and, where the build has them, measured cycles (reports/rtlsim_performance.json) and measured
resources (reports/synth.json) next to the predictions with their relative errors; and reports/report.html,
the same as self-contained HTML with matplotlib plots embedded as PNG data URIs.
"""
from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from candle_hw.compile.estimate import (
    KEYS, critical_path, estimate_layer_cycles, estimate_layer_resources, estimate_network_performance,
    finn_estimate_layer_resources, finn_estimate_source, finn_report_scope_total,
)
from candle_hw.compile.ir import DataflowGraph, StreamFIFO

DEFAULT_TARGET = "xc7z020"


def _device(target: str | None):
    from candle_hw.devices import get_device

    return get_device(target or DEFAULT_TARGET)


def _dump(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=1, default=float) + "\n")


def write_estimate_reports(graph: DataflowGraph, build: str | Path, target: str | None = None,
                           clock_mhz: float | None = None) -> None:
    reports = Path(build) / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    dev = _device(target)
    clock = float(clock_mhz or dev.clock_mhz)
    _dump(reports / "estimate_layer_resources.json", estimate_layer_resources(graph, dev))
    _dump(reports / "estimate_layer_cycles.json", estimate_layer_cycles(graph))
    _dump(reports / "estimate_network_performance.json", estimate_network_performance(graph, clock))
    _dump(reports / "estimate_config.json", {"target": dev.name, "clock_mhz": clock,
                                             "assumed": {"target": target is None, "clock_mhz": clock_mhz is None}})


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def _rel(pred: float, meas: float) -> float | None:
    return None if not meas else (pred - meas) / meas


def _cycles_section(graph: DataflowGraph, rtl: dict | None) -> dict[str, Any]:
    from candle_hw.sim.cycle import simulate_cycle

    n = int(rtl["N"]) if rtl and rtl.get("N") else 4
    sim = simulate_cycle(graph, max(n, 1))
    out: dict[str, Any] = {
        "frames": n, "interval_cycles": sim.interval_cycles, "mean_interval_cycles": sim.mean_interval_cycles,
        "latency_cycles": sim.latency_cycles, "sim_runtime_s": round(sim.runtime_s, 4),
        "per_node": {k: {"first_in": v.first_in, "first_out": v.first_out, "last_out": v.last_out,
                         "latency": v.latency} for k, v in sim.per_node.items()},
        "fifo_max_occupancy": sim.fifo_max_occupancy,
    }
    if rtl:
        out["measured"] = {"interval_cycles": rtl.get("interval_cycles"), "latency_cycles": rtl.get("latency_cycles")}
        out["error"] = {"interval": _rel(sim.mean_interval_cycles, rtl.get("interval_cycles") or 0),
                        "latency": _rel(sim.latency_cycles, rtl.get("latency_cycles") or 0)}
    return out


def _resources_section(est: dict, synth: dict | None) -> dict[str, Any] | None:
    if not synth:
        return None
    blocks = synth.get("blocks", {})
    per = {}
    for name, e in est.items():
        if name == "total" or name not in blocks:
            continue
        m = blocks[name]
        per[name] = {k: {"estimate": e[k], "measured": m.get(k, 0)} for k in ("LUT", "FF", "BRAM_18K")}
    tot = synth.get("total", {})
    total = {k: {"estimate": est["total"][k], "measured": tot.get(k, 0), "error": _rel(est["total"][k], tot.get(k, 0))}
             for k in ("LUT", "FF", "BRAM_18K")}
    return {"target": synth.get("target"), "per_node": per, "total": total}


def build_report(build: str | Path) -> dict[str, Any]:
    build = Path(build)
    graph = DataflowGraph.load(build)
    reports = build / "reports"
    cfg = _read(reports / "estimate_config.json") or {}
    synth = _read(reports / "synth.json")
    dev = _device(cfg.get("target") or (synth or {}).get("target"))
    clock = float(cfg.get("clock_mhz") or dev.clock_mhz)
    est = estimate_layer_resources(graph, dev)
    rtl = _read(reports / "rtlsim_performance.json")
    cap = dev.capacity()
    cycles = estimate_layer_cycles(graph)
    return {
        "device": dev.name, "clock_mhz": clock,
        "estimate_layer_resources": est,
        "estimate_layer_cycles": cycles,
        "estimate_network_performance": estimate_network_performance(graph, clock),
        # the nodes whose cycles add up to critical_path_cycles (on a branching graph: the longer branch)
        "critical_path_nodes": critical_path(graph, cycles)[1],
        "finn_estimate_layer_resources": finn_estimate_layer_resources(graph),
        # per node: FINN's formula, one FINN's own report omits (FIFOs, width converters), FINN's 0, or not ours
        "finn_estimate_source": {n.name: finn_estimate_source(n) for n in graph.nodes},
        "finn_estimate_total_in_finn_report": finn_report_scope_total(graph),
        "fifo_depths": {n.name: n.depth for n in graph.nodes if isinstance(n, StreamFIFO)},
        "device_utilisation": {k: est["total"][k] / cap[k] for k in KEYS if cap.get(k)},
        "cycle_simulation": _cycles_section(graph, rtl),
        "measured_resources": _resources_section(est, synth),
    }


# -- HTML ---------------------------------------------------------------------------------------------------
def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _bar(names: list[str], series: dict[str, list[float]], title: str, ylabel: str, mark: str | None = None,
         log: bool = False) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(names) + 2), 3.6))
    width = 0.8 / max(1, len(series))
    for i, (label, vals) in enumerate(series.items()):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(names))]
        bars = ax.bar(xs, vals, width, label=label)
        if mark is not None and i == 0:
            for b, n in zip(bars, names):
                if n == mark:
                    b.set_color("#d62728")
                    ax.annotate("bottleneck", (b.get_x() + b.get_width() / 2, b.get_height()), ha="center",
                                va="bottom", fontsize=8, color="#d62728")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    if len(series) > 1:
        ax.legend(fontsize=8)
    return _png(fig)


def _figures(r: dict[str, Any]) -> list[tuple[str, str]]:
    cyc = r["estimate_layer_cycles"]
    names = list(cyc)
    perf = r["estimate_network_performance"]
    est = r["estimate_layer_resources"]
    finn = r["finn_estimate_layer_resources"]
    figs = [("Cycles per frame per node (never stalled)",
             _bar(names, {"cycles": [cyc[n] for n in names]}, "estimate_layer_cycles", "cycles",
                  perf["max_cycles_node_name"], log=True))]
    figs.append(("LUTs per node: our model vs FINN's formulas (FIFO and width-converter bars: FINN's formulas "
                 "for nodes its own estimate report omits)",
                 _bar(names, {"candle-hw": [est[n]["LUT"] for n in names], "FINN formulas": [finn[n]["LUT"] for n in names]},
                      "LUT", "LUT")))
    figs.append(("BRAM_18K per node", _bar(names, {"candle-hw": [est[n]["BRAM_18K"] for n in names],
                                                   "FINN formulas": [finn[n]["BRAM_18K"] for n in names]},
                                           "BRAM_18K", "BRAM_18K")))
    if r["fifo_depths"]:
        f = r["fifo_depths"]
        figs.append(("FIFO depths (sized on the cycle-level simulator)",
                     _bar(list(f), {"depth": list(f.values())}, "StreamFIFO depth", "words")))
    util = r["device_utilisation"]
    figs.append((f"Device utilisation ({r['device']}, estimate)",
                 _bar(list(util), {"estimate": [100 * v for v in util.values()]}, "utilisation", "% of device")))
    cs = r["cycle_simulation"]
    if "measured" in cs:
        m = cs["measured"]
        figs.append(("Predicted (cycle simulator) vs measured (Verilator) cycles",
                     _bar(["interval", "latency"], {"predicted": [cs["mean_interval_cycles"], cs["latency_cycles"]],
                                                    "measured": [m["interval_cycles"] or 0, m["latency_cycles"] or 0]},
                          "cycles", "cycles")))
    mr = r["measured_resources"]
    if mr and mr["per_node"]:
        nn = list(mr["per_node"])
        figs.append(("Predicted vs measured LUTs (Yosys)",
                     _bar(nn, {"estimate": [mr["per_node"][n]["LUT"]["estimate"] for n in nn],
                               "measured": [mr["per_node"][n]["LUT"]["measured"] for n in nn]}, "LUT", "LUT")))
    return figs


def _table(rows: list[list[Any]], head: list[str]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def render_html(r: dict[str, Any]) -> str:
    perf = r["estimate_network_performance"]
    cs = r["cycle_simulation"]
    summary = [[k, f"{v:,.1f}" if isinstance(v, float) else v] for k, v in perf.items()]
    summary += [["predicted interval_cycles (cycle simulator)", cs["interval_cycles"]],
                ["predicted latency_cycles (cycle simulator)", cs["latency_cycles"]]]
    if "measured" in cs:
        summary += [["measured interval_cycles (Verilator)", cs["measured"]["interval_cycles"]],
                    ["measured latency_cycles (Verilator)", cs["measured"]["latency_cycles"]]]
    est = r["estimate_layer_resources"]
    res_rows = [[n, *(v[k] for k in KEYS)] for n, v in est.items()]
    finn, finn_src = r["finn_estimate_layer_resources"], r["finn_estimate_source"]
    finn_rows = [[n, finn[n]["LUT"], finn[n]["BRAM_18K"], finn_src[n]] for n in finn_src]
    finn_rows += [["total", finn["total"]["LUT"], finn["total"]["BRAM_18K"], "all rows above"],
                  ["total in FINN's own report", r["finn_estimate_total_in_finn_report"]["LUT"],
                   r["finn_estimate_total_in_finn_report"]["BRAM_18K"], "without FIFOs and width converters"]]
    imgs = "".join(f"<h2>{html.escape(t)}</h2><img alt=\"{html.escape(t)}\" src=\"{src}\">" for t, src in _figures(r))
    style = ("body{font-family:sans-serif;margin:2em;background:#fff}table{border-collapse:collapse}"
             "td,th{border:1px solid #999;padding:2px 8px;text-align:right}img{max-width:100%}")
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>candle-hw report</title>"
            f"<style>{style}</style></head><body><h1>candle-hw build report</h1>"
            f"<p>device {html.escape(r['device'])}, clock {r['clock_mhz']:g} MHz</p>"
            f"{_table(summary, ['estimate_network_performance', 'value'])}"
            f"<h2>estimate_layer_resources</h2>{_table(res_rows, ['node', *KEYS])}"
            f"<h2>FINN's estimator formulas on the same graph</h2>"
            f"{_table(finn_rows, ['node', 'LUT', 'BRAM_18K', 'what the figure is'])}{imgs}</body></html>\n")


def write_report(build: str | Path) -> dict[str, Any]:
    build = Path(build)
    r = build_report(build)
    reports = build / "reports"
    reports.mkdir(exist_ok=True)
    _dump(reports / "report.json", r)
    (reports / "report.html").write_text(render_html(r))
    return r
