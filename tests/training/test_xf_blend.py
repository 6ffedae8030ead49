"""The blended teacher (kind single_xfb, method cd_xfb): per view, log((1-w) softmax(single) + w softmax(single_xf))
checked against the two parts' cached targets, the FS target and the parts unchanged, the cache that stores the
parts beside the blend, finetune.blend's key and refusals, and cd_xfb on digits end to end through the CLI."""
from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch

from candle_hw.errors import UserError
from candle_hw.training import teacher_stage
from candle_hw.training.augment import ViewBank, pad_images
from candle_hw.training.cli import main as train_main
from candle_hw.training.config import TrainConfig, load_config
from candle_hw.training.loop import TeacherTargets

N, VIEWS, SIZE, PAD = 90, 3, (8, 8), 1


def _config(blend: float) -> TrainConfig:
    cfg = TrainConfig(methods=["cd_xfb"])
    cfg.teacher.resolutions, cfg.teacher.identity_index, cfg.teacher.mix = [8, 16, 24], 1, "cutmix"
    cfg.calibration.epochs, cfg.calibration.batch, cfg.calibration.lr, cfg.progress = 5, 32, 1e-2, False
    cfg.data.flip = False
    for k, v in {"full": True, "epochs": 1, "batch": 32, "lr": 1e-3, "folds": 3, "blend": blend}.items():
        setattr(cfg.finetune, k, v)
    return cfg


@pytest.fixture(scope="module")
def stage_inputs():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (N, 3, *SIZE), generator=g, dtype=torch.uint8)
    labels = torch.from_numpy(np.repeat(np.arange(4), [45, 25, 15, 5]))
    test_images = torch.randint(0, 256, (40, 3, *SIZE), generator=g, dtype=torch.uint8)
    bank = ViewBank.make(N, VIEWS, PAD, seed=0, flip=False, mix="cutmix", mix_prob=0.6, size=SIZE)
    return pad_images(images, PAD), labels, test_images, np.arange(40) % 4, np.bincount(labels.numpy()), bank


def _build(stage_inputs, tiny_teacher, kinds: set[str], blend: float = 0.5):
    padded, labels, test_images, test_labels, counts, bank = stage_inputs
    return teacher_stage.build_teacher_targets(_config(blend), padded, labels, test_images, test_labels, counts,
                                               bank, SIZE, 16, kinds, tiny_teacher, "h")


@pytest.fixture(scope="module")
def parts(stage_inputs, tiny_teacher):
    """single and single_xf as a cd,cd_xf run computes them (no blend requested)."""
    return _build(stage_inputs, tiny_teacher, {"single", "single_xf"})


@pytest.mark.parametrize("w", [0.5, 0.2, 0.0, 1.0])
def test_blend_is_the_weighted_mean_of_the_parts_probabilities(w, stage_inputs, tiny_teacher, parts, tmp_path):
    targets, report = _build(stage_inputs, tiny_teacher, {"single_xfb"}, w)
    assert set(targets) == {"single", "single_xf", "single_xfb"}
    # the parts are exactly those a run without the blend computes (the same calls in the same order, on CPU)
    for kind in ("single", "single_xf"):
        assert torch.equal(targets[kind].logits, parts[0][kind].logits)
        assert torch.equal(targets[kind].feats, parts[0][kind].feats)
        assert report["kinds"][kind]["test_pred"] == parts[1]["kinds"][kind]["test_pred"]
    blend, rep = targets["single_xfb"], report["kinds"]["single_xfb"]
    assert rep["blend"] == w
    # FS target: single's, exactly
    assert torch.equal(blend.feats, targets["single"].feats)
    single_lp = targets["single"].logits.log_softmax(-1)
    xf_lp = targets["single_xf"].logits.log_softmax(-1)
    if w in (0.0, 1.0):
        # a weight of 0 drops its part exactly: the blend is the other part's log-probabilities, bit for bit,
        # and its test predictions are that part's teacher's
        assert torch.equal(blend.logits, xf_lp if w else single_lp)
        assert rep["test_pred"] == report["kinds"]["single_xf" if w else "single"]["test_pred"]
    # From the cache (fp16 logits): log(w softmax(xf) + (1-w) softmax(single)) recomputed in float64 from the two
    # parts' cached logits. Tolerances: 2e-3 on probabilities and 3e-2 on log-probabilities cover fp16 storage
    # of logits up to ~16 in magnitude (spacing 2^-7) on both the parts and the blend.
    key = "k"
    teacher_stage.save_targets(tmp_path / f"targets_{key}_single-single_xf-single_xfb.pt", targets, report, key, "h")
    got, _ = teacher_stage.load_targets(tmp_path, key, "h", {"single", "single_xf", "single_xfb"},
                                        torch.device("cpu"))
    expect = (w * got["single_xf"].logits.double().softmax(-1)
              + (1 - w) * got["single"].logits.double().softmax(-1))
    torch.testing.assert_close(got["single_xfb"].logits.double().exp(), expect, atol=2e-3, rtol=0)
    torch.testing.assert_close(got["single_xfb"].logits.double(), expect.log(), atol=3e-2, rtol=1e-2)
    assert torch.equal(got["single_xfb"].feats, got["single"].feats)
    # the report: accuracy on the training images' view 0, per class, and how sharp the targets are
    labels, counts = stage_inputs[1], stage_inputs[4]
    right = (blend.logits[0].argmax(-1) == labels).numpy()
    assert rep["train_view0"]["accuracy"] == pytest.approx(100.0 * right.mean())
    per_class = [100.0 * right[labels.numpy() == c].mean() for c in range(len(counts))]
    assert rep["train_view0"]["per_class"] == pytest.approx(per_class)
    probs = blend.logits.exp()
    assert rep["train_mean_max_prob"] == pytest.approx(float(probs.max(-1).values.mean()), rel=1e-5)
    assert rep["train_mean_entropy"] == pytest.approx(float(-(probs * blend.logits).sum(-1).mean()), rel=1e-4)
    test_labels = stage_inputs[3]
    assert rep["accuracy"] == pytest.approx(100.0 * float((np.asarray(rep["test_pred"]) == test_labels).mean()))


def _save(folder, key, kinds: dict[str, float], report_tag: str) -> None:
    targets = {k: TeacherTargets(torch.full((2, 5, 4), v), torch.full((2, 5, 3), v), None) for k, v in kinds.items()}
    name = "-".join(sorted(kinds))
    teacher_stage.save_targets(folder / f"targets_{key}_{name}.pt", targets,
                               {"kinds": {k: {"tag": report_tag} for k in kinds}}, key, "h")


def test_cache_gives_a_blend_the_parts_it_was_made_of(tmp_path):
    assert teacher_stage.stage_kinds({"single_xfb"}) == {"single", "single_xf", "single_xfb"}
    assert teacher_stage.stage_kinds({"single", "ensemble"}) == {"single", "ensemble"}
    cpu = torch.device("cpu")
    # an earlier cd run cached single on its own; its file sorts after the blend run's, and before it by name in
    # the case of a blend-only name: both orders
    _save(tmp_path, "k", {"single": 1.0}, "old")
    _save(tmp_path, "k", {"single": 2.0, "single_xf": 3.0, "single_xfb": 4.0}, "blend")
    _save(tmp_path, "k", {"single_ft": 5.0}, "ft")
    for kinds in ({"single", "single_xfb"}, {"single"}, {"single", "single_xf"}, {"single_xfb"}):
        got, rep = teacher_stage.load_targets(tmp_path, "k", "h", kinds, cpu)
        assert set(got) == kinds
        if "single" in kinds:
            assert float(got["single"].logits[0, 0, 0]) == 2.0  # the blend's part, not the older file's
        assert rep["kinds"]["single"]["tag"] == "blend" and rep["kinds"]["single_ft"]["tag"] == "ft"
    (tmp_path / "targets_k_single-single_xf-single_xfb.pt").rename(tmp_path / "targets_k_single_xfb.pt")
    got, rep = teacher_stage.load_targets(tmp_path, "k", "h", {"single", "single_xfb"}, cpu)
    assert float(got["single"].logits[0, 0, 0]) == 2.0 and rep["kinds"]["single"]["tag"] == "blend"
    # without a blend file: the first file's targets and the last file's report, as before the blend existed
    (tmp_path / "targets_k_single_xfb.pt").unlink()
    _save(tmp_path, "k", {"single": 6.0, "multi": 7.0}, "multi")
    got, rep = teacher_stage.load_targets(tmp_path, "k", "h", {"single"}, cpu)
    assert float(got["single"].logits[0, 0, 0]) == 6.0 and rep["kinds"]["single"]["tag"] == "old"
    assert teacher_stage.load_targets(tmp_path, "k", "h", {"single_xfb"}, cpu) is None


def test_blend_key_and_refused_settings(tmp_path, refused_in_one_line):
    base = TrainConfig().teacher_key(64)
    assert load_config(None, {"methods": ["cd_xfb"]}).teacher_key(64) == base == "8adb85426270f856"
    assert load_config(None, {"finetune.blend": 0.5}).teacher_key(64) == base
    assert "blend" not in TrainConfig().to_dict()["finetune"]
    keys = {load_config(None, {"finetune.blend": w}).teacher_key(64) for w in (0.0, 0.3, 0.5, 1.0)}
    assert len(keys) == 4
    assert load_config(None, {"finetune.blend": 0.3}).to_dict()["finetune"]["blend"] == 0.3
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(UserError, match=rf"finetune.blend={bad}: need 0 <= blend <= 1"):
            load_config(None, {"methods": ["cd_xfb"], "finetune.blend": bad})
    out = tmp_path / "out"
    for sets, msg in ((["finetune.blend=1.5"], "finetune.blend=1.5: need 0 <= blend <= 1"),
                      (["finetune.blend=-2"], "finetune.blend=-2.0: need 0 <= blend <= 1"),
                      (["finetune.blend=half"], "finetune.blend: expected a number, got 'half'"),
                      (["finetune.encoder_path=t.pt"], "finetune.encoder_path=t.pt: method cd_xfb tunes one encoder "
                                                       "per fold")):
        refused_in_one_line("cd_xfb,cd", sets, msg, out)


def test_cd_xfb_on_digits_end_to_end(tmp_path, tiny_teacher, digits_lt, monkeypatch, capsys):
    from candle_hw.training import pipeline
    monkeypatch.setattr(pipeline, "run_training", functools.partial(pipeline.run_training,
                                                                    teacher_encoder=tiny_teacher))
    argv = ["--config", "configs/digits_lt10.yaml", "--methods", "cd_xfb,cd", "--out", str(tmp_path),
            "--resolutions", "8,16,24", "--no-progress"]
    for s in ("distill.epochs=40", "finetune.full=true", "finetune.epochs=6", "finetune.lr=1e-3",
              "finetune.folds=3"):
        argv += ["--set", s]
    assert train_main(argv) == 0
    printed = capsys.readouterr().out
    run = tmp_path / "digits_lt10"
    kinds = json.loads((run / "teacher" / "teacher_single-single_xf-single_xfb.json").read_text())["kinds"]
    assert set(kinds) == {"single", "single_xf", "single_xfb"}
    kind = kinds["single_xfb"]
    assert kind["accuracy"] > 20.0 and kind["blend"] == 0.5  # chance is 10 %
    assert f"teacher single_xfb acc {kind['accuracy']:6.2f}" in printed
    assert f"teacher single_xfb blend 0.50 training views acc {kind['train_view0']['accuracy']:6.2f}" in printed
    summary = json.loads((run / "metrics.json").read_text())
    res = summary["methods"]["cd_xfb"]
    assert res["accuracy"] > 20.0, res["accuracy"]
    assert res["teacher_test_agreement"] is not None and not res["paper_method"]
    diag = json.loads((run / "cd_xfb" / "metrics.json").read_text())["diagnostics"]
    # the student's teacher diagnostics read the blended targets
    assert diag["teacher_train_view_accuracy"] == pytest.approx(kind["train_view0"]["accuracy"])
    assert len(digits_lt.train.labels) == sum(f["held_out_images"] for f in kinds["single_xf"]["folds"])
