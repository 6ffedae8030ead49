"""Per-layer threshold derivation time of the frontend on a wide integer-input layer.

Builds a QONNX model: UINT8 input Quant -> MatMul (fan-in K, C channels, ±1 weights) -> BatchNormalization ->
BipolarQuant -> MatMul (C x 10). Times ``load_model`` (qonnx cleanup) and ``qonnx_to_dataflow`` (cleanup plus
lowering) warm, best of --repeat; the difference is the lowering, dominated by the first layer's thresholds.

    python bench/thresholds.py --fan-in 3072 --channels 64
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import onnx
from onnx import helper, numpy_helper


def build(fan_in: int, channels: int, seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    f32 = np.float32
    w1 = np.where(rng.random((fan_in, channels)) < 0.5, -1, 1).astype(f32)
    w2 = np.where(rng.random((channels, 10)) < 0.5, -1, 1).astype(f32)
    spread = f32(np.sqrt(fan_in) * 255 / 2)
    inits = {
        "s": np.array(1.0, f32), "zp": np.array(0.0, f32), "bits": np.array(8.0, f32), "one": np.array(1.0, f32),
        "w1": w1, "w2": w2, "gamma": rng.normal(size=channels).astype(f32), "beta": rng.normal(size=channels).astype(f32),
        "mean": (w1.sum(0) * 127.5 + rng.normal(size=channels) * spread).astype(f32),
        "var": (rng.uniform(0.5, 2.0, size=channels) * spread**2).astype(f32),
    }
    q = "qonnx.custom_op.general"
    nodes = [
        helper.make_node("Quant", ["x", "s", "zp", "bits"], ["xq"], domain=q, signed=0, narrow=0, rounding_mode="ROUND"),
        helper.make_node("MatMul", ["xq", "w1"], ["a1"]),
        helper.make_node("BatchNormalization", ["a1", "gamma", "beta", "mean", "var"], ["b1"], epsilon=1e-4),
        helper.make_node("BipolarQuant", ["b1", "one"], ["h1"], domain=q),
        helper.make_node("MatMul", ["h1", "w2"], ["y"]),
    ]
    g = helper.make_graph(nodes, "wide", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, fan_in])],
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 10])],
                          initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(q, 1)])


def best_of(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fan-in", type=int, default=3072)
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--max-table", type=int, default=0, help="raise the old tabulation limit (code before bisection)")
    args = ap.parse_args()
    from candle_hw.compile import frontend

    if args.max_table:
        frontend.MAX_TABLE = args.max_table
    model = build(args.fan_in, args.channels)
    t_load = best_of(lambda: frontend.load_model(model), args.repeat)
    t_all = best_of(lambda: frontend.qonnx_to_dataflow(model), args.repeat)
    print(f"fan-in {args.fan_in} x {args.channels} channels, 8-bit input: load {t_load:.3f} s, "
          f"load+lower {t_all:.3f} s, lowering {t_all - t_load:.3f} s (best of {args.repeat})")


if __name__ == "__main__":
    main()
