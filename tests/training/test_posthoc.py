"""Post-hoc logit adjustment (candle_hw.training.posthoc, `candle-hw adjust`): the held-out split, the integer
offsets, that the adjusted student computes exactly (acc + offset) * scale through PyTorch, QONNX and the
compiled build, and the command's output and refusals."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from candle_hw.cli import main
from candle_hw.compile.pipeline import load_graph
from candle_hw.compile.verify import qonnx_forward_batched
from candle_hw.models import PRESETS, build_model, load_checkpoint, randomize_bn, sample_input, save_checkpoint
from candle_hw.models.packed import packed_meta
from candle_hw.models.quant import LogitBias
from candle_hw.sim.functional import run_model
from candle_hw.training import posthoc
from candle_hw.training.data import holdout_indices, load_lt_dataset, make_long_tailed


def _script(name: str):
    """A module of scripts/ (they are not a package)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[2] / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tau_spread = _script("tau_spread")
logit_ensemble = _script("logit_ensemble")

SMALL_CNV = {"family": "cnv", "channels": [6, "M", 8], "fc": [12], "img": 8, "num_classes": 4}


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def _student(arch: dict, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model(arch)
    randomize_bn(model, seed + 1)
    return model.eval()


def test_holdout_is_left_out_training_images_of_each_class():
    labels = np.repeat(np.arange(4), [20, 40, 30, 20])
    lt = make_long_tailed(labels, 4, rho=5.0, seed=3, n_max=20)  # 20, 11, 6, 4: class 0 is taken whole
    hold = holdout_indices(labels, lt, per_class=15, seed=3)
    assert not set(hold.tolist()) & set(lt.tolist())
    assert np.bincount(labels[hold], minlength=4).tolist() == [0, 15, 15, 15]
    assert np.array_equal(hold, holdout_indices(labels, lt, per_class=15, seed=3))
    assert not np.array_equal(hold, holdout_indices(labels, lt, per_class=15, seed=4))
    few = holdout_indices(labels, lt, per_class=100, seed=3)  # every left-out image, no more
    assert np.bincount(labels[few], minlength=4).tolist() == [0, 29, 24, 16]


def test_lt_dataset_holdout_is_disjoint_from_its_training_set(digits_lt):
    ds = load_lt_dataset("digits", rho=10, seed=0, holdout_per_class=5)
    assert np.array_equal(ds.train_indices, digits_lt.train_indices) and ds.holdout is not None
    train = {img.tobytes() for img in ds.train.images}
    assert not any(img.tobytes() in train for img in ds.holdout.images)
    assert np.bincount(ds.holdout.labels, minlength=10).max() <= 5


def test_offsets_subtract_tau_log_prior_within_half_a_step():
    counts = np.array([5000, 1796, 387, 50])
    for tau, scale in ((1.0, 0.02), (0.45, 0.125), (0.0, 0.3)):
        off = posthoc.integer_offsets(counts, tau, scale)
        assert off.dtype == np.int64
        want = -tau * (np.log(counts) - np.log(counts).mean())  # the shift in logit units
        assert np.abs(off * scale - want).max() <= scale / 2 + 1e-12
    assert not posthoc.integer_offsets(counts, 0.0, 0.1).any()


@pytest.mark.parametrize("arch", [SMALL_CNV, PRESETS["mlp_digits"]], ids=["cnv", "mlp"])
def test_adjusted_student_outputs_accumulator_plus_offset_times_scale(arch):
    model = _student(arch)
    x = sample_input(model, 16, 2)
    images = x.to(torch.uint8) if model.input_bits == 8 else (x * 255).round().to(torch.uint8)
    acc = posthoc.accumulators(model, images)
    scale = posthoc.logit_scale(model)
    with torch.no_grad():
        raw = model(x).numpy()
    assert np.array_equal(_bits(raw), _bits(acc.astype(np.float32) * np.float32(scale)))
    off = np.arange(model.num_classes) * 3 - 5
    adjusted = posthoc.with_offsets(model, off)
    assert adjusted.arch == {**model.arch, "logit_bias": True}
    with torch.no_grad():
        out = adjusted(x).numpy()
    assert np.array_equal(_bits(out), _bits((acc + off).astype(np.float32) * np.float32(scale)))
    assert np.array_equal(_bits(out), _bits(posthoc.adjusted_logits(acc, off, scale)))
    again = posthoc.with_offsets(adjusted, -off)  # replaces the offsets, does not add to them
    with torch.no_grad():
        assert np.array_equal(_bits(again(x).numpy()), _bits((acc - off).astype(np.float32) * np.float32(scale)))


def test_choose_tau_maximises_held_out_balanced_accuracy():
    # class 0 is 100x as frequent; the student's raw logits lean towards it
    acc = np.array([[4, 0]] * 10 + [[2, 0]] * 6 + [[1, 3]] * 4)
    labels = np.array([0] * 10 + [1] * 10)
    counts = np.array([1000, 10])  # centred log prior: +-2.303
    # offsets: tau 0.5 -> [-1, 1] (the [2, 0] images tie, and a tie goes to class 0); tau 1 -> [-2, 2] (they
    # flip to class 1, class 0's [4, 0] ties and stays); tau 2 -> [-5, 5] (everything is class 1)
    tau, table = posthoc.choose_tau(acc, labels, counts, scale=1.0, taus=(0.0, 0.5, 1.0, 2.0))
    assert [r["balanced"] for r in table] == pytest.approx([70.0, 70.0, 100.0, 50.0]) and tau == 1.0
    tau, _ = posthoc.choose_tau(acc, labels, counts, scale=1.0, taus=(0.5, 0.0))
    assert tau == 0.0  # a tie goes to the smallest change


def test_choose_tau_takes_the_smallest_within_one_standard_error():
    # 2 classes x 20 images; tau 0 gets 18 + 12 right (75 %), tau 1 gets 18 + 14 (80 %): its standard error is
    # sqrt(0.9 * 0.1 / 20 + 0.7 * 0.3 / 20) / 2 = 6.12 %, so tau 0 (5 points below) is chosen; with 3x the
    # images per class the error is 3.54 % and tau 1 stays
    for copies, want in ((1, 0.0), (3, 1.0)):
        acc = np.array(([[4, 0]] * 18 + [[0, 4]] * 2 + [[4, 0]] * 6 + [[2, 0]] * 2 + [[0, 4]] * 12) * copies)
        labels = np.array(([0] * 20 + [1] * 20) * copies)
        tau, table = posthoc.choose_tau(acc, labels, np.array([1000, 10]), scale=1.0, taus=(0.0, 1.0))
        assert [r["balanced"] for r in table] == pytest.approx([75.0, 80.0])
        assert table[1]["se"] == pytest.approx(100 * np.sqrt(0.9 * 0.1 / (20 * copies) + 0.7 * 0.3 / (20 * copies)) / 2)
        assert tau == want


def test_adjusted_student_compiles_bit_exact(tmp_path):
    model = posthoc.with_offsets(_student(SMALL_CNV, 4), np.array([-9, 0, 4, 21]))
    ckpt = save_checkpoint(model, tmp_path / "s.pt")
    onnx = tmp_path / "s.onnx"
    assert main(["export", str(ckpt), "-o", str(onnx)]) == 0
    assert main(["compile", str(onnx), "-o", str(tmp_path / "b"), "--no-rtl", "-q"]) == 0
    x = np.random.default_rng(5).integers(0, 256, (10, 3, 8, 8)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    assert np.array_equal(_bits(run_model(load_graph(tmp_path / "b"), x)), _bits(ref))
    assert np.array_equal(_bits(qonnx_forward_batched(str(onnx), x)), _bits(ref))


def test_adjust_command_on_digits(tmp_path, capsys):
    ckpt = save_checkpoint(_student(PRESETS["mlp_digits"], 6), tmp_path / "s.pt")
    out = tmp_path / "adj.npz"
    argv = ["adjust", str(ckpt), "--config", "configs/digits_lt10.yaml", "-o", str(out), "--per-class", "20"]
    assert main(argv) == 0
    info = json.loads(capsys.readouterr().out)
    ds = load_lt_dataset("digits", rho=10, seed=0)
    adjusted = load_checkpoint(out)
    assert [m.offset.tolist() for m in adjusted.modules() if isinstance(m, LogitBias)] == [info["offsets"]]
    assert info["offsets"] == posthoc.integer_offsets(ds.class_counts, info["tau"], info["logit_scale"]).tolist()
    table = info["holdout"]["table"]
    best = max(table, key=lambda r: (r["balanced"], -r["tau"]))
    assert info["tau"] == min(r["tau"] for r in table if r["balanced"] >= best["balanced"] - best["se"])
    assert packed_meta(out)["posthoc"]["tau"] == info["tau"]
    with torch.no_grad():
        pred = adjusted(torch.from_numpy(ds.test.images).float()).argmax(1).numpy()
    assert info["test_after"]["accuracy"] == pytest.approx(100.0 * (pred == ds.test.labels).mean())


@pytest.mark.parametrize("extra, msg", [
    (["-o", "{tmp}/a.onnx"], "suffix must be one of .pt/.npz"),
    (["-o", "{tmp}/s.pt"], "exists; not overwritten"),
    (["-o", "{tmp}/a.npz", "--per-class", "0"], "--per-class"),
])
def test_adjust_refuses_in_one_line(tmp_path, capsys, extra, msg):
    ckpt = save_checkpoint(_student(PRESETS["mlp_digits"]), tmp_path / "s.pt")
    before = ckpt.read_bytes()
    argv = ["adjust", str(ckpt), "--config", "configs/digits_lt10.yaml"] + [a.format(tmp=tmp_path) for a in extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and len(err.splitlines()) == 1, err
    assert ckpt.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["s.pt"]


def test_train_with_holdout_adjusts_every_student(tmp_path, tiny_teacher, monkeypatch, capsys):
    import functools

    from candle_hw.training import pipeline
    from candle_hw.training.cli import main as train_main
    monkeypatch.setattr(pipeline, "run_training", functools.partial(pipeline.run_training,
                                                                    teacher_encoder=tiny_teacher))
    argv = ["--config", "configs/digits_lt10.yaml", "--methods", "cd", "--out", str(tmp_path),
            "--resolutions", "8,16,24", "--no-progress", "--set", "distill.epochs=15", "--set", "data.holdout=20"]
    assert train_main(argv) == 0
    printed = capsys.readouterr().out
    run = tmp_path / "digits_lt10"
    info = json.loads((run / "cd" / "metrics.json").read_text())["posthoc"]
    ds = load_lt_dataset("digits", rho=10, seed=0)
    adjusted = load_checkpoint(run / "cd" / "student_adjusted.pt")
    assert [m.offset.tolist() for m in adjusted.modules() if isinstance(m, LogitBias)] == [info["offsets"]]
    assert info["offsets"] == posthoc.integer_offsets(ds.class_counts, info["tau"], info["logit_scale"]).tolist()
    with torch.no_grad():
        pred = adjusted(torch.from_numpy(ds.test.images).float()).argmax(1).numpy()
    assert info["test"]["accuracy"] == pytest.approx(100.0 * (pred == ds.test.labels).mean())
    assert f"cd+adj         acc {info['test']['accuracy']:6.2f}" in printed
    assert f"(post-hoc tau {info['tau']:.2f})" in printed
    raw = load_checkpoint(run / "cd" / "student.pt")  # the raw student is written as before, without offsets
    assert "logit_bias" not in raw.arch


def test_holdout_setting_is_checked_and_kept_out_of_hashes_when_off(refused_in_one_line, tmp_path):
    from candle_hw.training.config import load_config
    assert "holdout" not in load_config("configs/digits_lt10.yaml").to_dict()["data"]
    assert load_config("configs/digits_lt10.yaml", {"data.holdout": 5}).to_dict()["data"]["holdout"] == 5
    for bad, msg in (("-1", "data.holdout=-1: need an integer >= 0"), ("2.5", "expected an integer, got 2.5"),
                     ("true", "data.holdout")):
        refused_in_one_line("cd", [f"data.holdout={bad}"], msg, tmp_path / "o")


def test_tau_spread_draw_zero_is_adjusts_draw_and_each_draw_scores_as_the_adjusted_student(tmp_path, capsys):
    model = _student(PRESETS["mlp_digits"], 6)
    ckpt = save_checkpoint(model, tmp_path / "s.pt")
    assert main(["adjust", str(ckpt), "--config", "configs/digits_lt10.yaml", "-o", str(tmp_path / "a.pt"),
                 "--per-class", "20"]) == 0
    adjusted_tau = json.loads(capsys.readouterr().out)["tau"]
    assert tau_spread.main([str(ckpt), "--config", "configs/digits_lt10.yaml", "--draws", "3",
                            "--per-class", "20"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["draw"] for r in out["draws"]] == [0, 1, 2]
    assert out["draws"][0]["tau"] == adjusted_tau
    ds = load_lt_dataset("digits", rho=10, seed=0)
    test = torch.from_numpy(ds.test.images).float()
    scale = posthoc.logit_scale(model)
    for r in out["draws"]:  # the accumulator arithmetic against the adjusted network's own forward pass
        adjusted = posthoc.with_offsets(model, posthoc.integer_offsets(ds.class_counts, r["tau"], scale))
        with torch.no_grad():
            pred = adjusted(test).argmax(1).numpy()
        assert r["test"]["accuracy"] == pytest.approx(100.0 * (pred == ds.test.labels).mean())
    assert out["draws"][0]["images"] < out["union"]["images"] <= 3 * out["draws"][0]["images"]
    assert [r["tau"] for r in out["test_by_tau"]] == list(posthoc.TAUS)
    # an adjusted student would be adjusted twice: refused
    assert tau_spread.main([str(tmp_path / "a.pt"), "--config", "configs/digits_lt10.yaml"]) == 2
    assert "already adjusted" in capsys.readouterr().err


def test_logit_ensemble_single_students_match_adjust_and_pairs_sum_accumulators(tmp_path, capsys):
    models = [_student(PRESETS["mlp_digits"], s) for s in (6, 7)]
    paths = [str(save_checkpoint(m, tmp_path / f"s{i}.pt")) for i, m in enumerate(models)]
    afters = []
    for i, p in enumerate(paths):
        assert main(["adjust", p, "--config", "configs/digits_lt10.yaml", "-o", str(tmp_path / f"a{i}.pt"),
                     "--per-class", "20"]) == 0
        afters.append(json.loads(capsys.readouterr().out))
    assert logit_ensemble.main([*paths, "--config", "configs/digits_lt10.yaml", "--per-class", "20"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["students"] for r in rows] == [[paths[0]], [paths[1]], paths]
    for row, after in zip(rows[:2], afters):
        assert row["tau"] == after["tau"]
        assert row["adjusted"]["accuracy"] == pytest.approx(after["test_after"]["accuracy"])
    ds = load_lt_dataset("digits", rho=10, seed=0)
    x = torch.from_numpy(ds.test.images).float()
    with torch.no_grad():  # each student's logits back to its integer accumulator through its own scale
        acc = sum(np.rint(m(x).numpy().astype(np.float64) / posthoc.logit_scale(m)) for m in models)
    assert rows[2]["raw"]["accuracy"] == pytest.approx(100.0 * (acc.argmax(1) == ds.test.labels).mean())
