"""Checkpoint round trip and `candle-hw export` (success and bad-checkpoint errors)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from candle_hw.cli import main
from candle_hw.errors import UserError
from candle_hw.models import build_model, load_checkpoint, randomize_bn, sample_input, save_checkpoint


@pytest.fixture
def trained(tmp_path: Path) -> tuple[torch.nn.Module, Path]:
    torch.manual_seed(1)
    model = randomize_bn(build_model("cnv_small"), 1).eval()
    path = save_checkpoint(model, tmp_path / "ckpt.pt", epoch=3, metrics={"acc": np.float64(0.5)},
                           history=np.arange(4))
    return model, path


def test_checkpoint_round_trip(trained) -> None:
    model, path = trained
    loaded = load_checkpoint(path)
    assert not loaded.training and loaded.arch == model.arch
    x = sample_input(model, 4, 0)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_export_cli(trained, tmp_path: Path, capsys, qonnx_run) -> None:
    model, path = trained
    out = tmp_path / "out" / "model.onnx"
    assert main(["export", str(path), "-o", str(out)]) == 0
    assert "model.onnx" in capsys.readouterr().out
    x = sample_input(model, 1, 5)
    with torch.no_grad():
        np.testing.assert_array_equal(qonnx_run(out, x.numpy()), model(x).numpy())
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.onnx"]


def test_export_cli_default_output(trained) -> None:
    _, path = trained
    assert main(["export", str(path)]) == 0
    assert path.with_suffix(".onnx").is_file()


def _bad_checkpoints(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x80\x04not a checkpoint at all")
    no_keys = tmp_path / "no_keys.pt"
    torch.save({"model": 1}, no_keys)
    bad_arch = tmp_path / "bad_arch.pt"
    torch.save({"arch": {"family": "transformer"}, "state_dict": {}}, bad_arch)
    mismatch = tmp_path / "mismatch.pt"
    torch.save({"arch": build_model("tfc").arch, "state_dict": build_model("mlp_digits").state_dict()}, mismatch)
    return {"missing": (tmp_path / "nope.pt", "no such file"),
            "corrupt": (corrupt, "not a readable torch checkpoint"),
            "no_keys": (no_keys, "expected a dict with keys 'arch' and 'state_dict'"),
            "bad_arch": (bad_arch, "bad arch"),
            "mismatch": (mismatch, "state_dict does not fit arch")}


@pytest.mark.parametrize("case", ["missing", "corrupt", "no_keys", "bad_arch", "mismatch"])
def test_bad_checkpoint(case: str, tmp_path: Path, capsys) -> None:
    path, message = _bad_checkpoints(tmp_path)[case]
    with pytest.raises(UserError, match=message):
        load_checkpoint(path)
    assert main(["export", str(path), "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and str(path) in err
    assert not (tmp_path / "m.onnx").exists()
