"""The student training loop: cached teacher targets, Adam (zero weight decay) + cosine schedule, checkpoint/resume
that replays exactly, and data-parallel training under torchrun (gradients all-reduced by hand, because Alg. 1
takes three separate gradient sets from one forward pass)."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from candle_hw.training.augment import ViewBank
from candle_hw.training.distill import METHOD_SPECS, AdversarialBalancer, compute_gradients
from candle_hw.training.evaluate import accuracy_report, predict, student_input
from candle_hw.training.online import FunctionMatchingConfig, OnlineTeacher, fm_batch


@dataclass
class DistillConfig:
    epochs: int = 400
    batch: int = 256
    lr: float = 5e-3
    lr_ab: float = 1e-3
    lam: float = 0.5  # fixed lambda of `baseline` and `cd`
    temperature: float = 1.0
    label_weight: float = 1.0  # only for the label-term extensions
    la_tau: float = 1.0  # only for the logit-adjusted extensions (*_la): the KL's student logits + la_tau log prior
    checkpoint_every: int = 25
    eval_every: int = 0  # 0: evaluate only at the end
    max_minutes: float = 0.0  # > 0: stop cleanly (checkpoint written) after this long; resume continues
    # > 0: after epochs 2, 5, 10, 20 and 40 of an invocation, set the run's length to the epochs that fit this
    # many minutes from its start at the recent pace (never above `epochs`), and its cosine schedule with it: the
    # schedule then still ends at zero instead of being cut off by max_minutes. Refitting more than once follows
    # processes that share a GPU speeding up or slowing down as their neighbours compile, start or finish.
    fit_minutes: float = 0.0
    stop_after: int = 0  # > 0: stop cleanly after this many epochs in this invocation (time-boxing, tests)
    # torch.compile the student's training forward: a binary CNV step is hundreds of tiny quantizer kernels, so
    # fusing them is what makes a GPU step cheap. Float results differ from eager in the last bits (op order).
    compile: bool = False


@dataclass
class TeacherTargets:
    """Per-view teacher outputs for every training image: logits (K, N, classes) and FS targets (K, N, C)."""

    logits: torch.Tensor | None
    feats: torch.Tensor | None
    # The calibrated head itself ({"state", "resolutions", "identity"}), for function matching's online teacher.
    head: dict | None = None


@dataclass
class StudentData:
    padded: torch.Tensor  # (N, C, H+2p, W+2p) uint8, on the training device
    labels: torch.Tensor
    bank: ViewBank
    image_size: tuple[int, int]
    class_counts: np.ndarray
    test_images: torch.Tensor
    test_labels: torch.Tensor


@dataclass
class TrainState:
    epoch: int = 0
    seconds: float = 0.0
    history: list[dict] = field(default_factory=list)
    lambdas: list[float] = field(default_factory=list)
    planned_epochs: int = 0  # cfg.epochs, or fewer where fit_minutes shortened the run


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _all_reduce_mean(grads: list[torch.Tensor], world: int) -> None:
    if world > 1 and grads:
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= world
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()


def _sync_buffers(model: torch.nn.Module, world: int) -> None:
    """BatchNorm statistics are per rank; rank 0's are the ones evaluated and saved."""
    if world > 1:
        for buf in model.buffers():
            dist.broadcast(buf, 0)


def split_params(model: torch.nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(encoder theta_e, classifier theta_c): the classifier is model.classifier, the rest is the encoder."""
    cls_ids = {id(p) for p in model.classifier.parameters()}
    enc = [p for p in model.parameters() if id(p) not in cls_ids and p.requires_grad]
    cls = [p for p in model.classifier.parameters() if p.requires_grad]
    return enc, cls


def training_forward(model: torch.nn.Module, compile: bool):
    """model.forward_features, or its torch.compile'd version."""
    if not compile:
        return model.forward_features
    # Alg. 1 walks the backward graph twice (classifier grads, then encoder grads: retain_graph), which a
    # compiled backward allows only without donated buffers.
    import torch._functorch.config as functorch_config
    functorch_config.donated_buffer = False
    return torch.compile(model.forward_features)


FIT_AT = (2, 5, 10, 20, 40)  # epochs of an invocation after which fit_minutes refits the run's length


def _fit_epochs(cfg: DistillConfig, state: TrainState, elapsed: float, first: int) -> int:
    """Epochs that end within cfg.fit_minutes at the pace of the last (up to 3) epochs, the first epoch of an
    invocation (warm-up, compilation) excluded; at least one more, at most cfg.epochs."""
    pace = float(np.mean([h["seconds"] for h in state.history[max(first + 1, len(state.history) - 3):]]))
    fit = int((cfg.fit_minutes * 60 - elapsed) / max(pace, 1e-6))
    return min(cfg.epochs, max(state.epoch + 1, state.epoch + fit))


def _agreed(value: int, world: int, device: torch.device) -> int:
    """Rank 0's value on every rank (ranks time their epochs apart; they must stop at the same epoch)."""
    if world == 1:
        return value
    t = torch.tensor([value], device=device)
    dist.broadcast(t, 0)
    return int(t.item())


def _refit_schedules(scheds: dict, epochs: int, steps: int) -> None:
    # The recursive cosine update follows a new T_max from the current lr on and still reaches 0 at its end.
    for sched in scheds.values():
        sched.T_max = epochs * steps


def train_student(model: torch.nn.Module, method: str, data: StudentData, targets: TeacherTargets,
                  cfg: DistillConfig, seed: int, checkpoint: Path | None = None, progress: bool = False,
                  label_weight: float = 0.0, online: OnlineTeacher | None = None,
                  fm: FunctionMatchingConfig | None = None, flip: bool = True) -> tuple[TrainState, dict]:
    """Train `model` in place by `method`; resumes from `checkpoint` if it holds a resume state. Returns the
    training state and the final test report (rank 0 is authoritative under DDP). With `online` (function
    matching) each batch is a fresh `fm` augmentation and the teacher's outputs are computed on it."""
    from tqdm import tqdm
    spec = METHOD_SPECS[method]
    rank, world = _world()
    device = data.padded.device
    torch.manual_seed(seed)
    balancer = AdversarialBalancer().to(device) if spec.rule == "alg1" else None
    enc_params, cls_params = split_params(model)
    opts = {"enc": torch.optim.Adam(enc_params, lr=cfg.lr, weight_decay=0.0),
            "cls": torch.optim.Adam(cls_params, lr=cfg.lr, weight_decay=0.0)}
    if balancer is not None:
        opts["ab"] = torch.optim.Adam(balancer.parameters(), lr=cfg.lr_ab, maximize=True)
    num = data.padded.shape[0]
    steps = math.ceil(num / cfg.batch)
    scheds = {k: torch.optim.lr_scheduler.CosineAnnealingLR(o, cfg.epochs * steps) for k, o in opts.items()}
    gen = torch.Generator().manual_seed(seed + 1)
    fm_gen = torch.Generator().manual_seed(seed + 2)
    state = TrainState(planned_epochs=cfg.epochs)
    if checkpoint is not None and checkpoint.is_file():
        state = _load_resume(checkpoint, model, balancer, opts, scheds, gen, method, fm_gen) or state
        state.planned_epochs = state.planned_epochs or cfg.epochs  # checkpoints from before fit_minutes
    _refit_schedules(scheds, state.planned_epochs, steps)
    log_prior = torch.tensor(np.log(data.class_counts / data.class_counts.sum()), dtype=torch.float32,
                             device=device)
    kl_shift = cfg.la_tau * log_prior if spec.prior_adjusted else None
    start, budget = time.perf_counter(), cfg.max_minutes * 60
    done_before = len(state.history)
    forward = training_forward(model, cfg.compile)
    bar = tqdm(range(state.epoch, cfg.epochs), desc=method, disable=not progress or rank != 0, leave=False)
    for epoch in bar:
        if epoch >= state.planned_epochs:
            break
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(num, generator=gen)
        views = torch.randint(0, data.bank.num_views, (num,), generator=gen)
        sums: dict[str, torch.Tensor] = {}
        lam_steps = []
        for s in range(steps):
            idx = perm[s * cfg.batch:(s + 1) * cfg.batch][rank::world].to(device, non_blocking=True)
            view = views[s * cfg.batch:(s + 1) * cfg.batch][rank::world].to(device, non_blocking=True)
            if online is not None:
                images = fm_batch(data.padded, idx, data.image_size, fm_gen, fm, flip)
                t_logits, t_feat = online(images)
            else:
                images = data.bank.batch(data.padded, idx, view, data.image_size)
                t_logits = targets.logits[view, idx] if targets.logits is not None else None
                t_feat = targets.feats[view, idx] if targets.feats is not None else None
            feat, logits = forward(student_input(model, images))
            g_enc, g_cls, g_ab, losses = compute_gradients(
                spec.rule, enc_params, cls_params, balancer, feat, logits, data.labels[idx], t_logits, t_feat,
                cfg.lam, cfg.temperature, label_weight, log_prior, kl_shift)
            _all_reduce_mean(g_enc + g_cls + g_ab, world)
            for params, grads, key in ((cls_params, g_cls, "cls"), (enc_params, g_enc, "enc")):
                for p, g in zip(params, grads):
                    p.grad = g
            if balancer is not None:
                for p, g in zip(balancer.parameters(), g_ab):
                    p.grad = g
            for key, opt in opts.items():
                opt.step()
                scheds[key].step()
            for k, v in losses.items():
                sums[k] = sums.get(k, 0) + v
            if "lam" in losses and balancer is not None:
                lam_steps.append(losses["lam"])
        record = {"epoch": epoch + 1, **{k: float(v) / steps for k, v in sums.items()},
                  "lr": scheds["enc"].get_last_lr()[0], "seconds": time.perf_counter() - t0}
        if lam_steps:
            state.lambdas.extend(torch.stack(lam_steps).float().cpu().tolist())
        state.epoch = epoch + 1
        state.seconds += record["seconds"]
        if cfg.eval_every and state.epoch % cfg.eval_every == 0 and state.epoch < state.planned_epochs:
            _sync_buffers(model, world)
            record["test_accuracy"] = accuracy_report(predict(model, data.test_images), data.test_labels.cpu().numpy(),
                                                      data.class_counts)["accuracy"]
        state.history.append(record)
        if cfg.fit_minutes > 0 and len(state.history) - done_before in FIT_AT:
            state.planned_epochs = _agreed(_fit_epochs(cfg, state, time.perf_counter() - start, done_before),
                                           world, device)
            _refit_schedules(scheds, state.planned_epochs, steps)
        bar.set_postfix(loss=f"{record['total']:.3f}", **({"lam": f"{record['lam']:.2f}"} if "lam" in record else {}))
        stop = (budget > 0 and time.perf_counter() - start > budget) or (
            cfg.stop_after > 0 and len(state.history) - done_before >= cfg.stop_after)
        last = state.epoch == state.planned_epochs
        if checkpoint is not None and (state.epoch % cfg.checkpoint_every == 0 or last or stop):
            _sync_buffers(model, world)
            if rank == 0:
                save_resume(checkpoint, model, balancer, opts, scheds, gen, state, method, fm_gen)
        if stop:
            break
    _sync_buffers(model, world)
    report = accuracy_report(predict(model, data.test_images), data.test_labels.cpu().numpy(), data.class_counts)
    return state, report


def save_resume(path: Path, model, balancer, opts, scheds, gen, state: TrainState, method: str,
                fm_gen: torch.Generator | None = None) -> None:
    """The zoo's checkpoint format ({"arch", "state_dict"}) plus everything needed to resume bit-for-bit."""
    resume = {"method": method, "optimizers": {k: o.state_dict() for k, o in opts.items()},
              "schedulers": {k: s.state_dict() for k, s in scheds.items()}, "generator": gen.get_state(),
              "fm_generator": fm_gen.get_state() if fm_gen is not None else None,
              "balancer": balancer.state_dict() if balancer is not None else None, "state": asdict(state)}
    tmp = path.with_suffix(".tmp")
    torch.save({"arch": model.arch, "state_dict": model.state_dict(), "method": method,
                "epoch": state.epoch, "resume": resume}, tmp)
    tmp.replace(path)


def _load_resume(path: Path, model, balancer, opts, scheds, gen, method: str,
                 fm_gen: torch.Generator) -> TrainState | None:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    resume = ckpt.get("resume")
    if resume is None or resume.get("method") != method:
        return None
    model.load_state_dict(ckpt["state_dict"])
    for k, o in opts.items():
        o.load_state_dict(resume["optimizers"][k])
    for k, s in scheds.items():
        s.load_state_dict(resume["schedulers"][k])
    if balancer is not None:
        balancer.load_state_dict(resume["balancer"])
    gen.set_state(resume["generator"])
    if resume.get("fm_generator") is not None:
        fm_gen.set_state(resume["fm_generator"])
    return TrainState(**resume["state"])
