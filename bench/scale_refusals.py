"""How often a random Brevitas model with float (non-dyadic) scales is refused by the frontend's margin check.

Builds the MLPs (8 seeds) and CNNs (4 seeds) of tests/compile/test_scales_bias.py (float input scales, mean-|w|
per-channel weight scales, float biases, random BN off exact ties) and counts those compiled (and equal to
qonnx on their inputs) and those refused because a switch lies within the dot product's rounding bound.

    python bench/scale_refusals.py
"""
import pathlib
import sys
import tempfile

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "compile"))
import test_scales_bias as t  # noqa: E402


def main() -> None:
    ok = refused = 0
    for seed in range(8):
        rng = np.random.default_rng(seed)
        feats, hid, signed, sc = [12, 40][seed % 2], [8, 24][seed // 2 % 2], bool(seed % 3), [0.37, 1.0, 2.5][seed % 3]
        x = rng.uniform(-1 if signed else 0, 1, (64, feats)).astype(np.float32)
        t.torch.manual_seed(seed)
        g = t._check_brevitas(t._mlp(feats, hid, signed, sc), x, pathlib.Path(tempfile.mkdtemp()), seed)
        ok, refused = ok + (g is not None), refused + (g is None)
    for seed in range(4):
        x = np.random.default_rng(seed).uniform(0, 1, (24, 3, 8, 8)).astype(np.float32)
        t.torch.manual_seed(seed)
        g = t._check_brevitas(t._cnn([4, 8][seed % 2], 8, 0.37), x, pathlib.Path(tempfile.mkdtemp()), seed)
        ok, refused = ok + (g is not None), refused + (g is None)
    print(f"compiled and equal to qonnx: {ok}, refused by the margin check: {refused}")


if __name__ == "__main__":
    main()
