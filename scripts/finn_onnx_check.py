"""A FINN-ONNX (or any QONNX) model compiled with ``candle-hw compile --verify`` and compared with qonnx
execute_onnx as integers (float32 bit patterns for float outputs) at the functional, cycle and RTL levels, on
given inputs and on random ones drawn over the model's input range (verify.random_inputs).

    python scripts/finn_onnx_check.py tests/data/finn/tfc_w1a1_finn_onnx.onnx \\
        --folding '[{"pe":16,"simd":49},{"pe":8,"simd":8},{"pe":8,"simd":8},{"pe":10,"simd":8}]' \\
        --input tests/data/finn/tfc_w1a1_input.npy --expected tests/data/finn/tfc_w1a1_expected_output.npy
    python scripts/finn_onnx_check.py LFCW1A1.onnx --input tests/data/finn/tfc_w1a1_input.npy --divide 255

Prints, per level, how many samples differ from qonnx; exit code 1 on any difference.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np


def differ(a: np.ndarray, b: np.ndarray) -> int:
    """Samples (rows) that differ in any element: float32 bit patterns for floats, values for integers."""
    n = len(a)
    a, b = a.reshape(n, -1), b.reshape(n, -1)
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        a, b = a.astype(np.float32).view(np.uint32), b.astype(np.float32).view(np.uint32)
    return int((a != b).any(axis=1).sum())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("--folding", default=None, help="folding JSON text or file")
    p.add_argument("--fps", default=None)
    p.add_argument("--target", default=None)
    p.add_argument("--input", default=None, help=".npy of model inputs (N, ...)")
    p.add_argument("--divide", type=float, default=None, help="divide --input by this first (e.g. 255)")
    p.add_argument("--expected", default=None, help=".npy of outputs the inputs must give (e.g. FINN's labels)")
    p.add_argument("--n", type=int, default=32, help="random inputs added")
    p.add_argument("--rtl", type=int, default=4, help="the first N inputs also through Verilator (0: none)")
    p.add_argument("--synth", action="store_true", help="also run Yosys (candle-hw synth) on the build")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)

    from candle_hw.cli import main as cli
    from candle_hw.compile.pipeline import load_graph
    from candle_hw.compile.verify import oracle_model, qonnx_forward, random_inputs

    out = Path(a.out or tempfile.mkdtemp(prefix="finn_onnx_"))
    out.mkdir(parents=True, exist_ok=True)
    build = out / "build"
    opts = []
    if a.folding:
        fold = Path(a.folding)
        if not fold.is_file():
            fold = out / "folding.json"
            fold.write_text(a.folding)
        opts += ["--folding", str(fold)]
    opts += (["--fps", str(a.fps)] if a.fps else []) + (["--target", a.target] if a.target else [])
    if cli(["compile", a.model, "-o", str(build), "--force", "--verify", "-q", *opts]) != 0:
        print("compile failed")
        return 1
    graph = load_graph(build)
    parts = []
    if a.input:
        x0 = np.load(a.input).astype(np.float32)
        parts.append(x0 / np.float32(a.divide) if a.divide else x0)
    if a.n:
        parts.append(random_inputs(graph, a.n, seed=1).astype(np.float32))
    x = np.concatenate(parts).astype(np.float32)
    ref = qonnx_forward(oracle_model(a.model), x)
    bad = 0
    if a.expected:
        exp = np.load(a.expected)
        k = len(exp)
        d = differ(ref[:k], exp)
        bad += d
        print(f"qonnx      vs expected: {d} of {k} samples differ")
    for level in ["functional", "cycle"] + (["rtl"] if a.rtl else []):
        xin = x[: a.rtl] if level == "rtl" else x
        np.save(out / f"x_{level}.npy", xin)
        if cli(["simulate", str(build), "--input", str(out / f"x_{level}.npy"), "--output",
                str(out / f"y_{level}.npy"), "--level", level, "--force"]) != 0:
            print(f"simulate --level {level} failed")
            return 1
        y = np.load(out / f"y_{level}.npy")
        d = differ(y, ref[: len(xin)])
        bad += d
        print(f"{level:10s} vs qonnx: {d} of {len(xin)} samples differ")
    if a.synth:
        cli(["synth", str(build)])
    print(f"build: {build}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
