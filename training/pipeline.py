"""One training run: LT data -> teacher stage (calibration, cached targets) -> each student method -> metrics,
checkpoints and plots under OUT/NAME/. Methods run one after another, or as parallel subprocesses (jobs > 1)
that share the teacher stage's cached targets."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from candle_hw.errors import UserError
from candle_hw.training.augment import ViewBank, pad_images
from candle_hw.training.config import TrainConfig
from candle_hw.training.data import LTDataset, load_lt_dataset
from candle_hw.training.distill import LABEL_TERM_METHODS, METHOD_SPECS
from candle_hw.training.evaluate import (accuracy_report, classifier_weight_norms, predict, short_report,
                                         student_diagnostics)
from candle_hw.training.loop import StudentData, TeacherTargets, train_student
from candle_hw.training.plots import lambda_plot, per_class_plot, weight_norm_plot
from candle_hw.training.online import OnlineTeacher
from candle_hw.training.teacher_stage import (BLEND, build_teacher_targets, load_targets, save_targets,
                                              stage_kinds)
from candle_hw.training.teachers import load_teacher


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if "LOCAL_RANK" in os.environ and torch.cuda.is_available():
            return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def init_distributed(device: torch.device) -> tuple[int, int]:
    """Under torchrun (WORLD_SIZE > 1): NCCL on GPUs, gloo on CPUs. Returns (rank, world size)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def _default_factory(arch):
    from candle_hw.models import build_model
    try:
        return build_model(arch)
    except ValueError as exc:
        raise UserError(f"student {arch!r}: {exc}") from None


def source_kwargs(cfg: TrainConfig) -> dict:
    """What the config's source loader takes beyond the defaults (a CIFAR-10 archive path)."""
    return {"archive": cfg.data.cifar_archive} if cfg.data.dataset == "cifar10" and cfg.data.cifar_archive else {}


def load_data(cfg: TrainConfig) -> LTDataset:
    return load_lt_dataset(cfg.data.dataset, cfg.data.rho, cfg.data.seed, cfg.data.n_max,
                           holdout_per_class=cfg.data.holdout, **source_kwargs(cfg))


def run_training(cfg: TrainConfig, stage: str = "all", jobs: int = 1,
                 model_factory: Callable[[str | dict], torch.nn.Module] = _default_factory,
                 summary: bool = True, teacher_encoder=None, ensemble_encoders=None) -> dict:
    """Run the configured stages; returns the summary written to OUT/NAME/metrics.json (rank 0).
    teacher_encoder / ensemble_encoders ({name: encoder}): encoders to use instead of loading the registry's."""
    device = resolve_device(cfg.device)
    rank, world = init_distributed(device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    run_dir = Path(cfg.out_dir) / cfg.name
    run_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    ds = load_data(cfg)
    probe = model_factory(cfg.student)
    if tuple(probe.input_shape) != ds.train.images.shape[1:]:
        raise UserError(f"student {cfg.student!r}: input shape {tuple(probe.input_shape)} does not match "
                        f"{cfg.data.dataset} images {ds.train.images.shape[1:]}")
    padded = pad_images(torch.from_numpy(ds.train.images).to(device), cfg.data.pad)
    labels = torch.from_numpy(ds.train.labels).to(device)
    test_images = torch.from_numpy(ds.test.images).to(device)
    image_size = tuple(ds.train.images.shape[2:])
    bank = ViewBank.make(len(labels), cfg.teacher.views, cfg.data.pad, cfg.data.seed, device, cfg.data.flip,
                         cfg.teacher.mix, cfg.teacher.mix_prob, image_size)
    kinds = {METHOD_SPECS[m].teacher for m in cfg.methods} - {None}
    key = cfg.teacher_key(probe.feature_channels)
    teacher_dir = run_dir / "teacher"
    teacher_dir.mkdir(exist_ok=True)
    if stage == "summary":
        return write_summary(cfg, ds, merged_teacher_report(teacher_dir), run_dir, None, None)
    # One file per kind set (the set the stage computes: a blend's parts beside it): stages for different kinds
    # may run at once (e.g. one per GPU).
    built = stage_kinds(kinds)
    cache = teacher_dir / f"targets_{key}_{'-'.join(sorted(built))}.pt"
    loaded = load_targets(teacher_dir, key, ds.construction_hash, kinds, device) if stage != "teacher" else None
    targets, t_report = {}, {}
    if loaded is None and rank == 0 and kinds:
        targets, t_report = build_teacher_targets(cfg, padded, labels, test_images, ds.test.labels,
                                                  ds.class_counts, bank, image_size, probe.feature_channels, kinds,
                                                  teacher_encoder, ds.construction_hash, ensemble_encoders)
        save_targets(cache, targets, t_report, key, ds.construction_hash)
        (teacher_dir / f"teacher_{'-'.join(sorted(built))}.json").write_text(json.dumps(t_report, indent=1))
    if world > 1:
        dist.barrier()
    if loaded is None and rank != 0 and kinds:
        loaded = load_targets(teacher_dir, key, ds.construction_hash, kinds, device)
    if loaded is not None:
        targets, t_report = loaded
    teacher_seconds = time.perf_counter() - t_start
    if stage == "teacher":
        return {"teacher": t_report}
    data = StudentData(padded, labels, bank, image_size, ds.class_counts, test_images,
                       torch.from_numpy(ds.test.labels))
    if jobs > 1 and world == 1:
        _run_parallel(cfg, run_dir, jobs)
    else:
        for method in cfg.methods:
            _run_method(cfg, method, data, targets, ds, run_dir, model_factory, rank, t_report, teacher_encoder)
    if rank != 0 or not summary:
        return {}
    return write_summary(cfg, ds, merged_teacher_report(teacher_dir), run_dir, teacher_seconds,
                         time.perf_counter() - t_start)


def merged_teacher_report(teacher_dir: Path) -> dict:
    """All teacher_*.json reports of a run folded into one (kinds side by side); a blend's file last, so its
    parts' reports are those it was made of (as load_targets reads them)."""
    merged: dict = {"kinds": {}}
    reports = [(path, json.loads(path.read_text())) for path in sorted(teacher_dir.glob("teacher_*.json"))]
    for path, rep in sorted(reports, key=lambda pr: BLEND in pr[1].get("kinds", {})):
        merged["kinds"].update(rep.pop("kinds", {}))
        for k, v in rep.items():
            merged[k if k not in merged else f"{k}_{path.stem[8:]}"] = v
    return merged


def _online_teacher(cfg: TrainConfig, method: str, teacher: TeacherTargets, device: torch.device, encoder=None):
    """Function matching's teacher: the frozen encoder and the calibrated head saved by the teacher stage."""
    if teacher.head is None:
        raise UserError(f"method {method}: the cached teacher targets carry no calibrated head (made before "
                        "function matching existed); rerun with --stage teacher")
    encoder = (encoder or load_teacher(cfg.teacher.name)).to(device)
    return OnlineTeacher.from_head(encoder, teacher.head, cfg.function_matching.amp)


def _run_method(cfg: TrainConfig, method: str, data: StudentData, targets: dict[str, TeacherTargets],
                ds: LTDataset, run_dir: Path, model_factory, rank: int, t_report: dict | None = None,
                teacher_encoder=None) -> dict:
    spec = METHOD_SPECS[method]
    out = run_dir / method
    out.mkdir(exist_ok=True)
    torch.manual_seed(cfg.data.seed)
    model = model_factory(cfg.student).to(data.padded.device)
    teacher = targets.get(spec.teacher) if spec.teacher else TeacherTargets(None, None)
    label_weight = cfg.distill.label_weight if method in LABEL_TERM_METHODS else 0.0
    online = _online_teacher(cfg, method, teacher, data.padded.device, teacher_encoder) if spec.online else None
    state, report = train_student(model, method, data, teacher, cfg.distill, cfg.data.seed,
                                  out / "checkpoint.pt", cfg.progress, label_weight, online,
                                  cfg.function_matching, cfg.data.flip)
    if rank != 0:
        return {}
    diagnostics = _diagnostics(model, spec.teacher, data, teacher, ds, report, t_report or {})
    device_name = torch.cuda.get_device_name(data.padded.device) if data.padded.device.type == "cuda" else "cpu"
    metrics = {"method": method, "paper_method": spec.paper, "teacher_kind": spec.teacher, "rule": spec.rule,
               "label_weight": label_weight, "la_tau": cfg.distill.la_tau if spec.prior_adjusted else None,
               "dataset": ds.describe(), "test": report,
               "epochs_done": state.epoch, "epochs": state.planned_epochs, "epochs_requested": cfg.distill.epochs,
               "function_matching": asdict(cfg.function_matching) if spec.online else None,
               "train_seconds": state.seconds,
               "seconds_per_epoch": state.seconds / max(1, len(state.history)), "device": device_name,
               "weight_norms": classifier_weight_norms(model), "diagnostics": diagnostics,
               "history": state.history,
               "lambda_final": state.lambdas[-1] if state.lambdas else None, "config": cfg.to_dict()}
    if ds.holdout is not None:
        metrics["posthoc"] = _posthoc(model, method, data, ds, out)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    # The deployable student: no optimiser state, binary layers' latent weights replaced by their signs. It
    # exports to the very same QONNX graph as checkpoint.pt and compresses ~17x (a wide student travels).
    torch.save({"arch": model.arch, "state_dict": deployable_state_dict(model), "method": method},
               out / "student.pt")
    if state.lambdas:
        (out / "lambda_trajectory.json").write_text(json.dumps(state.lambdas))
    plots = out / "plots"
    plots.mkdir(exist_ok=True)
    weight_norm_plot({method: metrics["weight_norms"]}, ds.class_counts, plots / "weight_norms.png")
    if state.lambdas:
        lambda_plot({method: state.lambdas}, len(state.lambdas) // max(1, state.epoch), plots / "lambda.png")
    return metrics


def _posthoc(model, method: str, data: StudentData, ds: LTDataset, out: Path) -> dict:
    """Post-hoc logit adjustment of a trained student (data.holdout > 0): tau on the held-out images, the test
    set once at that tau; the adjusted deployable student goes to student_adjusted.pt."""
    from candle_hw.training.posthoc import adjust
    device = data.test_images.device
    adjusted, info = adjust(model, torch.from_numpy(ds.holdout.images).to(device), ds.holdout.labels,
                            ds.class_counts)
    adjusted = adjusted.to(device)
    report = accuracy_report(predict(adjusted, data.test_images), ds.test.labels, ds.class_counts)
    info["test"] = short_report(report)
    torch.save({"arch": adjusted.arch, "state_dict": deployable_state_dict(adjusted), "method": method,
                "posthoc": {k: v for k, v in info.items() if k != "test"}}, out / "student_adjusted.pt")
    return info


def _diagnostics(model, kind: str | None, data: StudentData, teacher: TeacherTargets, ds: LTDataset,
                 report: dict, t_report: dict) -> dict:
    """Train-view accuracy and teacher agreement (train views and test set) of a trained student."""
    view0 = data.bank.batch(data.padded, torch.arange(len(data.labels), device=data.padded.device),
                            torch.zeros(len(data.labels), dtype=torch.long, device=data.padded.device),
                            data.image_size)
    t_pred = t_report.get("kinds", {}).get(kind, {}).get("test_pred") if kind else None
    test_pred = predict(model, data.test_images)
    return student_diagnostics(model, view0, ds.train.labels, test_pred, ds.test.labels, ds.class_counts,
                               teacher.logits[0] if teacher.logits is not None else None,
                               None if t_pred is None else np.asarray(t_pred))


def deployable_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """state_dict with every quantized layer's latent weight replaced by its quantized integer value (sign(w),
    0 -> +1, for 1 bit): the same deployed network, since the quantizer of an integer on its grid is itself."""
    from candle_hw.models.quant import is_binary_layer
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for name, module in model.named_modules():
            if is_binary_layer(module):
                key = f"{name}.weight"
                state[key] = module.quant_weight().value.detach().to(state[key].dtype).clone()
    return state


def _run_parallel(cfg: TrainConfig, run_dir: Path, jobs: int) -> None:
    """Each method in its own process (several per GPU: a CNV step leaves most of an H100 idle)."""
    import yaml
    cfg_path = run_dir / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    pending = list(cfg.methods)
    running: list[tuple[str, subprocess.Popen]] = []
    failed = []
    while pending or running:
        while pending and len(running) < jobs:
            method = pending.pop(0)
            log = open(run_dir / f"{method}.log", "w")
            cmd = [sys.executable, "-m", "candle_hw.training.cli", "--config", str(cfg_path), "--methods", method,
                   "--stage", "students", "--no-progress", "--no-summary"]
            running.append((method, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)))
        time.sleep(1.0)
        for item in list(running):
            if item[1].poll() is not None:
                running.remove(item)
                if item[1].returncode != 0:
                    failed.append(item[0])
    if failed:
        raise UserError(f"methods {failed} failed; see {run_dir}/<method>.log")


def _agreement_summary(diag: dict | None) -> dict:
    """The headline diagnostics of one method for the run summary (None where not applicable)."""
    if not diag:
        return {}
    test, train = diag.get("teacher_test_agreement"), diag.get("teacher_train_agreement")
    # .get: a method trained before the balanced figure existed (a resumed run) has none
    return {"train_view_accuracy": diag["train_view_accuracy"],
            "train_view_balanced": diag.get("train_view_balanced"),
            "teacher_test_agreement": test["agreement"] if test else None,
            "teacher_test_agreement_per_class": test["per_class_agreement"] if test else None,
            "teacher_train_agreement": train["agreement"] if train else None}


def write_summary(cfg: TrainConfig, ds: LTDataset, t_report: dict, run_dir: Path, teacher_seconds: float | None,
                  total_seconds: float | None) -> dict:
    """OUT/NAME/metrics.json over every method that has results, the ladder plots, and checkpoint.pt."""
    results = {}
    for method in cfg.methods:
        path = run_dir / method / "metrics.json"
        if path.is_file():
            results[method] = json.loads(path.read_text())
    summary = {"name": cfg.name, "dataset": ds.describe(), "teacher": t_report,
               "teacher_stage_seconds": teacher_seconds, "total_seconds": total_seconds,
               "methods": {m: {k: r["test"][k] for k in ("accuracy", "head", "medium", "tail", "many_shot",
                                                         "medium_shot", "few_shot", "per_class")}
                           | {"train_seconds": r["train_seconds"], "epochs_done": r["epochs_done"],
                              "epochs": r["epochs"],
                              "paper_method": r["paper_method"], "device": r["device"]}
                           | _agreement_summary(r.get("diagnostics"))
                           | ({"posthoc_tau": r["posthoc"]["tau"], "posthoc_test": r["posthoc"]["test"]}
                              if r.get("posthoc") else {})
                           for m, r in results.items()}}
    (run_dir / "metrics.json").write_text(json.dumps(summary, indent=1))
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    if results:
        weight_norm_plot({m: r["weight_norms"] for m, r in results.items()}, ds.class_counts,
                         plots / "weight_norms.png")
        per_class_plot({m: r["test"]["per_class"] for m, r in results.items()}, ds.class_counts,
                       plots / "per_class.png")
        lambdas = {m: json.loads((run_dir / m / "lambda_trajectory.json").read_text())
                   for m in results if (run_dir / m / "lambda_trajectory.json").is_file()}
        if lambdas:
            steps = int(np.ceil(ds.class_counts.sum() / cfg.distill.batch))
            lambda_plot(lambdas, steps, plots / "lambda.png")
        primary = "candle" if "candle" in results else list(results)[-1]
        shutil.copyfile(run_dir / primary / "checkpoint.pt", run_dir / "checkpoint.pt")
        summary["checkpoint_method"] = primary
        (run_dir / "metrics.json").write_text(json.dumps(summary, indent=1))
    return summary
