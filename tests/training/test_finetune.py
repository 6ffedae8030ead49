"""The fine-tuned teacher extension (training/finetune.py): full fine-tuning with random-resized crops and
mixup/cutmix under logit adjustment, its saved encoder, the single_ft kind and cd_ft, on digits in seconds."""
import re
import json

import numpy as np
import pytest
import torch

from candle_hw.errors import UserError
from candle_hw.training.augment import ViewBank, pad_images
from candle_hw.training.cli import parse_settings
from candle_hw.training.config import TrainConfig, load_config
from candle_hw.training.finetune import fitted_epochs, lr_factor
from candle_hw.training.online import FunctionMatchingConfig, mix_pairs
from candle_hw.training.teacher_stage import build_teacher_targets


def _cfg(tmp_path, **ft):
    cfg = TrainConfig()
    cfg.teacher.resolutions, cfg.teacher.identity_index = [8, 16, 24], 1
    cfg.calibration.epochs, cfg.calibration.lr, cfg.progress = 10, 1e-2, False
    cfg.data.flip = False
    for k, v in {"full": True, "epochs": 2, "batch": 64, "lr": 1e-3, "augment": "rrc_mix",
                 "encoder_path": str(tmp_path / "tuned.pt"), **ft}.items():
        setattr(cfg.finetune, k, v)
    return cfg


def _stage(cfg, ds, encoder, kinds):
    padded = pad_images(torch.from_numpy(ds.train.images), 1)
    bank = ViewBank.make(len(ds.train.labels), 2, 1, seed=0, flip=False)
    return build_teacher_targets(cfg, padded, torch.from_numpy(ds.train.labels), torch.from_numpy(ds.test.images),
                                 ds.test.labels, ds.class_counts, bank, (8, 8), 64, kinds, encoder,
                                 ds.construction_hash)


def test_full_finetune_trains_every_layer_and_reloads_exactly(digits_lt, tiny_teacher, tmp_path):
    cfg = _cfg(tmp_path)
    targets, report = _stage(cfg, digits_lt, tiny_teacher, {"single_ft", "multi_ft"})
    ft = report["kinds"]["single_ft"]["finetune"]
    assert ft["full"] and ft["epochs"] == 2 and len(ft["loss"]) == 2 and np.isfinite(ft["loss"]).all()
    assert ft["trainable_params"] == sum(p.numel() for p in tiny_teacher.net.parameters())
    assert 0.0 <= ft["own_head"]["accuracy"] <= 100.0 and len(ft["own_head"]["per_class"]) == 10
    saved = torch.load(tmp_path / "tuned.pt", weights_only=False)
    for name, p in tiny_teacher.net.state_dict().items():  # every layer moved, the stem included
        if p.dtype.is_floating_point and p.dim() > 1:
            assert not torch.equal(saved["state"][name], p), name
    assert targets["single_ft"].logits.shape == (2, len(digits_lt.train.labels), 10)
    assert report["kinds"]["multi_ft"]["resolutions"] == [8, 16, 24]
    assert report["kinds"]["single_ft"]["resolutions"] == [16]
    # A second run loads the saved encoder instead of tuning again: the very same targets.
    again, rep2 = _stage(cfg, digits_lt, tiny_teacher, {"single_ft"})
    assert rep2["kinds"]["single_ft"]["finetune"]["loaded_from"] == str(tmp_path / "tuned.pt")
    assert torch.equal(again["single_ft"].logits, targets["single_ft"].logits)
    assert torch.equal(again["single_ft"].feats, targets["single_ft"].feats)


def test_saved_encoder_of_other_data_is_a_user_error(digits_lt, tiny_teacher, tmp_path):
    cfg = _cfg(tmp_path, epochs=1, augment="crop_flip")
    _stage(cfg, digits_lt, tiny_teacher, {"single_ft"})
    blob = torch.load(tmp_path / "tuned.pt", weights_only=False)
    blob["data_hash"] = "other"
    torch.save(blob, tmp_path / "tuned.pt")
    with pytest.raises(UserError, match="tuned on other data"):
        _stage(cfg, digits_lt, tiny_teacher, {"single_ft"})


def test_mix_pairs_labels_weigh_each_image_by_its_own_pixels():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 3, 8, 8) * 255
    for mode in ("mixup", "cutmix"):
        cfg = FunctionMatchingConfig(mix=mode)
        mixed, partner, own = mix_pairs(x, g, cfg)
        assert sorted(partner.tolist()) == list(range(16)) and ((own >= 0) & (own <= 1)).all()
        if mode == "mixup":
            want = own[:, None, None, None] * x + (1 - own[:, None, None, None]) * x[partner]
            assert torch.allclose(mixed, want, atol=1e-3)
        else:  # a pasted box: the pixels still equal to the image's own make up `own` of it
            kept = (mixed == x).all(dim=1).float().mean(dim=(1, 2))
            moved = partner != torch.arange(16)
            assert torch.allclose(kept[moved], own[moved])


def test_schedule_and_fit_arithmetic():
    assert lr_factor(0, 100, 0.1) == pytest.approx(0.1) and lr_factor(9, 100, 0.1) == 1.0
    assert lr_factor(10, 100, 0.1) == 1.0 and lr_factor(100, 100, 0.1) == pytest.approx(0.0)
    assert lr_factor(55, 100, 0.1) == pytest.approx(0.5)
    # 2 epochs took 30 s, the next takes 10 s: 5 minutes hold 27 more; capped by the epochs asked for.
    assert fitted_epochs(100, 2, 30.0, 10.0, 5.0) == 29 and fitted_epochs(20, 2, 30.0, 10.0, 5.0) == 20
    assert fitted_epochs(100, 2, 400.0, 10.0, 5.0) == 2


def test_settings_and_bad_values_name_the_key():
    assert parse_settings(["finetune.full=true", "finetune.crop_scale=[0.5, 1]"]) == {
        "finetune.full": True, "finetune.crop_scale": [0.5, 1]}
    with pytest.raises(UserError, match="KEY=VALUE"):
        parse_settings(["finetune.full"])
    with pytest.raises(UserError, match="finetune.augment='autoaugment'"):
        load_config(None, {"finetune.augment": "autoaugment"})
    with pytest.raises(UserError, match="unknown key 'fulll'"):
        load_config(None, parse_settings(["finetune.fulll=1"]))


def test_settings_take_the_type_of_the_key():
    # YAML 1.1 reads 5e-4 (no dot) as a string: it must reach the optimiser as a float, not fail mid-run
    cfg = load_config(None, parse_settings(["finetune.lr=5e-4", "finetune.epochs=60", "distill.epochs=4e2"]))
    assert cfg.finetune.lr == 5e-4 and isinstance(cfg.finetune.lr, float)
    assert cfg.distill.epochs == 400 and isinstance(cfg.distill.epochs, int)
    for item, msg in (("finetune.lr=fast", "finetune.lr: expected a number, got 'fast'"),
                      ("finetune.full=maybe", "finetune.full: expected true or false, got 'maybe'"),
                      ("distill.epochs=2.5", "distill.epochs: expected an integer, got 2.5")):
        with pytest.raises(UserError, match=re.escape(msg)):
            load_config(None, parse_settings([item]))


def test_cd_ft_on_digits_end_to_end(tmp_path, tiny_teacher):
    from candle_hw.training.pipeline import run_training
    cfg = load_config("configs/digits_lt10.yaml", {
        "out_dir": str(tmp_path), "methods": ["cd_ft"], "teacher.resolutions": [8, 16, 24], "distill.epochs": 20,
        "progress": False, **parse_settings(["finetune.full=true", "finetune.epochs=2", "finetune.augment=rrc"])})
    summary = run_training(cfg, teacher_encoder=tiny_teacher)
    res = summary["methods"]["cd_ft"]
    assert res["accuracy"] > 20.0, res["accuracy"]  # chance is 10 %
    assert res["teacher_test_agreement"] is not None and not res["paper_method"]
    kind = json.loads((tmp_path / cfg.name / "teacher" / "teacher_single_ft.json").read_text())["kinds"]["single_ft"]
    assert kind["finetune"]["full"] and kind["accuracy"] > 20.0
