"""What a Dask worker does for one candidate: train (or find it trained), export, compile for a target, synthesise.

Every step leaves its result in the output folder under the candidate's training hash, written last and
atomically, so a step that finds its result never runs again:

    DIR/candidates/HASH/                 the ``candle-hw train`` run folder of the candidate (METHOD/student.pt ...)
    DIR/candidates/HASH/candidate.json   training result (accuracy, tail, epochs, ...): the candidate is trained
    DIR/candidates/HASH/model.onnx       its QONNX export (a step of its own: a GPU machine without the
                                         compiler trains, ``--stage train``; the compiling machine exports)
    DIR/candidates/HASH/targets/T/build  the compiled, folded build for target T (DEVICE@FPS)
    DIR/candidates/HASH/targets/T/compiled.json
    DIR/teacher/KEY/                     a teacher stage's cached targets, shared by the candidates of its key

A compile the compiler refuses is a result too (its one-line reason), recomputed on each run because it is
cheap and the compiler may since accept it. The folder must be reachable under the same path by every worker.
"""
from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path
from typing import Any

from candle_hw.errors import UserError
from candle_hw.outdir import write_file_atomic
from candle_hw.training.codesign.space import target_key


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def write_json(path: Path, data: Any) -> None:
    write_file_atomic(path, (json.dumps(data, indent=1, default=float) + "\n").encode())


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def candidate_dir(out: str | Path, train_hash: str) -> Path:
    return Path(out) / "candidates" / train_hash


def _worker_device(name: str) -> str:
    """Spread the workers of one machine over its GPUs: worker i takes GPU i mod count (LocalCluster names its
    workers 0, 1, ...; workers started by hand should get one GPU each through CUDA_VISIBLE_DEVICES)."""
    import torch
    if name not in ("auto", "cuda") or not torch.cuda.is_available() or torch.cuda.device_count() < 2:
        return name
    try:
        from distributed import get_worker
        index = int(get_worker().name)
    except (ValueError, TypeError):
        return name
    return f"cuda:{index % torch.cuda.device_count()}"


def _run_cfg(train_cfg, cand: dict, out: str | Path):
    cfg = copy.deepcopy(train_cfg)
    cfg.name, cfg.out_dir, cfg.student = cand["train_hash"], str(Path(out) / "candidates"), cand["arch"]
    cfg.device = _worker_device(cfg.device)
    run_dir = candidate_dir(out, cand["train_hash"])
    run_dir.mkdir(parents=True, exist_ok=True)
    shared = teacher_dir(out, cfg, cand["arch"])
    shared.mkdir(parents=True, exist_ok=True)
    link = run_dir / "teacher"
    if not link.is_symlink() and not link.exists():
        # the teacher stage caches its targets and reports in RUN/teacher; candidates whose teacher stage is the
        # same (same key) share one folder, so it is computed once and its report is that stage's own
        os.symlink(os.path.relpath(shared, run_dir), link)
    return cfg


def teacher_dir(out: str | Path, train_cfg, arch: dict) -> Path:
    """DIR/teacher/KEY: the teacher stage of every candidate with this key (it depends on the feature width)."""
    from candle_hw.models import build_model
    return Path(out) / "teacher" / train_cfg.teacher_key(int(build_model(arch).feature_channels))


def teacher_task(cand: dict, train_cfg, out: str) -> str:
    """The teacher stage (calibration and cached targets) for this candidate's feature width, before the
    candidates that share it start."""
    from candle_hw.training.pipeline import run_training
    cfg = _run_cfg(train_cfg, cand, out)
    run_training(cfg, stage="teacher")
    return cand["train_hash"]


def _model_stats(model) -> dict:
    """Binary weights and multiply-accumulates per frame of every binary layer."""
    import torch
    from candle_hw.models.quant import is_binary_layer
    weights, macs = 0, 0
    hooks = []

    def count(module, _inp, output):
        nonlocal macs
        macs += module.weight[0].numel() * output[0].numel()  # fan-in x outputs of one frame

    for module in model.modules():
        if is_binary_layer(module):
            weights += module.weight.numel()
            hooks.append(module.register_forward_hook(count))
    with torch.no_grad():
        model.eval()(torch.zeros(1, *model.input_shape))
    for h in hooks:
        h.remove()
    return {"binary_weights": int(weights), "macs": int(macs)}


# A time-boxed call (``--minutes``) leaves each candidate this long after its own schedule is fitted (epochs
# that end in time) and this long after its hard stop, to evaluate, checkpoint and write its record.
FIT_MARGIN_S, STOP_MARGIN_S = 60.0, 20.0
# A candidate that would start with less than this left is not started (a schedule fitted to a few epochs would
# be recorded as a finished, useless student); the next run trains it.
MIN_START_S = 180.0


def _time_box(cfg, left: float) -> None:
    """Fit the candidate's schedule to the ``left`` seconds of the call (its cosine schedule then still ends at
    zero) and stop it cleanly at the deadline; a candidate that still cannot finish resumes on the next run."""
    cfg.distill.fit_minutes = max(0.5, (left - FIT_MARGIN_S) / 60)
    cfg.distill.max_minutes = max(0.25, (left - STOP_MARGIN_S) / 60)


def train_task(cand: dict, train_cfg, method: str, out: str, deadline: float | None = None) -> dict:
    """Train the candidate (resuming a partial run); a trained candidate is returned as found. Export is a step
    of its own (export_task), so that training can run where the compiler is not installed."""
    run_dir = candidate_dir(out, cand["train_hash"])
    done = read_json(run_dir / "candidate.json")
    if done is not None:
        return {**done, "trained_now": False}
    left = None if deadline is None else deadline - time.time()
    if left is not None and left < MIN_START_S:
        return {**cand, "method": method, "trained_now": False,
                "unfinished": f"not started: {max(0.0, left):.0f} s left of --minutes (< {MIN_START_S:.0f} s); "
                              f"rerun to train it"}
    from candle_hw.models import load_checkpoint
    from candle_hw.training.pipeline import run_training
    cfg = _run_cfg(train_cfg, cand, out)
    if left is not None:
        _time_box(cfg, left)
    summary = run_training(cfg)
    res = summary["methods"][method]
    if res["epochs_done"] < res["epochs"]:  # stopped by distill.max_minutes: the next run resumes it
        return {**cand, "method": method, "trained_now": True,
                "unfinished": f"training stopped after {res['epochs_done']} of {res['epochs']} epochs "
                              f"(distill.max_minutes); rerun to resume"}
    model = load_checkpoint(run_dir / method / "student.pt")
    record = {"train_hash": cand["train_hash"], "name": cand["name"], "arch": cand["arch"],
              "values": cand["values"], "method": method, "accuracy": res["accuracy"], "tail": res["tail"],
              "head": res["head"], "medium": res["medium"], "train_seconds": res["train_seconds"],
              "epochs": res["epochs_done"], "epochs_requested": cfg.distill.epochs, "device": res["device"],
              **_model_stats(model)}
    write_json(run_dir / "candidate.json", record)
    return {**record, "trained_now": True}


def export_task(trained: dict, out: str) -> dict:
    """The trained candidate's QONNX export (DIR/candidates/HASH/model.onnx, reused when there); an exporter
    failure is this candidate's result, not the search's."""
    if trained.get("unfinished"):
        return trained
    run_dir = candidate_dir(out, trained["train_hash"])
    onnx = run_dir / "model.onnx"
    if not onnx.is_file():
        from candle_hw.compile.export import export_qonnx_model
        from candle_hw.models import load_checkpoint
        try:
            export_qonnx_model(load_checkpoint(run_dir / trained["method"] / "student.pt"), onnx)
        except Exception as exc:
            return {**trained, "onnx": None, "export_error": f"export: {type(exc).__name__}: {one_line(exc)}"}
    return {**trained, "onnx": str(onnx.relative_to(Path(out))), "export_error": None}


def target_dir(out: str | Path, train_hash: str, target_key: str) -> Path:
    return candidate_dir(out, train_hash) / "targets" / target_key


def compile_task(trained: dict, target: dict, out: str) -> dict:
    """Compile and fold the trained candidate for one target; the compiler's refusal is recorded."""
    key = target_key(target["device"], target["fps"])
    base = {k: trained.get(k) for k in ("train_hash", "name", "arch", "values", "method", "accuracy", "tail",
                                        "head", "medium", "epochs", "epochs_requested", "binary_weights",
                                        "macs")}
    record = {**base, "target": {**target, "key": key}, "compiled": False, "error": None, "build": None,
              **dict.fromkeys(("clock_mhz", "lut", "bram_18k", "ff", "fps", "latency_us", "cycles_per_frame"))}
    if trained.get("unfinished") or trained.get("export_error"):
        return {**record, "error": trained.get("unfinished") or trained["export_error"]}
    tdir = target_dir(out, trained["train_hash"], key)
    found = read_json(tdir / "compiled.json")
    if found is not None:
        return {**record, **found}
    from candle_hw.compile.pipeline import CompileOptions, compile_model
    build = tdir / "build"
    try:
        compile_model(Path(out) / trained["onnx"], build, CompileOptions(target=target["device"], fps=target["fps"]))
    except UserError as exc:
        return {**record, "error": one_line(exc)}
    reports = build / "reports"
    perf = read_json(reports / "estimate_network_performance.json")
    total = read_json(reports / "estimate_layer_resources.json")["total"]
    found = {"compiled": True, "error": None, "build": str(build.relative_to(Path(out))),
             "clock_mhz": read_json(reports / "estimate_config.json")["clock_mhz"],
             "lut": total["LUT"], "bram_18k": total["BRAM_18K"], "ff": total["FF"],
             "fps": perf["estimated_throughput_fps"], "latency_us": perf["estimated_latency_ns"] / 1000.0,
             "cycles_per_frame": perf["max_cycles"]}
    write_json(tdir / "compiled.json", found)
    return {**record, **found}


def synth_task(record: dict, out: str, timeout: float) -> dict:
    """Yosys synthesis of a front candidate's build for its device (a report already there is reused)."""
    from candle_hw.compile.synth import SynthError, synthesize
    build = Path(out) / record["build"]
    device = record["target"]["device"]
    report = read_json(build / "reports" / f"synth_{device}.json")
    if report is None:
        try:
            report = synthesize(build, device, timeout=timeout)
        except (SynthError, UserError) as exc:
            return {"error": one_line(exc)}
    total = report["total"]
    keys = [k for k in ("LUT", "FF", "BRAM_18K", "EBR", "Carry") if k in total]
    return {"tool": report["tool"], "runtime_s": report["runtime_s"], "fits": report["fits"],
            **{k: total[k] for k in keys}}
