"""Shared fixtures: real digits-LT data and a small deterministic stand-in teacher (tests only)."""
from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)


class TinyTeacherNet(torch.nn.Module):
    """An EfficientNet-shaped stand-in (extract_features -> (N, 24, h, w)); keeps CPU tests in seconds."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(123)
        self.conv = torch.nn.Conv2d(3, 24, 3, stride=2, padding=1)
        self._bn1 = torch.nn.BatchNorm2d(24)
        self._blocks = torch.nn.ModuleList([torch.nn.Conv2d(24, 24, 1)])
        self._conv_head = torch.nn.Conv2d(24, 24, 1)
        with torch.no_grad():  # identity-like 1x1 layers keep the stem's spatial features informative
            for layer in (self._blocks[0], self._conv_head):
                layer.weight.copy_(torch.eye(24)[:, :, None, None] + 0.05 * torch.randn(24, 24, 1, 1))
            self.conv.weight.mul_(4.0)

    def extract_features(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv(x))
        for b in self._blocks:
            x = torch.relu(b(x))
        return torch.relu(self._bn1(self._conv_head(x)))


@pytest.fixture(scope="session")
def tiny_teacher():
    from candle_hw.training.teachers import TeacherEncoder
    return TeacherEncoder(TinyTeacherNet().eval().requires_grad_(False), "tiny")


@pytest.fixture(scope="session")
def digits_lt():
    from candle_hw.training.data import load_lt_dataset
    return load_lt_dataset("digits", rho=10, seed=0)


@pytest.fixture
def refused_in_one_line(capsys):
    """check(methods, sets, msg, out): the training CLI on the digits config, given `--set` for each of sets,
    exits 2 with one stderr line holding msg and writes nothing under out."""
    from candle_hw.training.cli import main

    def check(methods: str, sets: list[str], msg: str, out) -> None:
        argv = ["--config", "configs/digits_lt10.yaml", "--methods", methods, "--out", str(out)]
        assert main(argv + [a for s in sets for a in ("--set", s)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and msg in err, err
        assert not out.exists()
    return check
