"""Plots of a run: class weight norms (paper Fig. 4/7), lambda trajectory (Fig. 6), per-class accuracy."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(plt, fig, ax, path: Path) -> Path:
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def weight_norm_plot(norms: dict[str, list[float]], class_counts: np.ndarray, path: Path) -> Path:
    """Per-class L2 norm of the last classifier layer's latent weights, classes ordered head -> tail."""
    plt = _pyplot()
    order = np.argsort(-np.asarray(class_counts), kind="stable")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, values in norms.items():
        if values:
            ax.plot(range(len(order)), np.asarray(values)[order], marker="o", label=name)
    ax.set_xticks(range(len(order)), [f"{c}\n({class_counts[c]})" for c in order], fontsize=7)
    ax.set_xlabel("class (training images), head -> tail")
    ax.set_ylabel("classifier weight norm")
    return _save(plt, fig, ax, path)


def lambda_plot(lambdas: dict[str, list[float]], steps_per_epoch: int, path: Path) -> Path:
    """lambda_phi per training step (x axis in epochs)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, values in lambdas.items():
        if values:
            x = np.arange(1, len(values) + 1) / max(1, steps_per_epoch)
            ax.plot(x, values, lw=0.8, label=name)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("epoch")
    ax.set_ylabel("lambda_phi")
    return _save(plt, fig, ax, path)


def per_class_plot(per_class: dict[str, list[float]], class_counts: np.ndarray, path: Path) -> Path:
    """Test accuracy per class for each method, classes ordered head -> tail."""
    plt = _pyplot()
    order = np.argsort(-np.asarray(class_counts), kind="stable")
    names = [n for n, v in per_class.items() if v]
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for i, name in enumerate(names):
        ax.bar(np.arange(len(order)) + i * width, np.asarray(per_class[name])[order], width, label=name)
    ax.set_xticks(np.arange(len(order)) + 0.4 - width / 2, [str(c) for c in order])
    ax.set_xlabel("class, head -> tail")
    ax.set_ylabel("test accuracy (%)")
    return _save(plt, fig, ax, path)
