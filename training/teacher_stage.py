"""The teacher stage: pooled multi-resolution features per cached view, calibration, and the cached targets that
every student method reads (teacher kinds: KIND_DOC)."""
from __future__ import annotations

import copy
import math
import time
from pathlib import Path

import numpy as np
import torch

from candle_hw.training.augment import ViewBank
from candle_hw.training.calibrate import CalibratedHead, head_outputs, train_head
from candle_hw.training.config import TrainConfig
from candle_hw.training.data import stratified_folds
from candle_hw.training.evaluate import accuracy_report
from candle_hw.training.finetune import finetune_encoder, load_encoder, save_encoder
from candle_hw.training.loop import TeacherTargets
from candle_hw.training.teachers import TeacherEncoder, load_teacher, pooled_features

KIND_DOC = {"uncalibrated": "pretrained encoder, identity resolution, random fixed 1x1 projection (no classifier)",
            "single": "calibrated classifier on the identity resolution only",
            "multi": "calibrated classifier on all resolutions (size-interp & concat)",
            "single_ft": "extension: encoder fine-tuned on the LT data, then calibrated on the identity resolution",
            "multi_ft": "extension: encoder fine-tuned on the LT data, then calibrated on all resolutions",
            "single_xf": "extension: cross-fitted single_ft: finetune.folds class-stratified folds, one encoder "
                         "fine-tuned and calibrated (as single_ft) on the images outside each fold; an image's "
                         "targets (logits and FS, every view) come from the teacher that never trained on it",
            "single_xfb": "extension: blend of `single` and single_xf: per view, the class probabilities "
                          "(1 - finetune.blend) * single's + finetune.blend * single_xf's; FS target: single's",
            "ensemble": "extension: mean class probabilities of the frozen encoders of teacher.ensemble, each "
                        "calibrated as `single`; FS target: the first member's"}
FT_KINDS = ("single_ft", "multi_ft")
CROSSFIT = "single_xf"
BLEND = "single_xfb"
BLEND_PARTS = ("single", CROSSFIT)  # what the blend is made of: computed and cached with it
ENSEMBLE = "ensemble"


def stage_kinds(kinds: set[str]) -> set[str]:
    """The kinds a teacher stage computes and caches for the requested ones: a blend brings its parts, so the
    parts a blend was made of are the ones stored beside it."""
    return kinds | set(BLEND_PARTS) if BLEND in kinds else set(kinds)


def log_mean_prob(log_probs: list[torch.Tensor], weights: list[float] | None = None) -> torch.Tensor:
    """log(sum_m w_m softmax_m) from the members' log-probabilities, as a log-sum-exp: no probability underflows
    to 0 and no -inf reaches the KL. weights None: the plain mean (w_m = 1/M); a weight of 0 drops its member
    exactly (log 0 = -inf adds nothing to the sum)."""
    stacked = torch.stack(log_probs)
    if weights is None:
        return torch.logsumexp(stacked, dim=0) - math.log(len(log_probs))
    log_w = torch.tensor(weights, dtype=stacked.dtype, device=stacked.device).log()
    return torch.logsumexp(stacked + log_w.view(-1, *([1] * (stacked.dim() - 1))), dim=0)


def member_kind(name: str) -> str:
    """The cache entry of one ensemble member's own calibrated targets (logits and head; no FS target)."""
    return f"{ENSEMBLE}/{name}"


def _head(cfg: TrainConfig, dim: int, student_channels: int, num_res: int, identity: int, num_classes: int,
          seed: int, device: torch.device) -> CalibratedHead:
    torch.manual_seed(seed)
    return CalibratedHead(dim, student_channels, num_res, identity, num_classes).to(device)


def _labelled_views(bank: ViewBank) -> torch.Tensor | None:
    """The views the calibration may train on with the image's true label: the un-mixed ones (None: all)."""
    return None if bank.box is None else ~bank.mixed


def _calibrate(cfg: TrainConfig, feats: torch.Tensor, test_feats: torch.Tensor, labels: torch.Tensor,
               test_labels: np.ndarray, class_counts: np.ndarray, student_channels: int, res_index: list[int],
               identity: int, seed: int, feat_res: list[int], bank: ViewBank, fit: torch.Tensor | None = None
               ) -> tuple[TeacherTargets, dict, torch.Tensor]:
    """A head on feats[:, :, res_index] (feats' resolution axis holds feat_res, in pixels), trained on the bank's
    un-mixed views of the images `fit` (indices; None: all); its targets cover every image and view, mixed ones
    included. Also its test log-probabilities, which the ensemble, the fold teachers' mean and the blend read."""
    head = _head(cfg, feats.shape[-1], student_channels, len(res_index), identity, len(class_counts), seed,
                 feats.device)
    fit_feats, fit_labels, usable = feats[:, :, res_index], labels, _labelled_views(bank)
    if fit is not None:
        fit_feats, fit_labels = fit_feats[:, fit], labels[fit]
        usable = None if usable is None else usable[:, fit]
    t0 = time.perf_counter()
    loss = train_head(head, fit_feats, fit_labels, class_counts, cfg.calibration, seed, usable)
    seconds = time.perf_counter() - t0
    logits, fs = head_outputs(head, feats[:, :, res_index])
    with torch.no_grad():
        test_out = head(test_feats[0][:, res_index])
    pred = test_out.argmax(1).cpu().numpy()
    report = accuracy_report(pred, test_labels, class_counts)
    report.update(calibration_loss=loss, calibration_seconds=seconds,
                  resolutions=[feat_res[i] for i in res_index], test_pred=pred.tolist(), **_train_probs_report(logits))
    head_spec = {"state": {k: v.detach().cpu().clone() for k, v in head.state_dict().items()},
                 "resolutions": report["resolutions"], "identity": identity}
    return TeacherTargets(logits, fs, head_spec), report, test_out.float().log_softmax(dim=-1)


def build_teacher_targets(cfg: TrainConfig, padded: torch.Tensor, labels: torch.Tensor, test_images: torch.Tensor,
                          test_labels: np.ndarray, class_counts: np.ndarray, bank: ViewBank,
                          image_size: tuple[int, int], student_channels: int, kinds: set[str],
                          encoder: TeacherEncoder | None = None, data_hash: str = "",
                          member_encoders: dict[str, TeacherEncoder] | None = None
                          ) -> tuple[dict[str, TeacherTargets], dict]:
    """Targets (per cached view) and a report for each requested teacher kind. The ensemble's members are taken
    from member_encoders, else `encoder` where a member is teacher.name, else loaded."""
    targets: dict[str, TeacherTargets] = {}
    report: dict = {"teacher": cfg.teacher.name, "views": bank.num_views, "mix": cfg.teacher.mix,
                    "mix_prob": cfg.teacher.mix_prob, "mixed_views": float(bank.mixed.float().mean()), "kinds": {}}
    if not kinds:
        return targets, report
    kinds = stage_kinds(kinds)
    device = padded.device
    t_cfg = cfg.teacher
    ft_path = Path(cfg.finetune.encoder_path) if cfg.finetune.encoder_path else None
    # A saved tuned encoder needs no pretrained weights (their package need not be installed where it is loaded).
    only_saved = kinds <= set(FT_KINDS) and ft_path is not None and ft_path.is_file()
    if kinds - {ENSEMBLE}:
        encoder = (encoder or load_teacher(t_cfg.name, pretrained=not only_saved)).to(device)
    identity = t_cfg.identity_index
    seed = cfg.data.seed
    res_all = list(range(len(t_cfg.resolutions)))
    frozen = kinds & {"uncalibrated", "single", "multi"}
    if frozen:
        res_index = res_all if "multi" in frozen else [identity]
        feats, test_feats, timing = _features(cfg, encoder, padded, test_images, bank, image_size, res_index)
        report["frozen_features"] = timing
        # Features are indexed by position in res_index; map the identity resolution to its position.
        ident_pos = res_index.index(identity)
        if "uncalibrated" in frozen:
            head = _head(cfg, feats.shape[-1], student_channels, 1, 0, len(class_counts), seed, device)
            _, fs = head_outputs(head, feats[:, :, [ident_pos]])
            targets["uncalibrated"] = TeacherTargets(None, fs)
            report["kinds"]["uncalibrated"] = {"doc": KIND_DOC["uncalibrated"]}
        if "single" in frozen:
            targets["single"], rep, single_test_logp = _calibrate(cfg, feats, test_feats, labels, test_labels,
                                                                  class_counts, student_channels, [ident_pos], 0,
                                                                  seed, timing["resolutions"], bank)
            report["kinds"]["single"] = {"doc": KIND_DOC["single"], **rep}
        if "multi" in frozen:
            targets["multi"], rep, _ = _calibrate(cfg, feats, test_feats, labels, test_labels, class_counts,
                                                  student_channels, res_all, identity, seed, timing["resolutions"],
                                                  bank)
            report["kinds"]["multi"] = {"doc": KIND_DOC["multi"], **rep}
        del feats, test_feats
    ft_kinds = kinds & set(FT_KINDS)
    if ft_kinds:
        tuned = copy.deepcopy(encoder)
        resolution = cfg.finetune.resolution or t_cfg.resolutions[identity]
        if ft_path is not None and ft_path.is_file():
            ft = load_encoder(ft_path, tuned, data_hash)
        else:
            pad = (padded.shape[-1] - image_size[-1]) // 2  # the padding the images already carry
            ft = finetune_encoder(tuned, padded, labels, class_counts, image_size, pad, resolution, cfg.finetune,
                                  seed, cfg.progress, test_images, test_labels, cfg.data.flip)
            if ft_path is not None:
                save_encoder(ft_path, tuned, ft, data_hash)
        res_index = res_all if "multi_ft" in ft_kinds else [identity]
        feats, test_feats, timing = _features(cfg, tuned, padded, test_images, bank, image_size, res_index)
        ident_pos = res_index.index(identity)
        single, rep_single, _ = _calibrate(cfg, feats, test_feats, labels, test_labels, class_counts,
                                           student_channels, [ident_pos], 0, seed, timing["resolutions"], bank)
        if "single_ft" in ft_kinds:
            targets["single_ft"] = single
            report["kinds"]["single_ft"] = {"doc": KIND_DOC["single_ft"], **rep_single, "finetune": ft,
                                            "features": timing}
        if "multi_ft" in ft_kinds:
            targets["multi_ft"], rep, _ = _calibrate(cfg, feats, test_feats, labels, test_labels, class_counts,
                                                     student_channels, res_all, identity, seed,
                                                     timing["resolutions"], bank)
            report["kinds"]["multi_ft"] = {"doc": KIND_DOC["multi_ft"], **rep, "finetune": ft,
                                           "features": timing, "single_res_accuracy": rep_single["accuracy"]}
        del feats, test_feats, tuned
    if CROSSFIT in kinds:
        targets[CROSSFIT], report["kinds"][CROSSFIT], xf_test_logp = _crossfit(
            cfg, encoder, padded, labels, test_images, test_labels, class_counts, bank, image_size, student_channels)
    if BLEND in kinds:
        targets[BLEND], report["kinds"][BLEND] = _blend(cfg, targets["single"], targets[CROSSFIT],
                                                        single_test_logp, xf_test_logp, labels, test_labels,
                                                        class_counts, report["kinds"])
    if ENSEMBLE in kinds:
        def member(name: str) -> TeacherEncoder:
            if member_encoders and name in member_encoders:
                return member_encoders[name].to(device)
            return (encoder if encoder is not None and name == t_cfg.name else load_teacher(name)).to(device)
        ens, report["kinds"][ENSEMBLE] = _ensemble(cfg, padded, labels, test_images, test_labels, class_counts,
                                                   bank, image_size, student_channels, member)
        targets.update(ens)
    return targets, report


def _crossfit(cfg: TrainConfig, encoder: TeacherEncoder, padded: torch.Tensor, labels: torch.Tensor,
              test_images: torch.Tensor, test_labels: np.ndarray, class_counts: np.ndarray, bank: ViewBank,
              image_size: tuple[int, int], student_channels: int) -> tuple[TeacherTargets, dict, torch.Tensor]:
    """The single_xf kind, and the deployable teacher's test log-probabilities (which the blend reads). Teacher k
    is a copy of `encoder` fine-tuned as single_ft's, then calibrated as single_ft's (identity resolution, un-mixed
    views), on the images outside fold k only; the targets of fold k's images, on every cached view, are teacher
    k's. Fine-tuning and calibration use the whole set's class counts as the prior: the folds are stratified, so
    each class's share of a fold teacher's images is the whole set's within one image.

    A CutMix view of image i pastes a box of partner j, which may lie in another fold and so may have been seen
    by fold(i)'s teacher. No teacher saw neither (each holds out one fold, and i and j are in different ones), so
    the view's target is fold(i)'s teacher's: it saw none of i's pixels, which fill most of the view, and j's
    box is a part of it; the calibration never trains on mixed views.

    The FS targets come from K separately trained 1x1 projections, whose channel bases need not agree (the
    report's fs_cosine_to_fold0 measures it on view 0)."""
    identity = cfg.teacher.identity_index
    seed = cfg.data.seed
    resolution = cfg.finetune.resolution or cfg.teacher.resolutions[identity]
    pad = (padded.shape[-1] - image_size[-1]) // 2  # the padding the images already carry
    fold = torch.from_numpy(stratified_folds(labels.cpu().numpy(), cfg.finetune.folds, seed)).to(padded.device)
    logits = fs = fs0 = None
    folds, test_logp = [], []
    for k in range(cfg.finetune.folds):
        fit = torch.nonzero(fold != k).flatten()
        held = fold == k
        tuned = copy.deepcopy(encoder)
        ft = finetune_encoder(tuned, padded[fit], labels[fit], class_counts, image_size, pad, resolution,
                              cfg.finetune, seed, cfg.progress, test_images, test_labels, cfg.data.flip)
        feats, test_feats, timing = _features(cfg, tuned, padded, test_images, bank, image_size, [identity])
        own, rep, own_test_logp = _calibrate(cfg, feats, test_feats, labels, test_labels, class_counts,
                                             student_channels, [0], 0, seed, timing["resolutions"], bank, fit)
        if logits is None:
            logits, fs = torch.empty_like(own.logits), torch.empty_like(own.feats)
            fs0 = own.feats[0].clone()
        logits[:, held], fs[:, held] = own.logits[:, held], own.feats[:, held]
        test_logp.append(own_test_logp)
        # the accuracy single_ft reports on its own training views: what the student would be taught without
        # cross-fitting
        seen = own.logits[0, fit].argmax(-1) == labels[fit]
        folds.append({k2: rep[k2] for k2 in ("accuracy", "head", "medium", "tail", "per_class", "calibration_loss",
                                             "calibration_seconds")}
                     | {"fold": k, "trained_images": len(fit), "held_out_images": int(held.sum()),
                        "train_view_accuracy_seen": float(100.0 * seen.float().mean()),
                        "fs_cosine_to_fold0": float(torch.nn.functional.cosine_similarity(
                            own.feats[0].float(), fs0.float(), dim=1).mean()),
                        "finetune": ft, "features": timing})
        del feats, test_feats, tuned, own
    # the deployable teacher: the mean of the fold teachers' probabilities
    test_logp = log_mean_prob(test_logp)
    test_pred = test_logp.argmax(1).cpu().numpy()
    report = accuracy_report(test_pred, test_labels, class_counts)
    labels_np = labels.cpu().numpy()
    oof = accuracy_report(logits[0].argmax(-1).cpu().numpy(), labels_np, class_counts)
    report.update(doc=KIND_DOC[CROSSFIT], folds=folds, test_pred=test_pred.tolist(),
                  resolutions=[cfg.teacher.resolutions[identity]],
                  # the honest train accuracy: each training image's un-mixed identity view (view 0) under the
                  # teacher that never saw it; single_ft is right on ~98 % of its own training views
                  out_of_fold_train={k2: oof[k2] for k2 in ("accuracy", "head", "medium", "tail", "per_class")},
                  **_train_probs_report(logits),
                  seconds=sum(f["finetune"]["seconds"] + f["features"]["train_seconds"]
                              + f["features"]["test_seconds"] + f["calibration_seconds"] for f in folds))
    return TeacherTargets(logits, fs, None), report, test_logp


def _train_probs_report(logits: torch.Tensor) -> dict:
    """How sharp a kind's targets are over every cached view: a near-uniform teacher (max prob ~ 1/classes)
    carries no signal through KL."""
    probs = logits.float().softmax(dim=-1)
    return {"train_mean_max_prob": float(probs.max(dim=-1).values.mean()),
            "train_mean_entropy": float(-(probs * probs.clamp_min(1e-12).log()).sum(-1).mean())}


def _blend(cfg: TrainConfig, single: TeacherTargets, xf: TeacherTargets, single_test_logp: torch.Tensor,
           xf_test_logp: torch.Tensor, labels: torch.Tensor, test_labels: np.ndarray, class_counts: np.ndarray,
           reports: dict) -> tuple[TeacherTargets, dict]:
    """The single_xfb kind: per cached view, log((1-w) softmax(single) + w softmax(single_xf)), w = finetune.blend.
    The frozen head was calibrated on every training image, so on a tail class's few images its targets are
    close to their labels, which the out-of-fold teachers (each blind to a third of those images) are not; the
    fold teachers are the stronger, honest teacher elsewhere. The FS target is single's: one channel basis, where
    single_xf's come from K unrelated projections. Test: the same blend of single's head and the fold teachers'
    mean probabilities."""
    w = cfg.finetune.blend
    weights = [1.0 - w, w]
    logits = log_mean_prob([single.logits.float().log_softmax(dim=-1), xf.logits.float().log_softmax(dim=-1)],
                           weights)
    test_pred = log_mean_prob([single_test_logp, xf_test_logp], weights).argmax(1).cpu().numpy()
    report = accuracy_report(test_pred, test_labels, class_counts)
    view0 = accuracy_report(logits[0].argmax(-1).cpu().numpy(), labels.cpu().numpy(), class_counts)
    parts_pred = np.stack([np.asarray(reports[k]["test_pred"]) for k in BLEND_PARTS])
    report.update(doc=KIND_DOC[BLEND], blend=w, test_pred=test_pred.tolist(),
                  resolutions=reports["single"]["resolutions"],
                  # each training image's un-mixed identity view: single agrees with its own training labels,
                  # single_xf is out of fold; the blend sits between, per class
                  train_view0={k: view0[k] for k in ("accuracy", "head", "medium", "tail", "per_class")},
                  parts={k: {"accuracy": reports[k]["accuracy"], "tail": reports[k]["tail"]} for k in BLEND_PARTS},
                  test_parts_disagreement=float(100.0 * (parts_pred[0] != parts_pred[1]).mean()),
                  **_train_probs_report(logits))
    return TeacherTargets(logits, single.feats, None), report


def _ensemble(cfg: TrainConfig, padded: torch.Tensor, labels: torch.Tensor, test_images: torch.Tensor,
              test_labels: np.ndarray, class_counts: np.ndarray, bank: ViewBank, image_size: tuple[int, int],
              student_channels: int, member) -> tuple[dict[str, TeacherTargets], dict]:
    """Each member calibrated exactly as the `single` kind (identity resolution, same head, seed and recipe) on the
    same cached views, then log of the members' mean softmax as the ensemble's logits, which is what KL
    distillation reads. Returns the ensemble's targets and each member's own (member_kind) for the cache."""
    identity = cfg.teacher.identity_index
    out: dict[str, TeacherTargets] = {}
    members: dict[str, dict] = {}
    train_logp, test_logp = [], []
    fs_target = None
    for name in cfg.teacher.ensemble:
        enc = member(name)
        feats, test_feats, timing = _features(cfg, enc, padded, test_images, bank, image_size, [identity])
        own, rep, own_test_logp = _calibrate(cfg, feats, test_feats, labels, test_labels, class_counts,
                                             student_channels, [0], 0, cfg.data.seed, timing["resolutions"], bank)
        test_logp.append(own_test_logp)
        train_logp.append(own.logits.float().log_softmax(dim=-1))
        # The FS target is the first member's projected features, not a mean over members: each member's
        # projection is a 1x1 conv into the student's channels trained on its own, so the members' channel bases
        # are unrelated and a mean of their vectors is no network's feature (the cosine loss compares directions).
        if fs_target is None:
            fs_target = own.feats
        out[member_kind(name)] = TeacherTargets(own.logits, None, own.head)
        members[name] = {**rep, "features": timing}
        del feats, test_feats, enc
    logits = log_mean_prob(train_logp)
    test_pred = log_mean_prob(test_logp).argmax(1).cpu().numpy()
    out[ENSEMBLE] = TeacherTargets(logits, fs_target, None)
    report = accuracy_report(test_pred, test_labels, class_counts)
    best = max(members, key=lambda n: members[n]["accuracy"])
    member_preds = np.stack([np.asarray(m["test_pred"]) for m in members.values()])
    probs = logits.exp()
    report.update(doc=KIND_DOC[ENSEMBLE], members=members, feature_member=cfg.teacher.ensemble[0],
                  best_member=best, gain_over_best_member=report["accuracy"] - members[best]["accuracy"],
                  # how often the members' own predictions differ: what averaging has to work with
                  test_member_disagreement=float(100.0 * (member_preds != member_preds[0]).any(0).mean()),
                  test_pred=test_pred.tolist(), resolutions=[cfg.teacher.resolutions[identity]],
                  train_mean_max_prob=float(probs.max(dim=-1).values.mean()),
                  train_mean_entropy=float(-(probs * logits).sum(-1).mean()))
    return out, report


def _features(cfg: TrainConfig, encoder: TeacherEncoder, padded: torch.Tensor, test_images: torch.Tensor,
              bank: ViewBank, image_size: tuple[int, int], res_index: list[int]):
    res = [cfg.teacher.resolutions[i] for i in res_index]
    feats, sec = pooled_features(encoder, padded, bank, res, image_size, cfg.teacher.batch, cfg.teacher.amp,
                                 cfg.progress)
    test_feats, sec_test = pooled_features(encoder, test_images, None, res, image_size, cfg.teacher.batch,
                                           cfg.teacher.amp, cfg.progress)
    return feats, test_feats, {"resolutions": res, "train_seconds": sec, "test_seconds": sec_test,
                               "views": bank.num_views, "images": int(padded.shape[0])}


def save_targets(path: Path, targets: dict[str, TeacherTargets], report: dict, key: str, data_hash: str) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"key": key, "data_hash": data_hash, "report": report,
                "targets": {k: {"logits": None if t.logits is None else t.logits.half().cpu(),
                                "feats": None if t.feats is None else t.feats.half().cpu(), "head": t.head}
                            for k, t in targets.items()}}, tmp)
    tmp.replace(path)


def load_targets(folder: Path, key: str, data_hash: str, kinds: set[str], device: torch.device
                 ) -> tuple[dict[str, TeacherTargets], dict] | None:
    """Cached targets merged over the folder's files that match this configuration and data; None unless every
    requested kind is found. A kind found in several files takes its targets from the first in path order and
    its report from the last, except that files holding a blend come first for targets and last for reports: a
    blend's parts (targets and reports) are then the ones it was made of, even where an earlier stage cached a
    part on its own."""
    out: dict[str, TeacherTargets] = {}
    report: dict = {"kinds": {}}
    blobs = [torch.load(path, map_location="cpu", weights_only=False)
             for path in sorted(folder.glob(f"targets_{key}_*.pt"))]
    blobs = [b for b in blobs if b.get("key") == key and b.get("data_hash") == data_hash]
    blends = [b for b in blobs if BLEND in b["targets"]]
    others = [b for b in blobs if BLEND not in b["targets"]]
    for blob in blends + others:
        for k, v in blob["targets"].items():
            if k in kinds and k not in out:
                out[k] = TeacherTargets(None if v["logits"] is None else v["logits"].float().to(device),
                                        None if v["feats"] is None else v["feats"].float().to(device),
                                        v.get("head"))
    for blob in others + blends:
        report["kinds"].update(blob["report"].get("kinds", {}))
    return (out, report) if kinds <= set(out) else None
