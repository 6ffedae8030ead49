"""Student loop: checkpoint/resume replays exactly; the teacher stage runs end to end on a stand-in teacher."""
import pytest
import torch

from candle_hw.models import build_model
from candle_hw.training.augment import ViewBank, pad_images
from candle_hw.training.config import TrainConfig
from candle_hw.training.loop import DistillConfig, StudentData, train_student
from candle_hw.training.teacher_stage import build_teacher_targets


def _student_data(ds, views=2, pad=1):
    padded = pad_images(torch.from_numpy(ds.train.images), pad)
    bank = ViewBank.make(len(ds.train.labels), views, pad, seed=0)
    return StudentData(padded, torch.from_numpy(ds.train.labels), bank, (8, 8), ds.class_counts,
                       torch.from_numpy(ds.test.images), torch.from_numpy(ds.test.labels))


@pytest.fixture(scope="module")
def targets_and_data(digits_lt, tiny_teacher):
    cfg = TrainConfig()
    cfg.teacher.resolutions, cfg.teacher.identity_index = [8, 16, 24], 1
    cfg.calibration.epochs, cfg.calibration.lr, cfg.progress = 30, 1e-2, False
    cfg.finetune.blocks, cfg.finetune.epochs = 1, 1
    data = _student_data(digits_lt)
    targets, report = build_teacher_targets(cfg, data.padded, data.labels, data.test_images, digits_lt.test.labels,
                                            digits_lt.class_counts, data.bank, (8, 8), 64,
                                            {"uncalibrated", "single", "multi", "multi_ft"}, tiny_teacher)
    return targets, report, data


def test_teacher_stage_produces_every_kind(targets_and_data, digits_lt):
    targets, report, data = targets_and_data
    n = len(digits_lt.train.labels)
    assert targets["uncalibrated"].logits is None and targets["uncalibrated"].feats.shape == (2, n, 64)
    for kind in ("single", "multi", "multi_ft"):
        assert targets[kind].logits.shape == (2, n, 10) and targets[kind].feats.shape == (2, n, 64)
        assert report["kinds"][kind]["accuracy"] > 10.0  # a trained head beats chance on real digits
    assert report["kinds"]["multi"]["resolutions"] == [8, 16, 24]
    assert report["kinds"]["single"]["resolutions"] == [16]
    assert report["frozen_features"]["views"] == 2


def _train(method, data, targets, checkpoint, epochs=4, stop_after=0):
    torch.manual_seed(0)
    model = build_model("mlp_digits")
    cfg = DistillConfig(epochs=epochs, batch=64, checkpoint_every=1, stop_after=stop_after)
    state, report = train_student(model, method, data, targets, cfg, seed=0, checkpoint=checkpoint)
    return model, state, report


def test_resume_continues_to_the_same_result(targets_and_data, tmp_path):
    targets, _, data = targets_and_data
    full, full_state, full_report = _train("candle", data, targets["multi"], tmp_path / "a.pt")
    _train("candle", data, targets["multi"], tmp_path / "b.pt", stop_after=2)
    assert torch.load(tmp_path / "b.pt", weights_only=False)["epoch"] == 2
    resumed, state, report = _train("candle", data, targets["multi"], tmp_path / "b.pt")
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
    assert state.lambdas == full_state.lambdas and state.epoch == 4
    assert report["accuracy"] == full_report["accuracy"]
    assert [h["total"] for h in state.history] == [h["total"] for h in full_state.history]


def test_scratch_training_learns_real_digits(targets_and_data):
    _, _, data = targets_and_data
    from candle_hw.training.loop import TeacherTargets
    model, state, report = _train("scratch", data, TeacherTargets(None, None), None, epochs=20)
    assert state.history[-1]["total"] < state.history[0]["total"]
    assert report["accuracy"] > 40.0, report["accuracy"]  # chance is 10 %
    assert set(report) >= {"head", "medium", "tail", "many_shot", "medium_shot", "few_shot", "per_class"}


def test_compiled_forward_trains_like_eager(targets_and_data):
    """torch.compile changes only float op order: after one Alg. 1 epoch the compiled run's losses stay within
    float noise of eager's, and its weights were updated (the compiled graph is the one being trained)."""
    targets, _, data = targets_and_data
    runs = {}
    for compiled in (False, True):
        torch.manual_seed(0)
        model = build_model("mlp_digits")
        before = [p.detach().clone() for p in model.parameters()]
        cfg = DistillConfig(epochs=1, batch=64, compile=compiled)
        state, _ = train_student(model, "candle", data, targets["multi"], cfg, seed=0)
        moved = sum(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
        runs[compiled] = (state.history[0], moved)
    eager, compiled = runs[False][0], runs[True][0]
    assert runs[True][1] == runs[False][1] > 0
    for key in ("kl", "fs"):
        assert abs(eager[key] - compiled[key]) < 1e-3 * max(1.0, abs(eager[key])), (key, eager, compiled)


def test_deployable_student_is_the_same_network(tmp_path):
    """student.pt keeps only the signs of binary weights: the same logits, and 0 maps to +1 as in the quantizer."""
    from candle_hw.models import load_checkpoint, randomize_bn, sample_input, save_checkpoint
    from candle_hw.training.pipeline import deployable_state_dict
    torch.manual_seed(0)
    model = randomize_bn(build_model("cnv_small"), 3).eval()
    with torch.no_grad():
        first = model.encoder[1].layer.weight
        first[0, 0, 0, 0] = 0.0  # an exact zero latent weight quantizes to +1
        first[0, 0, 0, 1] = -1e-30
    state = deployable_state_dict(model)
    w = state["encoder.1.layer.weight"]
    assert set(torch.unique(w).tolist()) == {-1.0, 1.0}
    assert w[0, 0, 0, 0] == 1.0 and w[0, 0, 0, 1] == -1.0
    save_checkpoint(model, tmp_path / "full.pt")
    torch.save({"arch": model.arch, "state_dict": state}, tmp_path / "deploy.pt")
    x = sample_input(model, 16, 1)
    with torch.no_grad():
        a = load_checkpoint(tmp_path / "full.pt")(x)
        b = load_checkpoint(tmp_path / "deploy.pt")(x)
    assert torch.equal(a, b)
    # ... and the very same QONNX file: export already writes the quantized (signed) weights.
    from candle_hw.compile.export import export_qonnx_model
    export_qonnx_model(load_checkpoint(tmp_path / "full.pt"), tmp_path / "full.onnx")
    export_qonnx_model(load_checkpoint(tmp_path / "deploy.pt"), tmp_path / "deploy.onnx")
    assert (tmp_path / "full.onnx").read_bytes() == (tmp_path / "deploy.onnx").read_bytes()


def test_student_profile_runs_on_cpu(digits_lt):
    """The planning profile (GPU in practice) on CPU and tiny data: one entry per student, per-epoch cost derived
    from the measured step and the LT set's step count."""
    from candle_hw.training.profile import profile_students
    out = profile_students("digits", 10, ["mlp_digits"], batch=32, steps=2, compile_modes=[False], device="cpu")
    assert out["device"] == "cpu" and out["steps_per_epoch"] == -(-len(digits_lt.train.labels) // 32)
    ms = out["alg1_cached_ms"]["mlp_digits"]
    assert ms > 0 and out["epoch_s"]["mlp_digits"] == ms * out["steps_per_epoch"] / 1000
