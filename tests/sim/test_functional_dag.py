"""The functional simulator on a residual DAG (DuplicateStreams / AddStreams) against a plain numpy computation of
the same network written here from the node definitions (loops over pixels, no sim/golden.py helpers)."""
from __future__ import annotations

import numpy as np
import pytest

from candle_hw.sim import golden
from candle_hw.sim.functional import run_dataflow
from candle_hw.types import BIPOLAR, sint, uint
from fixtures.handbuilt_graphs import random_frames, residual_graph


def _conv(img: np.ndarray, w: np.ndarray, pad_value: int) -> np.ndarray:
    """(H, W, C) image, (3*3*C, M) weights in (ky, kx, c) row order -> (H, W, M) dot products, 3x3, pad 1."""
    h, wd, c = img.shape
    p = np.full((h + 2, wd + 2, c), pad_value, dtype=np.int64)
    p[1:-1, 1:-1] = img
    wk = w.reshape(3, 3, c, -1).astype(np.int64)
    out = np.zeros((h, wd, w.shape[1]), dtype=np.int64)
    for y in range(h):
        for x in range(wd):
            out[y, x] = np.einsum("abc,abcm->m", p[y:y + 3, x:x + 3], wk)
    return out


def _sign_at(acc: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.where(acc >= t[:, 0], 1, -1)


def _reference(g, frame: np.ndarray, shortcut: str) -> tuple[int, np.ndarray]:
    """(label, the requantised residual sum map (H, W, C) of ±1)."""
    prm = g.params
    a0 = _sign_at(_conv(frame, prm["conv0.weights"], 0), prm["conv0.thresholds"])        # integer conv: the dot
    k1 = prm["conv1.weights"].shape[0]
    p1 = (_conv(a0, prm["conv1.weights"], -1) + k1) // 2                                  # XNOR: agreements
    a1 = _sign_at(p1, prm["conv1.thresholds"])
    if shortcut == "conv":
        ps = (a0 @ prm["sc.weights"].astype(np.int64) + a0.shape[-1]) // 2
        short = _sign_at(ps, prm["sc.thresholds"])
    else:
        short = a0
    s = _sign_at(a1 + short, prm["thr.thresholds"])
    pooled = s.reshape(4, 2, 4, 2, -1).max(axis=(1, 3))
    v = pooled.reshape(-1)
    pc = (v @ prm["fc.weights"].astype(np.int64) + v.size) // 2
    return int(np.argmax(pc)), s


@pytest.mark.parametrize("shortcut, seed", [("identity", 0), ("conv", 1), ("identity", 2)])
def test_residual_dag_matches_numpy(shortcut, seed):
    g = residual_graph(seed, shortcut)
    x = random_frames(g, 6, seed=seed)
    got = run_dataflow(g, x)
    refs = [_reference(g, f.astype(np.int64), shortcut) for f in x]
    want = [label for label, _ in refs]
    assert got.reshape(-1).tolist() == want
    # every node's output kept and in stored order; the add holds the integer sums
    outs = dict(zip((n.name for n in g.nodes), run_dataflow(g, x, return_all=True)))
    assert np.array_equal(outs["dup"], outs["conv0"])
    a = outs["add"]
    assert set(np.unique(a).tolist()) == {-2, 0, 2}  # ±1 + ±1
    assert outs["top"].reshape(-1).tolist() == want
    assert np.array_equal(outs["thr"].reshape(len(x), 8, 8, 8), np.stack([m for _, m in refs]))


def test_element_values_and_add_streams():
    assert golden.element_values(np.array([True, False]), BIPOLAR).tolist() == [1, -1]
    assert golden.element_values(np.array([1, -1], dtype=np.int8), BIPOLAR).tolist() == [1, -1]
    assert golden.element_values(np.array([-4, 3]), sint(3)).tolist() == [-4, 3]
    with pytest.raises(ValueError):
        golden.element_values(np.array([0, 1]), BIPOLAR)
    with pytest.raises(ValueError):
        golden.element_values(np.array([4]), uint(2))
    assert golden.add_streams(np.array([1, -1, 1]), np.array([3, 0, -2])).tolist() == [4, -1, -1]
