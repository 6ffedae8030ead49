"""Where onnxruntime adds a bias: once after the dot product (fl(S + b)) or inside a blocked sum.

Runs Gemm (±1 inputs and weights, float bias) for several reduction lengths K and Conv with bias, and counts
outputs that differ from fl32(S + b), S the exact integer dot product (what compile/bias.py assumes where it
calls a bias exact).

    python bench/ort_bias_order.py
"""
import numpy as np
import onnxruntime as ort
from onnx import helper, numpy_helper


def run(node, inits, x, yshape):
    g = helper.make_graph([node], "t", [helper.make_tensor_value_info("x", 1, list(x.shape))],
                          [helper.make_tensor_value_info("y", 1, yshape)],
                          initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    return ort.InferenceSession(m.SerializeToString()).run(None, {"x": x})[0]


def main() -> None:
    rng = np.random.default_rng(0)
    for k in (64, 128, 256, 300, 1024, 4096):
        n, m = 2000, 32
        x = rng.choice([-1.0, 1.0], (n, k)).astype(np.float32)
        w = rng.choice([-1.0, 1.0], (m, k)).astype(np.float32)
        b = (rng.normal(size=m) * 3).astype(np.float32)
        y = run(helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1), {"w": w, "b": b}, x, [n, m])
        ref = (x.astype(np.float64) @ w.T.astype(np.float64)).astype(np.float32) + b
        print(f"Gemm K={k:5d}: {int((ref != y).sum()):6d} of {y.size} outputs differ from fl(S + b)")
    for c in (8, 64):
        n, h, m = 50, 10, 16
        x = rng.choice([-1.0, 1.0], (n, c, h, h)).astype(np.float32)
        w = rng.choice([-1.0, 1.0], (m, c, 3, 3)).astype(np.float32)
        b = (rng.normal(size=m) * 3).astype(np.float32)
        y = run(helper.make_node("Conv", ["x", "w", "b"], ["y"]), {"w": w, "b": b}, x, [n, m, h - 2, h - 2])
        y0 = run(helper.make_node("Conv", ["x", "w"], ["y"]), {"w": w}, x, [n, m, h - 2, h - 2])
        print(f"Conv K={9 * c:5d}: {int(((y0 + b[None, :, None, None]) != y).sum()):6d} of {y.size} outputs differ from fl(S + b)")


if __name__ == "__main__":
    main()
