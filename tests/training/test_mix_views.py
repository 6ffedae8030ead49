"""Cached CutMix views (teacher.mix: cutmix): the bank's mixed pixels against plain numpy slicing, the un-mixed bank
unchanged, teacher and student fed by one function, a calibration that never trains on a mixed view, a teacher
cache keyed by the mix, and the digits run end to end."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from candle_hw.errors import UserError
from candle_hw.training import teacher_stage
from candle_hw.training.augment import ViewBank, crop_flip, pad_images
from candle_hw.training.calibrate import CalibratedHead, CalibrationConfig, _draw_views, train_head
from candle_hw.training.config import TrainConfig, load_config
from candle_hw.training.pipeline import run_training
from candle_hw.training.teachers import pooled_batch, pooled_features

SIZE = (12, 12)
PAD = 2


def _images(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, *SIZE), generator=g, dtype=torch.uint8)


def _reference_view(padded: np.ndarray, bank: ViewBank, k: int, i: int) -> np.ndarray:
    """View k of image i by plain slicing: the own crop, the partner's crop (its own view k) inside the box."""
    def crop(j):
        dy, dx = int(bank.dy[k, j]), int(bank.dx[k, j])
        out = padded[j, :, dy:dy + SIZE[0], dx:dx + SIZE[1]]
        return out[:, :, ::-1] if bool(bank.flip[k, j]) else out
    out = crop(i).copy()
    y0, x0, y1, x1 = (int(v) for v in bank.box[k, i])
    out[:, y0:y1, x0:x1] = crop(int(bank.partner[k, i]))[:, y0:y1, x0:x1]
    return out


def _all_views(bank: ViewBank, padded: torch.Tensor) -> torch.Tensor:
    k, n = bank.num_views, padded.shape[0]
    view = torch.arange(k).repeat_interleave(n)
    return bank.batch(padded, torch.arange(n).repeat(k), view, SIZE).reshape(k, n, 3, *SIZE)


def test_unmixed_bank_is_the_crop_flip_bank_and_keeps_its_cache_key():
    padded = pad_images(_images(30), PAD)
    plain = ViewBank.make(30, 5, PAD, seed=4)
    assert plain.partner is None and plain.box is None and not plain.mixed.any()
    idx, view = torch.randint(0, 30, (50,)), torch.randint(0, 5, (50,))
    explicit = crop_flip(padded, idx, plain.dy[view, idx], plain.dx[view, idx], plain.flip[view, idx], SIZE)
    assert torch.equal(plain.batch(padded, idx, view, SIZE), explicit)
    # A mixed bank of the same seed keeps the very same crops and flips (its draws come after theirs).
    mixed = ViewBank.make(30, 5, PAD, seed=4, mix="cutmix", size=SIZE)
    for name in ("dy", "dx", "flip"):
        assert torch.equal(getattr(plain, name), getattr(mixed, name)), name
    # The teacher cache key of mix=none is the one caches made before the option existed carry.
    assert TrainConfig().teacher_key(64) == "8adb85426270f856"
    assert load_config("configs/digits_lt10.yaml").teacher_key(64) == "8d5ec364b40316af"
    assert "mix" not in TrainConfig().to_dict()["teacher"]


def test_mixed_views_paste_the_partner_box_into_the_own_crop(tiny_teacher):
    n, k, prob = 400, 6, 0.5
    images = _images(n, seed=1)
    padded = pad_images(images, PAD)
    bank = ViewBank.make(n, k, PAD, seed=7, mix="cutmix", mix_prob=prob, size=SIZE)
    got = _all_views(bank, padded).numpy()
    ref_padded = padded.numpy()
    for kk in range(k):
        for i in range(0, n, 7):
            assert np.array_equal(got[kk, i], _reference_view(ref_padded, bank, kk, i)), (kk, i)
    mixed = bank.mixed
    own = torch.arange(n).expand(k, n)
    assert not mixed[0].any() and np.array_equal(got[0], images.numpy())
    assert abs(float(mixed[1:].float().mean()) - prob) < 0.05
    assert bool((bank.partner[mixed] != own[mixed]).all()) and torch.equal(bank.partner[~mixed], own[~mixed])
    assert bool((bank.box[~mixed] == 0).all())
    y0, x0, y1, x1 = bank.box[mixed].unbind(-1)
    assert bool(((0 <= y0) & (y0 < y1) & (y1 <= SIZE[0]) & (0 <= x0) & (x0 < x1) & (x1 <= SIZE[1])).all())
    # Beta(1, 1) areas, clipped: pasted fractions spread over (0, 1), below the unclipped mean of 1/2.
    area = ((y1 - y0) * (x1 - x0)).float() / (SIZE[0] * SIZE[1])
    assert 0.2 < float(area.mean()) < 0.5 and float(area.max()) > 0.8
    moved = bank.to("cpu")
    assert torch.equal(moved.partner, bank.partner) and torch.equal(moved.box, bank.box)
    # The teacher's features are computed on these very images (one bank function for teacher and student).
    small = ViewBank.make(20, 3, PAD, seed=7, mix="cutmix", mix_prob=prob, size=SIZE)
    feats, _ = pooled_features(tiny_teacher, padded[:20], small, [8, 16], SIZE, batch=20, amp=False)
    for kk in range(3):
        ref = torch.from_numpy(np.stack([_reference_view(ref_padded, small, kk, i) for i in range(20)]))
        torch.testing.assert_close(feats[kk].float(), pooled_batch(tiny_teacher, ref, [8, 16], False).half().float())


def test_calibration_draws_only_unmixed_views():
    bank = ViewBank.make(50, 6, PAD, seed=2, mix="cutmix", mix_prob=0.7, size=SIZE)
    usable = ~bank.mixed
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, 50, (20000,), generator=g)
    view = _draw_views(usable, idx, 6, g)
    assert bool(usable[view, idx].all())
    # ... uniformly among an image's un-mixed views
    drawn = torch.zeros(6, 50)
    drawn.index_put_((view, idx), torch.ones(len(idx)), accumulate=True)
    expected = usable.float() * (torch.bincount(idx, minlength=50) / usable.sum(0))[None]
    assert float((drawn - expected).abs().max()) < 0.3 * float(expected.max())


def test_calibrated_head_ignores_poisoned_mixed_views():
    # Un-mixed views carry the class's direction; mixed ones the next class's, under the same label. A head that
    # trained on the mixed views would learn the shifted map (the control shows it does).
    n, k, classes = 300, 4, 5
    labels = torch.arange(n) % classes
    bank = ViewBank.make(n, k, PAD, seed=0, mix="cutmix", mix_prob=1.0, size=SIZE)
    mixed = bank.mixed
    shown = torch.where(mixed, (labels[None] + 1) % classes, labels[None])  # (K, N)
    feats = (4.0 * torch.nn.functional.one_hot(shown, classes).float())[:, :, None, :]  # (K, N, 1, D)
    counts = np.bincount(labels.numpy(), minlength=classes)
    cfg = CalibrationConfig(epochs=15, batch=64, lr=1e-2, smooth_head=0.0)

    def view0_accuracy(usable):
        torch.manual_seed(0)
        head = CalibratedHead(classes, 8, 1, 0, classes)
        train_head(head, feats, labels, counts, cfg, seed=0, usable=usable)
        with torch.no_grad():
            return float((head(feats[0]).argmax(1) == labels).float().mean())

    assert float(mixed[1:].float().mean()) > 0.9
    assert view0_accuracy(~mixed) == 1.0
    assert view0_accuracy(None) < 0.5


def test_teacher_cache_key_follows_mix_and_bad_settings_name_the_key():
    keys = {load_config(None, sets).teacher_key(64) for sets in (
        {}, {"teacher.mix": "cutmix", "methods": ["cd"]},
        {"teacher.mix": "cutmix", "teacher.mix_prob": 0.25, "methods": ["cd"]},
        {"teacher.mix": "cutmix", "data.seed": 1, "methods": ["cd"]})}
    assert len(keys) == 4
    with pytest.raises(UserError, match=r"teacher.mix='blend'"):
        load_config(None, {"teacher.mix": "blend"})
    with pytest.raises(UserError, match=r"teacher.mix_prob=1.5"):
        load_config(None, {"teacher.mix": "cutmix", "teacher.mix_prob": 1.5, "methods": ["cd"]})
    with pytest.raises(UserError, match=r"teacher.mix=cutmix: method scratch trains on the labels"):
        load_config(None, {"teacher.mix": "cutmix", "methods": ["scratch", "cd"]})


def test_cd_on_digits_with_cutmix_views_runs_beats_chance_and_records_the_mix(tmp_path, tiny_teacher,
                                                                               monkeypatch):
    # The shipped digits config with the stand-in teacher (Lite0 on 2 CPU cores would take minutes), first a
    # mix=none teacher stage into the same run folder: the cutmix run must not reuse its cache.
    sets = {"out_dir": str(tmp_path), "methods": ["cd"], "teacher.resolutions": [8, 16, 24], "distill.epochs": 60,
            "progress": False}
    run_training(load_config("configs/digits_lt10.yaml", sets), stage="teacher", teacher_encoder=tiny_teacher)
    calls = []

    def spy(head, feats, labels, counts, cfg, seed, usable=None):
        calls.append(usable)
        return train_head(head, feats, labels, counts, cfg, seed, usable)
    monkeypatch.setattr(teacher_stage, "train_head", spy)
    cfg = load_config("configs/digits_lt10.yaml", {**sets, "teacher.mix": "cutmix", "teacher.mix_prob": 0.6})
    summary = run_training(cfg, teacher_encoder=tiny_teacher)
    bank = ViewBank.make(calls[0].shape[1], cfg.teacher.views, cfg.data.pad, cfg.data.seed, flip=False,
                         mix="cutmix", mix_prob=0.6, size=(8, 8))
    assert len(calls) == 1 and torch.equal(calls[0], ~bank.mixed) and bank.mixed.any()
    assert len(list((tmp_path / cfg.name / "teacher").glob("targets_*.pt"))) == 2
    run = json.loads((tmp_path / cfg.name / "metrics.json").read_text())
    assert run["teacher"]["mix"] == "cutmix" and run["teacher"]["mix_prob"] == 0.6
    assert run["teacher"]["mixed_views"] == pytest.approx(float(bank.mixed.float().mean()))
    res = run["methods"]["cd"]
    assert summary["methods"]["cd"]["accuracy"] == res["accuracy"] > 20.0, res["accuracy"]  # chance is 10 %
    metrics = json.loads((tmp_path / cfg.name / "cd" / "metrics.json").read_text())
    assert metrics["config"]["teacher"]["mix"] == "cutmix" and metrics["config"]["teacher"]["mix_prob"] == 0.6

