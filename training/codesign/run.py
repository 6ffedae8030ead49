"""One co-design search on Dask distributed: teacher stages, then every candidate trained and exported, compiled
for every target, the fronts marked, the front's builds synthesised, DIR/pareto.json and DIR/pareto.html.
``stage="train"`` stops after training (DIR/run.json lists the candidates): a GPU machine without the compiler
trains, and the same command without it, on a machine with the compiler and the folder, finishes the search.

The task graph is Dask's: a candidate's training waits for its teacher stage, its compiles wait for its
training, and Dask runs what is ready on whichever worker is free (a LocalCluster of single-threaded worker
processes by default, or the cluster behind ``scheduler``).
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from candle_hw.errors import UserError
from candle_hw.outdir import claim_dir, write_file_atomic
from candle_hw.training.codesign.pareto import mark_fronts, write_html
from candle_hw.training.codesign.space import STAGES, CodesignConfig
from candle_hw.training.codesign.tasks import (
    compile_task, export_task, read_json, synth_task, teacher_dir, teacher_task, train_task, write_json,
)
from candle_hw.training.distill import METHOD_SPECS


@contextlib.contextmanager
def dask_client(scheduler: str | None, n_workers: int):
    from distributed import Client, LocalCluster
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise UserError(f"--scheduler {scheduler}: cannot connect ({type(exc).__name__})") from None
        with client:
            yield client
        return
    _guard_main()
    # one thread per worker process: torch and the compiler are CPU-bound and not thread-safe together;
    # no memory limit, since the nanny would kill a worker in the middle of a long training run; the dashboard
    # on a free port, since two searches on one machine would otherwise both ask for 8787
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, memory_limit=0,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        yield client


def _guard_main() -> None:
    """Worker processes are spawned, and spawn re-runs the parent's main script; a console script written
    without an ``if __name__ == "__main__"`` guard would start the whole search again in every worker. Naming
    the CLI module (which has the guard) as the main module's spec makes spawn import that instead."""
    main = sys.modules.get("__main__")
    if main is not None and getattr(main, "__spec__", None) is None and getattr(main, "__file__", None):
        main.__spec__ = importlib.util.find_spec("candle_hw.cli")


def run_codesign(cfg: CodesignConfig, out: str | Path, scheduler: str | None = None, n_workers: int | None = None,
                 log=print, force: bool = False, stage: str = "all", minutes: float | None = None) -> dict:
    """``minutes``: a time box for training (teacher stages included): every candidate fits its schedule to
    what is left when it starts and stops cleanly at the end; an unfinished one resumes on the next run."""
    if stage not in STAGES:
        raise UserError(f"--stage {stage!r}: choose from {', '.join(STAGES)}")
    # a new or empty folder, or one of ours (an earlier search to resume); anything else is refused
    out = claim_dir(out, "codesign", force, "--out")
    t0 = time.perf_counter()
    deadline = None if minutes is None else time.time() + minutes * 60
    cands = [c.as_dict() for c in cfg.candidates]
    targets = [{"device": t.device, "fps": t.fps, "synth": t.synth} for t in cfg.targets]
    pending = [c for c in cands if read_json(out / "candidates" / c["train_hash"] / "candidate.json") is None]
    log(f"[codesign] {len(cands)} candidates ({len(cands) - len(pending)} trained before) x {len(targets)} targets")
    with dask_client(scheduler, n_workers or cfg.n_workers) as client:
        # one teacher stage per key (DIR/teacher/KEY), run before the candidates that need it unless an earlier
        # run left its targets
        needs = {}
        if METHOD_SPECS[cfg.method].teacher is not None:
            needs = {c["train_hash"]: teacher_dir(out, cfg.train, c["arch"]) for c in pending}
        teachers = {}
        for c in pending:
            folder = needs.get(c["train_hash"])
            if folder and folder not in teachers and not any(folder.glob("targets_*.pt")):
                teachers[folder] = client.submit(teacher_task, c, cfg.train, str(out), pure=False)
        # every teacher stage before any training: a training task that took a teacher's future as an argument
        # would be placed on the worker holding it, piling the candidates of one key onto one worker while
        # others idle
        client.gather(list(teachers.values()))
        trained = {c["train_hash"]: client.submit(train_task, c, cfg.train, cfg.method, str(out), deadline,
                                                  key=f"train-{c['train_hash']}", pure=False) for c in cands}
        if stage == "train":
            results = client.gather(list(trained.values()))
            return _write_summary(cfg, out, "train", targets, results, t0, candidates=results)
        exported = {h: client.submit(export_task, f, str(out), key=f"export-{h}", pure=False)
                    for h, f in trained.items()}
        results = client.gather(list(trained.values()))
        # the records themselves, not their futures: a candidate's compiles then spread over the free workers
        # instead of queueing on the one that exported it
        exported = dict(zip(exported, client.gather(list(exported.values()))))
        compiled = [client.submit(compile_task, exported[c["train_hash"]], t, str(out), pure=False)
                    for c in cands for t in targets]
        records = mark_fronts(client.gather(compiled))
        front = [r for r in records if (r["pareto"] or r["pareto_tail"]) and r["target"]["synth"]]
        if cfg.synth and front:
            log(f"[codesign] Yosys on the {len(front)} front records")
            synths = client.gather([client.submit(synth_task, r, str(out), cfg.synth_timeout_s, pure=False)
                                    for r in front])
            for r, s in zip(front, synths):
                r["synth"] = s
    for r in records:
        r.setdefault("synth", None)
    write_json(out / "pareto.json", records)
    page = write_html(records, f"candle-hw codesign: {cfg.name} ({cfg.method})")
    write_file_atomic(out / "pareto.html", page.encode())
    return _write_summary(cfg, out, "all", targets, results, t0, records=records)


def _write_summary(cfg: CodesignConfig, out: Path, stage: str, targets: list, results: list, t0: float,
                   **rows) -> dict:
    """The run's summary (what was trained now, what was reused, ``rows``: the stage's records or candidates)
    and DIR/run.json (the summary without its rows, with the config)."""
    summary = {"name": cfg.name, "method": cfg.method, "stage": stage, "targets": targets,
               "trained": [r["name"] for r in results if r["trained_now"]],
               "reused": [r["name"] for r in results if not r["trained_now"] and not r.get("unfinished")],
               "seconds": round(time.perf_counter() - t0, 1), **rows}
    write_json(out / "run.json", {k: v for k, v in summary.items() if k not in rows}
               | {"config": cfg.raw, "train": asdict(cfg.train)})
    return summary


def format_summary(summary: dict) -> str:
    if summary["stage"] == "train":
        lines = [f"{'candidate':28s} {'acc':>6s} {'tail':>6s} {'epochs':>9s}"]
        for r in summary["candidates"]:
            if r.get("unfinished"):
                lines.append(f"{r['name']:28s} unfinished: {r['unfinished']}")
            else:
                lines.append(f"{r['name']:28s} {r['accuracy']:6.2f} {r['tail']:6.2f} "
                             f"{r['epochs']:4d}/{r['epochs_requested']:<4d}")
    else:
        lines = [f"{'candidate':28s} {'target':22s} {'acc':>6s} {'tail':>6s} {'LUT':>8s} {'BRAM':>5s} "
                 f"{'FPS':>10s} {'lat us':>8s}  front"]
        for r in summary["records"]:
            if r["compiled"]:
                mark = ("acc " if r["pareto"] else "") + ("tail" if r["pareto_tail"] else "")
                lines.append(f"{r['name']:28s} {r['target']['key']:22s} {r['accuracy']:6.2f} {r['tail']:6.2f} "
                             f"{r['lut']:8d} {r['bram_18k']:5d} {r['fps']:10.0f} {r['latency_us']:8.1f}  {mark}")
            else:
                acc = "" if r["accuracy"] is None else f"{r['accuracy']:6.2f} {r['tail']:6.2f} "
                lines.append(f"{r['name']:28s} {r['target']['key']:22s} {acc}not compiled: {r['error']}")
    lines.append(json.dumps({"trained": len(summary["trained"]), "reused": len(summary["reused"]),
                             "seconds": summary["seconds"]}))
    return "\n".join(lines)
