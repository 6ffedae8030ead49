"""randomize_bn: deterministic, non-trivial, with negative gammas, constant channels and exact ties."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from candle_hw.models import build_model, randomize_bn, sample_input


def _bns(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]


def _bn_outputs(model: nn.Module, x: torch.Tensor) -> list[np.ndarray]:
    outs: list[np.ndarray] = []
    hooks = [bn.register_forward_hook(lambda _m, _i, o: outs.append(o.detach().numpy())) for bn in _bns(model)]
    with torch.no_grad():
        model.eval()(x)
    for h in hooks:
        h.remove()
    return outs


def test_deterministic_in_seed() -> None:
    def state(seed: int) -> dict:
        torch.manual_seed(0)
        return randomize_bn(build_model("cnv_small"), seed).state_dict()

    a, b, c = state(3), state(3), state(4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if k.endswith("running_mean"))


def test_statistics_are_varied() -> None:
    torch.manual_seed(0)
    model = randomize_bn(build_model("sfc"), 5)
    gammas = np.concatenate([bn.weight.detach().numpy() for bn in _bns(model)])
    assert (gammas < 0).mean() > 0.2 and (gammas > 0).mean() > 0.5 and (gammas == 0).any()
    for bn in _bns(model):
        assert torch.all(bn.running_var > 0)
        assert bn.running_mean.abs().max() > 0


def test_activations_are_not_trivial_and_ties_are_hit() -> None:
    torch.manual_seed(0)
    model = build_model("tfc")
    calib = sample_input(model, 32, 9)
    randomize_bn(model, 9, x=calib)
    outs = _bn_outputs(model, calib)
    ones = np.concatenate([(o >= 0).mean(axis=0) for o in outs])
    assert 0.3 < ones.mean() < 0.7
    assert ((ones > 0) & (ones < 1)).mean() > 0.5  # most neurons switch over the batch
    assert all((o == 0).any() for o in outs)  # exact ties in every layer


def test_training_mode_is_restored() -> None:
    model = build_model("mlp_digits").train()
    randomize_bn(model, 0)
    assert model.training
