"""Function matching (cd_fm / candle_fm): fresh augmentations shared by teacher and student, an online teacher that
computes what the cached targets hold, exact resume, the run length fitted to a time budget, and the CPU digits
run end to end with the real Lite0 teacher."""
from __future__ import annotations

import json

import pytest
import torch

from candle_hw.errors import UserError
from candle_hw.models import build_model
from candle_hw.training.augment import ViewBank, pad_images
from candle_hw.training.config import TrainConfig, load_config
from candle_hw.training.loop import DistillConfig, StudentData, TrainState, _fit_epochs, train_student
from candle_hw.training.online import FunctionMatchingConfig, OnlineTeacher, fm_batch, mix
from candle_hw.training.pipeline import run_training
from candle_hw.training.teacher_stage import build_teacher_targets

IDENTITY = FunctionMatchingConfig(crop_scale=[1.0, 1.0], crop_ratio=[1.0, 1.0], mix="none")


def test_identity_augmentation_returns_the_images_and_flip_mirrors_them(digits_lt):
    images = torch.from_numpy(digits_lt.train.images[:64])
    padded = pad_images(images, 2)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(fm_batch(padded, torch.arange(64), (8, 8), g, IDENTITY, flip=False), images)
    flipped = fm_batch(padded, torch.arange(64), (8, 8), g, IDENTITY, flip=True)
    same = (flipped == images).flatten(1).all(1)
    mirrored = (flipped == images.flip(-1)).flatten(1).all(1)
    assert bool((same | mirrored).all()) and 0 < int(mirrored.sum()) < 64


def test_mixup_blends_and_cutmix_pastes_a_box():
    black, white = torch.zeros(1, 3, 16, 16), torch.full((1, 3, 16, 16), 255.0)
    images = torch.cat([black, white] * 8)
    g = torch.Generator().manual_seed(1)
    blended = mix(images, g, FunctionMatchingConfig(mix="mixup"))
    assert bool((blended == blended[:, :1, :1, :1]).all())  # a blend of two flat images is flat
    assert bool(((blended >= 0) & (blended <= 255)).all())
    pasted = mix(images, g, FunctionMatchingConfig(mix="cutmix"))
    assert bool(((pasted == 0) | (pasted == 255)).all())  # every pixel comes from one of the two images
    for img, src in zip(pasted, images):
        other = (img[0] != src[0]).nonzero()
        if len(other):  # the partner's pixels fill exactly their bounding box
            (y0, x0), (y1, x1) = other.min(0).values, other.max(0).values
            assert len(other) == (y1 - y0 + 1) * (x1 - x0 + 1)


def test_augmentation_replays_from_the_seed(digits_lt):
    padded = pad_images(torch.from_numpy(digits_lt.train.images), 1)
    cfg = FunctionMatchingConfig()
    a = fm_batch(padded, torch.arange(32), (8, 8), torch.Generator().manual_seed(5), cfg, True)
    b = fm_batch(padded, torch.arange(32), (8, 8), torch.Generator().manual_seed(5), cfg, True)
    assert torch.equal(a, b) and not torch.equal(a, torch.from_numpy(digits_lt.train.images[:32]))




def _stage(digits_lt, tiny_teacher, kinds):
    cfg = TrainConfig()
    cfg.teacher.resolutions, cfg.teacher.identity_index = [8, 16, 24], 1
    cfg.calibration.epochs, cfg.calibration.lr, cfg.progress = 20, 1e-2, False
    padded = pad_images(torch.from_numpy(digits_lt.train.images), 1)
    bank = ViewBank.make(len(digits_lt.train.labels), 2, 1, seed=0, flip=False)
    data = StudentData(padded, torch.from_numpy(digits_lt.train.labels), bank, (8, 8), digits_lt.class_counts,
                       torch.from_numpy(digits_lt.test.images), torch.from_numpy(digits_lt.test.labels))
    targets, _ = build_teacher_targets(cfg, padded, data.labels, data.test_images, digits_lt.test.labels,
                                       digits_lt.class_counts, bank, (8, 8), 64, kinds, tiny_teacher)
    return targets, data


@pytest.fixture(scope="module")
def stage(digits_lt, tiny_teacher):
    return _stage(digits_lt, tiny_teacher, {"single", "multi"})


@pytest.mark.parametrize("kind,alone", [("single", False), ("multi", False), ("single", True)])
def test_online_teacher_computes_the_cached_targets(stage, digits_lt, tiny_teacher, kind, alone):
    # alone: a stage of the single kind only computes features at the identity resolution alone (the head once
    # recorded the lowest resolution there, and an online teacher built from that record saw other images)
    targets, data = _stage(digits_lt, tiny_teacher, {kind}) if alone else stage
    assert targets[kind].head["resolutions"] == ([16] if kind == "single" else [8, 16, 24])
    online = OnlineTeacher.from_head(tiny_teacher, targets[kind].head, amp=False)
    idx = torch.arange(100)
    view0 = data.bank.batch(data.padded, idx, torch.zeros(100, dtype=torch.long), (8, 8))
    logits, feats = online(view0)
    torch.testing.assert_close(logits, targets[kind].logits[0, idx], rtol=1e-2, atol=2e-3)  # cached features are float16
    torch.testing.assert_close(feats, targets[kind].feats[0, idx], rtol=1e-2, atol=2e-3)  # cached features are float16


def _train_fm(method, kind, stage, tiny_teacher, checkpoint, stop_after=0):
    targets, data = stage
    torch.manual_seed(0)
    model = build_model("mlp_digits")
    online = OnlineTeacher.from_head(tiny_teacher, targets[kind].head, amp=False)
    cfg = DistillConfig(epochs=3, batch=128, checkpoint_every=1, stop_after=stop_after)
    return model, *train_student(model, method, data, targets[kind], cfg, seed=0, checkpoint=checkpoint,
                                 online=online, fm=FunctionMatchingConfig(), flip=False)


def test_function_matching_resumes_to_the_same_result(stage, tiny_teacher, tmp_path):
    full, _, _ = _train_fm("candle_fm", "multi", stage, tiny_teacher, tmp_path / "a.pt")
    _train_fm("candle_fm", "multi", stage, tiny_teacher, tmp_path / "b.pt", stop_after=2)
    resumed, state, _ = _train_fm("candle_fm", "multi", stage, tiny_teacher, tmp_path / "b.pt")
    assert state.epoch == 3
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k


def test_fit_minutes_sets_the_epochs_that_fit():
    cfg = DistillConfig(epochs=400, fit_minutes=10.0)
    state = TrainState(epoch=5, history=[{"seconds": 60.0}] + [{"seconds": s} for s in (1.0, 2.0, 2.0, 2.0)])
    # 600 s budget, 20 s spent, pace 2 s (the compiling first epoch is not counted): 290 more epochs
    assert _fit_epochs(cfg, state, 20.0, first=0) == 295
    assert _fit_epochs(DistillConfig(epochs=100, fit_minutes=10.0), state, 20.0, first=0) == 100
    assert _fit_epochs(cfg, state, 700.0, first=0) == 6  # over budget: one more epoch, then stop
    assert _fit_epochs(DistillConfig(epochs=5, fit_minutes=10.0), state, 700.0, first=0) == 5  # never past epochs


def test_stale_teacher_cache_without_head_is_a_user_error(digits_lt, tmp_path):
    from candle_hw.training.loop import TeacherTargets
    from candle_hw.training.pipeline import _online_teacher
    cfg = TrainConfig()
    with pytest.raises(UserError, match="cd_fm: the cached teacher targets carry no calibrated head"):
        _online_teacher(cfg, "cd_fm", TeacherTargets(torch.zeros(1), torch.zeros(1)), torch.device("cpu"),
                        encoder=object())


def test_bad_function_matching_setting_names_the_key():
    with pytest.raises(UserError, match=r"function_matching.mix='blend'"):
        load_config(None, {"function_matching.mix": "blend"})


def test_cd_fm_on_digits_beats_chance_and_reports_agreement(tmp_path, tiny_teacher):
    # The shipped digits config end to end (teacher stage, calibrated head, online teacher, diagnostics, summary)
    # with the stand-in teacher: Lite0 on 2 CPU cores would run for minutes, once per student step.
    cfg = load_config("configs/digits_lt10.yaml", {"out_dir": str(tmp_path), "methods": ["cd_fm"],
                                                   "teacher.resolutions": [8, 16, 24], "distill.epochs": 30,
                                                   "progress": False})
    summary = run_training(cfg, teacher_encoder=tiny_teacher)
    res = json.loads((tmp_path / cfg.name / "metrics.json").read_text())["methods"]["cd_fm"]
    assert summary["methods"]["cd_fm"]["accuracy"] == res["accuracy"]
    assert res["accuracy"] > 20.0, res["accuracy"]  # chance is 10 %
    assert res["teacher_test_agreement"] > 20.0 and len(res["teacher_test_agreement_per_class"]) == 10
    metrics = json.loads((tmp_path / cfg.name / "cd_fm" / "metrics.json").read_text())
    assert metrics["function_matching"]["mix"] == "mixup" and not metrics["paper_method"]
    assert metrics["epochs"] == metrics["epochs_done"] == 30


def test_train_module_runs_parallel_methods_without_the_compiler(tmp_path):
    # Device machines carry no qonnx: the training entry point (sweep.sh, and the processes of --jobs) must not
    # import the compiler that `candle-hw`'s full parser pulls in.
    import subprocess
    import sys
    code = ("import sys; from candle_hw.training.cli import main; "
            f"rc = main(['--config', 'configs/digits_lt10.yaml', '--out', {str(tmp_path)!r}, '--methods', "
            "'scratch', '--epochs', '1', '--jobs', '2', '--no-progress']); "
            "assert 'qonnx' not in sys.modules, 'qonnx imported'; sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "digits_lt10" / "scratch" / "metrics.json").is_file()
