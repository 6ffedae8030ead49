"""Zero padding of a ±1 feature map, exactly, with 1-bit streams: per-border-class thresholds.

Brevitas/QONNX pad a ±1 map with 0, so a padded tap contributes nothing to the dot product; 0 is not a 1-bit
value. The sliding window pads with -1 (bit 0) instead, and the matrix-vector unit computes

    z_hw = sum_valid x_k W[k, r] - sum_padded W[k, r] = z_true - corr[class, r],
    corr[class, r] = sum_{k padded in class} W[k, r],

where the padded taps depend only on the output pixel's border class (sim/golden.py border_classes). A channel
whose true activation is "+1 iff z_true >= tau_r" is therefore "+1 iff P >= T[class, r]" on the popcount
P = (z_hw + mw) / 2 with T[class, r] = ceil((tau_r - corr[class, r] + mw) / 2): exact for every integer tau_r
(z_true may have either parity here, unlike an unpadded layer), clipped to the popcount range [0, mw + 1].
"""
from __future__ import annotations

import numpy as np

from candle_hw.sim.golden import border_classes


def padded_taps(ifm_dim: tuple[int, int], kernel: int, stride: int, pad: int, channels: int) -> np.ndarray:
    """(n_classes, k*k*channels) bool: which window elements (the (ky, kx, c) order) each class pads."""
    return np.repeat(border_classes(ifm_dim, kernel, stride, pad)[1], channels, axis=1)


def border_thresholds(tau: np.ndarray, w: np.ndarray, border: tuple[int, ...]) -> np.ndarray:
    """Per-class popcount thresholds (n_classes, mh) for true-dot thresholds tau (mh,) and ±1 weights (mw, mh)."""
    h, wd, k, s, p = border
    mw = w.shape[0]
    taps = padded_taps((h, wd), k, s, p, mw // (k * k))
    corr = taps.astype(np.int64) @ np.asarray(w, dtype=np.int64)
    t = -((corr - np.asarray(tau, dtype=np.int64)[None, :] - mw) // 2)  # ceil((tau - corr + mw) / 2)
    return np.clip(t, 0, mw + 1)
