"""Random but sensible BatchNorm statistics for testing exact export and threshold compilation.

A freshly initialised binary network has BN mean 0 / var 1, which with ±1 weights makes most neurons a plain
sign of the dot product; real trained networks are far from that. ``randomize_bn`` calibrates every BN layer,
in forward order, on random inputs of the model's value domain and then draws per channel one of:

- general (~75 %): mean and variance near the observed ones, gamma of either sign (~35 % negative), a random
  beta; the sign threshold tau = mean - beta*sigma/gamma is kept at least a small margin away from any integer,
  so that float32 rounding differences between PyTorch and ONNX Runtime BatchNorm kernels cannot flip a neuron;
- tie (~20 %): mean = an accumulator value actually observed (so attainable), beta = 0, var + eps == 1 exactly
  in float32 and gamma = ±2^k: BN(z) = gamma*(z - mean) is computed exactly by any kernel, and z == mean gives
  exactly 0, which binarises to +1 (tests the ``>=`` rule of the thresholds);
- constant (~5 %): gamma = 0 (output = sign(beta)) or beta far beyond the observed range (almost constant).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from candle_hw.models.registry import sample_input

_BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d)


def randomize_bn(model: nn.Module, seed: int, x: torch.Tensor | None = None, n_samples: int = 32) -> nn.Module:
    """Set running_mean/var, weight and bias of every BatchNorm of ``model`` (in place; returns it).

    ``x``: calibration inputs (default ``n_samples`` from ``sample_input``); tie channels only produce exact
    ties on inputs like these, so a test that wants to exercise ties should evaluate on (part of) ``x``.
    """
    rng = np.random.default_rng(int(seed))
    if x is None:
        x = sample_input(model, n_samples, seed=int(seed) + 7919)
    was_training = model.training
    model.eval()
    for bn in [m for m in model.modules() if isinstance(m, _BN_TYPES)]:
        pre = _bn_input(model, bn, x)
        params = [_draw_channel(rng, pre[c], float(bn.eps)) for c in range(pre.shape[0])]
        mean, var, gamma, beta = (torch.tensor(np.array(col, dtype=np.float32)) for col in zip(*params))
        with torch.no_grad():
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
            bn.weight.copy_(gamma)
            bn.bias.copy_(beta)
    model.train(was_training)
    return model


def _bn_input(model: nn.Module, bn: nn.Module, x: torch.Tensor) -> np.ndarray:
    """The accumulators entering ``bn`` for input ``x``, as (channels, samples) float64."""
    captured: list[torch.Tensor] = []
    handle = bn.register_forward_hook(lambda _m, inputs, _out: captured.append(inputs[0].detach()))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    t = captured[0]
    return t.transpose(0, 1).reshape(t.shape[1], -1).double().numpy()


def _draw_channel(rng: np.random.Generator, z: np.ndarray, eps: float) -> tuple[float, float, float, float]:
    kind = rng.random()
    if kind < 0.20:
        return _tie_channel(rng, z, eps)
    if kind < 0.25:
        return _constant_channel(rng, z)
    return _general_channel(rng, z, eps)


def _tie_channel(rng: np.random.Generator, z: np.ndarray, eps: float) -> tuple[float, float, float, float]:
    mean = float(rng.choice(z))
    gamma = float(rng.choice([-1.0, 1.0]) * 2.0 ** int(rng.integers(-1, 2)))
    return mean, _var_for_unit_sigma(eps), gamma, 0.0


def _constant_channel(rng: np.random.Generator, z: np.ndarray) -> tuple[float, float, float, float]:
    sign = float(rng.choice([-1.0, 1.0]))
    if rng.random() < 0.5:
        return float(z.mean()), 1.0, 0.0, sign * float(rng.uniform(0.25, 1.0))
    return float(z.mean()), max(float(z.var()), 1.0), float(rng.uniform(0.5, 1.5)), sign * 8.0


def _general_channel(rng: np.random.Generator, z: np.ndarray, eps: float) -> tuple[float, float, float, float]:
    std = max(float(z.std()), 1.0)
    mean = np.float32(z.mean() + std * rng.normal(0.0, 0.5))
    var = np.float32(std * std * rng.uniform(0.5, 2.0))
    gamma = np.float32(rng.uniform(0.5, 1.5) * (-1.0 if rng.random() < 0.35 else 1.0))
    beta = np.float32(rng.normal(0.0, 0.5))
    scale_of_values = float(np.abs(z).max()) + abs(float(mean))
    for _ in range(4):
        tau = _threshold(mean, var, gamma, beta, eps)
        margin = 1e-3 + 1e-5 * (scale_of_values + abs(tau))
        if abs(tau - round(tau)) >= margin:
            break
        # Half a step moves tau as far from the integers as it can get.
        mean = np.float32(float(mean) + 0.5)
    return float(mean), float(var), float(gamma), float(beta)


def _threshold(mean: np.float32, var: np.float32, gamma: np.float32, beta: np.float32, eps: float) -> float:
    sigma = np.sqrt(np.float64(np.float32(var) + np.float32(eps)))
    return float(mean) - float(beta) * float(sigma) / float(gamma)


def _var_for_unit_sigma(eps: float) -> float:
    """A float32 var with float32(var) + float32(eps) == 1.0 exactly, so sqrt(var + eps) == 1 in any kernel."""
    one, eps32 = np.float32(1.0), np.float32(eps)
    var = np.float32(one - eps32)
    while np.float32(var + eps32) != one:
        var = np.nextafter(var, np.float32(2.0) if np.float32(var + eps32) < one else np.float32(0.0))
    return float(var)
