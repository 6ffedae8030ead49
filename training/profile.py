"""Measure what one student epoch costs with and without the (multi-resolution) teacher in the loop.

    python -m candle_hw.training.profile --dataset cifar10 --rho 100 --student cnv_w1a1 --out profile.json

Times, per training step of the student (median of `--steps` after warm-up): the student alone (CE), Alg. 1 with
cached teacher targets, and Alg. 1 with the teacher run online under no_grad at the identity resolution only and
at all resolutions. The multi-resolution overhead per epoch is reported for the online and the cached teacher
(cached: the one-off feature pass, amortised over the epochs, is reported separately).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from candle_hw.training.augment import ViewBank, pad_images, random_views, crop_flip
from candle_hw.training.calibrate import CalibratedHead
from candle_hw.training.data import load_lt_dataset
from candle_hw.training.distill import AdversarialBalancer, compute_gradients
from candle_hw.training.evaluate import student_input
from candle_hw.training.loop import split_params, training_forward
from candle_hw.training.teachers import load_teacher, pooled_features


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _time(fn, steps: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    _sync()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        _sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _lt_batches(dataset: str, rho: float, batch: int, device: torch.device):
    """The LT training set on the device and a sampler of random augmented batches (idx, images)."""
    ds = load_lt_dataset(dataset, rho)
    padded = pad_images(torch.from_numpy(ds.train.images).to(device), 4)
    labels = torch.from_numpy(ds.train.labels).to(device)
    size = tuple(ds.train.images.shape[2:])
    g = torch.Generator().manual_seed(0)

    def batch_images():
        idx = torch.randint(0, len(labels), (batch,), generator=g).to(device)
        dy, dx, flip = random_views(batch, 4, g, device)
        return idx, crop_flip(padded, idx, dy, dx, flip, size)

    return ds, padded, labels, size, batch_images


class _StudentStep:
    """One student training step (the loop's gradient rules and an Adam step) on given teacher targets."""

    def __init__(self, student: str, device: torch.device, compiled: bool = False):
        from candle_hw.models import build_model
        self.model = build_model(student).to(device)
        self.enc, self.cls = split_params(self.model)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.ab = AdversarialBalancer().to(device)
        self.forward = training_forward(self.model, compiled)

    def __call__(self, rule: str, x: torch.Tensor, labels: torch.Tensor, t_logits: torch.Tensor,
                 t_feat: torch.Tensor) -> None:
        feat, logits = self.forward(student_input(self.model, x))
        g_enc, g_cls, _, _ = compute_gradients(rule, self.enc, self.cls, self.ab, feat, logits, labels, t_logits,
                                               t_feat, 0.5, 1.0, 0.0, None)
        for p, gr in zip(self.enc + self.cls, g_enc + g_cls):
            p.grad = gr
        self.opt.step()


def profile(dataset: str, rho: float, student: str, teacher: str, resolutions: list[int], identity: int,
            batch: int, steps: int) -> dict:
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    ds, padded, labels, size, batch_images = _lt_batches(dataset, rho, batch, device)
    train_step = _StudentStep(student, device)
    channels = train_step.model.feature_channels
    encoder = load_teacher(teacher).to(device)
    heads = {n: CalibratedHead(encoder.out_channels, channels, n, min(identity, n - 1),
                               ds.num_classes).to(device) for n in (1, len(resolutions))}
    cached_logits = torch.randn(batch, ds.num_classes, device=device)
    cached_feat = torch.randn(batch, channels, device=device)

    def step(rule: str, teacher_res: list[int] | None):
        idx, x = batch_images()
        t_logits, t_feat = cached_logits, cached_feat
        if teacher_res is not None:
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
                maps = [encoder(x, r).float() for r in teacher_res]
                head = heads[len(teacher_res)]
                t_logits, t_feat = head(maps), head.identity_feature(maps)
        train_step(rule, x, labels[idx], t_logits, t_feat)

    steps_per_epoch = -(-len(labels) // batch)
    out = {"device": torch.cuda.get_device_name(device), "student": student, "teacher": teacher,
           "resolutions": resolutions, "batch": batch, "steps_per_epoch": steps_per_epoch, "step_ms": {}}
    cases = {"student_ce": ("ce", None), "alg1_cached": ("alg1", None),
             "alg1_online_single": ("alg1", [resolutions[identity]]), "alg1_online_multi": ("alg1", resolutions)}
    for name, (rule, res) in cases.items():
        out["step_ms"][name] = 1000 * _time(lambda: step(rule, res), steps)
    ms = out["step_ms"]
    out["epoch_s"] = {k: v * steps_per_epoch / 1000 for k, v in ms.items()}
    out["multi_res_overhead_online"] = ms["alg1_online_multi"] / ms["alg1_online_single"] - 1
    bank = ViewBank.make(len(labels), 1, 4, 0, device)
    _, single_s = pooled_features(encoder, padded, bank, [resolutions[identity]], size, 256)
    _, multi_s = pooled_features(encoder, padded, bank, resolutions, size, 256)
    out["cache_seconds_per_view"] = {"single": single_s, "multi": multi_s}
    return out


def profile_students(dataset: str, rho: float, students: list[str], batch: int, steps: int,
                     compile_modes: list[bool], device: str = "cuda") -> dict:
    """Alg. 1 step with cached targets (the runs' inner loop) for each student, eager and/or torch.compile'd:
    what a run of that student costs per epoch on this GPU, for planning device time."""
    device = torch.device(device)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    ds, _, labels, _, batch_images = _lt_batches(dataset, rho, batch, device)
    steps_per_epoch = -(-len(labels) // batch)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    out = {"device": name, "batch": batch, "steps_per_epoch": steps_per_epoch,
           "alg1_cached_ms": {}, "compile_seconds": {}}
    for student in students:
        for compiled in compile_modes:
            train_step = _StudentStep(student, device, compiled)
            t_logits = torch.randn(batch, ds.num_classes, device=device)
            t_feat = torch.randn(batch, train_step.model.feature_channels, device=device)

            def step():
                idx, x = batch_images()
                train_step("alg1", x, labels[idx], t_logits, t_feat)

            key = f"{student}{'+compile' if compiled else ''}"
            t0 = time.perf_counter()
            step()
            _sync()
            out["compile_seconds"][key] = time.perf_counter() - t0
            out["alg1_cached_ms"][key] = 1000 * _time(step, steps)
            print(key, f"{out['alg1_cached_ms'][key]:.2f} ms/step", flush=True)
    out["epoch_s"] = {k: v * steps_per_epoch / 1000 for k, v in out["alg1_cached_ms"].items()}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--rho", type=float, default=100)
    p.add_argument("--student", default="cnv_w1a1")
    p.add_argument("--teacher", default="efficientnet_lite0")
    p.add_argument("--resolutions", default="128,224,480")
    p.add_argument("--identity-index", type=int, default=1)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--out", default="profile.json")
    p.add_argument("--device", default="cuda", help="with --students: cuda or cpu")
    p.add_argument("--students", help="comma list: profile only these students' Alg. 1 step (no teacher)")
    p.add_argument("--compile", choices=("off", "on", "both"), default="off",
                   help="with --students: torch.compile the student forward")
    a = p.parse_args(argv)
    if a.students:
        modes = {"off": [False], "on": [True], "both": [False, True]}[a.compile]
        res = profile_students(a.dataset, a.rho, a.students.split(","), a.batch, a.steps, modes, a.device)
    else:
        res = profile(a.dataset, a.rho, a.student, a.teacher, [int(r) for r in a.resolutions.split(",")],
                      a.identity_index, a.batch, a.steps)
    text = json.dumps(res, indent=1)
    print(text)
    with open(a.out, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
