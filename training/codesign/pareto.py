"""Pareto fronts of the co-design records and DIR/pareto.html.

A record (one candidate compiled for one target) is on the accuracy-vs-LUT front of its target when no other
compiled record of the same target has at most its LUTs and at least its accuracy, one of them strictly
(``pareto``); likewise for tail accuracy (``pareto_tail``). Records the compiler refused are on no front.
"""
from __future__ import annotations

import html
from collections import defaultdict

SCORES = {"pareto": "accuracy", "pareto_tail": "tail"}


def front(points: list[tuple[float, float]]) -> list[bool]:
    """For (cost, score) points: True where no other point has cost <= and score >= with one strict. Sweep
    by cost ascending (ties: best score first); a point is kept when it beats every cheaper point's score, or
    equals the point that set the best score at the same cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    flags = [False] * len(points)
    best: tuple[float, float] | None = None
    for i in order:
        cost, score = points[i]
        if best is None or score > best[1] or (cost, score) == best:
            flags[i] = True
            if best is None or score > best[1]:
                best = (cost, score)
    return flags


def mark_fronts(records: list[dict]) -> list[dict]:
    """Set ``pareto`` and ``pareto_tail`` on every record (per target, compiled records only)."""
    by_target: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        for flag in SCORES:
            r[flag] = False
        if r["compiled"]:
            by_target[r["target"]["key"]].append(r)
    for group in by_target.values():
        for flag, score in SCORES.items():
            valid = [r for r in group if r.get(score) is not None]
            for r, on in zip(valid, front([(float(r["lut"]), float(r[score])) for r in valid])):
                r[flag] = on
    return records


def _plot(records: list[dict], score: str, flag: str, title: str) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from candle_hw.compile.report import _png
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    rest = [r for r in records if not r[flag]]
    on = sorted((r for r in records if r[flag]), key=lambda r: r["lut"])
    ax.scatter([r["lut"] for r in rest], [r[score] for r in rest], c="#999999", label="candidate")
    ax.plot([r["lut"] for r in on], [r[score] for r in on], "o-", c="#c0392b", drawstyle="steps-post",
            label="Pareto front")
    for r in records:
        ax.annotate(r["name"].rsplit("-", 1)[0], (r["lut"], r[score]), fontsize=6, xytext=(3, 3),
                    textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("LUT (estimate)")
    ax.set_ylabel(f"{score} (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _png(fig)


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) < 1e4 else f"{v:,.0f}"
    return html.escape(str(v))


COLUMNS = (("name", "candidate"), ("accuracy", "acc %"), ("tail", "tail %"), ("epochs", "epochs"),
           ("lut", "LUT est"),
           ("synth_lut", "LUT Yosys"), ("bram_18k", "BRAM_18K"), ("fps", "FPS"), ("latency_us", "latency us"),
           ("macs", "MACs"), ("pareto", "front"), ("pareto_tail", "tail front"), ("error", "compiler"))


def _row(r: dict) -> str:
    vals = {**r, "synth_lut": (r.get("synth") or {}).get("LUT"),
            "error": r["error"] or ("compiled" if r["compiled"] else ""),
            # a time-boxed search may fit a schedule short of the one asked for: the front says which
            "epochs": None if r.get("epochs") is None else
            f"{r['epochs']} of {r.get('epochs_requested') or r['epochs']}"}
    cells = "".join(f"<td>{_fmt(vals.get(k))}</td>" for k, _ in COLUMNS)
    return f"<tr{' class=front' if r['pareto'] or r['pareto_tail'] else ''}>{cells}</tr>"


def write_html(records: list[dict], title: str) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>"
             "body{font-family:sans-serif;margin:1.5em} table{border-collapse:collapse;font-size:12px}"
             "td,th{border:1px solid #ccc;padding:2px 6px} tr.front{background:#fdecea}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    targets: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        targets[r["target"]["key"]].append(r)
    for key, group in targets.items():
        compiled = [r for r in group if r["compiled"]]
        parts.append(f"<h2>{html.escape(key)}: {len(compiled)} of {len(group)} candidates compile</h2>")
        if compiled:
            for score, flag in (("accuracy", "pareto"), ("tail", "pareto_tail")):
                uri = _plot(compiled, score, flag, f"{key}: {score} vs LUT")
                parts.append(f"<img alt='{score} vs LUT' src='{uri}'>")
        head = "".join(f"<th>{html.escape(h)}</th>" for _, h in COLUMNS)
        body = "".join(_row(r) for r in sorted(group, key=lambda r: (not r["compiled"], r.get("lut") or 0)))
        parts.append(f"<table><tr>{head}</tr>{body}</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
