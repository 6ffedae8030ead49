"""Cross-fitted fine-tuned teachers (kind single_xf, methods cd_xf / cd_xf_la): the stratified fold split, the
out-of-fold property checked from what each fold teacher was actually trained on, the cache key and the refused
settings, and cd_xf on digits end to end."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from candle_hw.errors import UserError
from candle_hw.training import teacher_stage
from candle_hw.training.augment import ViewBank, pad_images
from candle_hw.training.calibrate import train_head
from candle_hw.training.config import TrainConfig, load_config
from candle_hw.training.data import lt_counts, stratified_folds
from candle_hw.training.finetune import finetune_encoder
from candle_hw.training.loop import TeacherTargets
from candle_hw.training.teachers import pooled_features


@pytest.mark.parametrize("counts, folds", [(lt_counts(5000, 10, 100), 4), ([7, 5, 3, 2, 1, 1], 4),
                                           ([9, 4, 1], 3), ([6, 1], 2)])
def test_fold_split_is_stratified_disjoint_covering_and_seeded(counts, folds):
    labels = np.repeat(np.arange(len(counts)), counts)
    np.random.default_rng(5).shuffle(labels)
    fold = stratified_folds(labels, folds, seed=3)
    # each image in exactly one fold: the folds' index sets partition the training set
    parts = [np.flatnonzero(fold == k) for k in range(folds)]
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(len(labels)))
    for c, n in enumerate(counts):
        per_fold = np.bincount(fold[labels == c], minlength=folds)
        assert per_fold.sum() == n and set(per_fold.tolist()) <= {n // folds, -(-n // folds)}, (c, per_fold)
    sizes = np.bincount(fold, minlength=folds)
    assert sizes.max() - sizes.min() <= 1
    assert np.array_equal(stratified_folds(labels, folds, seed=3), fold)
    if len(labels) > 20:
        assert not np.array_equal(stratified_folds(labels, folds, seed=4), fold)
    # the rho=100 tail class (50 images) gets 12 or 13 per fold; a class smaller than the folds leaves some empty
    if folds == 4 and counts[-1] == 1:
        assert sorted(np.bincount(fold[labels == 5], minlength=4).tolist()) == [0, 0, 0, 1]


def _config(**ft) -> TrainConfig:
    cfg = TrainConfig(methods=["cd_xf"])
    cfg.teacher.resolutions, cfg.teacher.identity_index, cfg.teacher.mix = [8, 16, 24], 1, "cutmix"
    cfg.calibration.epochs, cfg.calibration.batch, cfg.calibration.lr, cfg.progress = 5, 32, 1e-2, False
    cfg.data.flip = False
    for k, v in {"full": True, "epochs": 1, "batch": 32, "lr": 1e-3, "augment": "crop_flip", "folds": 3,
                 **ft}.items():
        setattr(cfg.finetune, k, v)
    return cfg


def test_every_image_is_taught_by_the_fold_teacher_that_never_trained_on_it(tiny_teacher, monkeypatch):
    # Random (hence distinct) images, so the rows a fine-tuning receives identify the images it trained on.
    n, k_views, size, pad = 90, 3, (8, 8), 1
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, *size), generator=g, dtype=torch.uint8)
    labels = torch.from_numpy(np.repeat(np.arange(4), [45, 25, 15, 5]))
    counts = np.bincount(labels.numpy())
    test_images = torch.randint(0, 256, (40, 3, *size), generator=g, dtype=torch.uint8)
    test_labels = np.arange(40) % 4
    padded = pad_images(images, pad)
    row_of = {padded[i].numpy().tobytes(): i for i in range(n)}
    assert len(row_of) == n
    bank = ViewBank.make(n, k_views, pad, seed=0, flip=False, mix="cutmix", mix_prob=0.6, size=size)
    assert bank.mixed.any()

    tuned, heads = [], []

    def ft_spy(encoder, images_k, labels_k, *args, **kwargs):
        trained = sorted(row_of[x.numpy().tobytes()] for x in images_k)
        assert torch.equal(labels_k, labels[trained])
        tuned.append((encoder, set(trained)))
        return finetune_encoder(encoder, images_k, labels_k, *args, **kwargs)

    def head_spy(head, feats, labels_k, *args):
        heads.append((head, labels_k.clone(), args[-1]))
        return train_head(head, feats, labels_k, *args)

    monkeypatch.setattr(teacher_stage, "finetune_encoder", ft_spy)
    monkeypatch.setattr(teacher_stage, "train_head", head_spy)
    cfg = _config()
    targets, report = teacher_stage.build_teacher_targets(cfg, padded, labels, test_images, test_labels, counts,
                                                          bank, size, 16, {"single_xf"}, tiny_teacher, "h")
    xf, rep = targets["single_xf"], report["kinds"]["single_xf"]
    assert len(tuned) == len(heads) == 3 == len(rep["folds"])
    # each image was left out of exactly one teacher's fine-tuning ...
    unseen_by = [[k for k, (_, seen) in enumerate(tuned) if i not in seen] for i in range(n)]
    assert all(len(u) == 1 for u in unseen_by)
    teacher_of = np.array([u[0] for u in unseen_by])
    for k, (head, head_labels, usable) in enumerate(heads):
        trained = sorted(tuned[k][1])
        # ... and its calibration saw the same images (their un-mixed views only)
        assert torch.equal(head_labels, labels[trained])
        assert torch.equal(usable, ~bank.mixed[:, trained])
        # Targets of the images this teacher never saw, every view (mixed ones included): its own head on its own
        # tuned encoder's features, recomputed here per view. Tolerance 1e-5: the same float32 ops on the same
        # fp16-stored features, in other batch shapes.
        feats, _ = pooled_features(tuned[k][0], padded, bank, [16], size, batch=17, amp=False)
        mine = torch.from_numpy(teacher_of == k)
        assert mine.any()
        with torch.no_grad():
            for v in range(k_views):
                torch.testing.assert_close(xf.logits[v, mine], head(feats[v, mine]), atol=1e-5, rtol=1e-5)
                torch.testing.assert_close(xf.feats[v, mine], head.identity_feature(feats[v, mine]),
                                           atol=1e-5, rtol=1e-5)
            # a teacher that trained on these images gives other targets: the check above can tell them apart
            other = tuned[(k + 1) % 3]
            f_other, _ = pooled_features(other[0], padded, bank, [16], size, batch=17, amp=False)
            assert not torch.allclose(xf.logits[0, mine], heads[(k + 1) % 3][0](f_other[0, mine]), atol=1e-3)
    # the deployed teacher: the mean of the fold teachers' test probabilities
    with torch.no_grad():
        probs = sum(heads[k][0](pooled_features(tuned[k][0], test_images, None, [16], size, amp=False)[0][0])
                    .softmax(-1) for k in range(3)) / 3
    assert rep["test_pred"] == probs.argmax(1).tolist()
    assert rep["accuracy"] == pytest.approx(100.0 * float((probs.argmax(1).numpy() == test_labels).mean()))
    oof = (xf.logits[0].argmax(-1) == labels).float().mean()
    assert rep["out_of_fold_train"]["accuracy"] == pytest.approx(100.0 * float(oof))
    assert [f["trained_images"] for f in rep["folds"]] == [len(s) for _, s in tuned]
    assert rep["folds"][0]["fs_cosine_to_fold0"] == pytest.approx(1.0)


def test_cache_key_and_refused_settings(tmp_path, refused_in_one_line):
    base = TrainConfig().teacher_key(64)
    assert load_config(None, {"methods": ["cd_xf"]}).teacher_key(64) == base == "8adb85426270f856"
    keys = {load_config(None, {"methods": ["cd_xf"], "finetune.folds": f}).teacher_key(64) for f in (2, 3, 4, 5)}
    assert len(keys) == 4
    # nor do co-design candidate hashes (over to_dict) move; a set value travels to the parallel method processes
    assert "folds" not in TrainConfig().to_dict()["finetune"]
    assert load_config(None, {"finetune.folds": 3}).to_dict()["finetune"]["folds"] == 3
    # stored per kind: a folder of single_ft targets never answers for single_xf under the same key, and back
    t = TeacherTargets(torch.zeros(2, 5, 10), torch.zeros(2, 5, 8), None)
    teacher_stage.save_targets(tmp_path / f"targets_{base}_single_ft.pt", {"single_ft": t}, {"kinds": {}}, base, "h")
    assert teacher_stage.load_targets(tmp_path, base, "h", {"single_xf"}, torch.device("cpu")) is None
    teacher_stage.save_targets(tmp_path / f"targets_{base}_single_xf.pt",
                               {"single_xf": TeacherTargets(torch.ones(2, 5, 10), torch.ones(2, 5, 8), None)},
                               {"kinds": {}}, base, "h")
    got, _ = teacher_stage.load_targets(tmp_path, base, "h", {"single_ft", "single_xf"}, torch.device("cpu"))
    assert got["single_ft"].logits.sum() == 0 and got["single_xf"].logits.sum() == 100
    with pytest.raises(UserError, match=r"finetune.folds=1: need >= 2"):
        load_config(None, {"methods": ["cd_xf"], "finetune.folds": 1})
    with pytest.raises(UserError, match=r"finetune.folds: expected an integer, got 2.5"):
        load_config(None, {"methods": ["cd_xf"], "finetune.folds": 2.5})
    out = tmp_path / "out"
    for sets, msg in ((["finetune.folds=0"], "finetune.folds=0: need >= 2"),
                      (["finetune.encoder_path=t.pt"], "finetune.encoder_path=t.pt: method cd_xf tunes one encoder "
                                                       "per fold")):
        refused_in_one_line("cd,cd_xf", sets, msg, out)
    # a saved encoder stays usable by single_ft
    load_config(None, {"methods": ["cd_ft"], "finetune.encoder_path": "t.pt"})


def test_cd_xf_on_digits_end_to_end(tmp_path, tiny_teacher, digits_lt):
    from candle_hw.training.cli import parse_settings
    from candle_hw.training.pipeline import run_training
    cfg = load_config("configs/digits_lt10.yaml", {
        "out_dir": str(tmp_path), "methods": ["cd_xf", "cd_xf_la"], "teacher.resolutions": [8, 16, 24],
        "distill.epochs": 40, "progress": False,
        **parse_settings(["finetune.full=true", "finetune.epochs=6", "finetune.lr=1e-3", "finetune.folds=3"])})
    summary = run_training(cfg, teacher_encoder=tiny_teacher)
    run = tmp_path / cfg.name
    kind = json.loads((run / "teacher" / "teacher_single_xf.json").read_text())["kinds"]["single_xf"]
    assert len(kind["folds"]) == 3 and kind["accuracy"] > 20.0  # chance is 10 %
    n = len(digits_lt.train.labels)
    assert sum(f["held_out_images"] for f in kind["folds"]) == n
    assert sum(f["trained_images"] for f in kind["folds"]) == 2 * n
    res = summary["methods"]["cd_xf"]
    assert res["accuracy"] > 20.0, res["accuracy"]
    for method in ("cd_xf", "cd_xf_la"):
        assert summary["methods"][method]["teacher_test_agreement"] is not None
        assert not summary["methods"][method]["paper_method"]
        # the student's teacher diagnostics read the cross-fitted targets: the teacher's accuracy on view 0 there
        # is the out-of-fold one
        diag = json.loads((run / method / "metrics.json").read_text())["diagnostics"]
        assert diag["teacher_train_view_accuracy"] == pytest.approx(kind["out_of_fold_train"]["accuracy"])
    # the logit-adjusted KL moves the student's predictions to the tail (this stand-in teacher's targets are
    # already balanced, so it over-corrects here: test_logit_adjusted.py)
    assert json.loads((run / "cd_xf_la" / "metrics.json").read_text())["la_tau"] == 1.0
    assert summary["methods"]["cd_xf_la"]["tail"] > res["tail"] + 10.0
