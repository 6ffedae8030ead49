"""Functional simulator speed, measured side by side in one run and printed as ratios.

For TFC_1W1A (the QONNX zoo model), CNV-W1A1 (zoo topology, random BatchNorm) and the multi-bit tfc_1w2a and
cnv_1w2a of Brevitas' bnn_pynq examples (built and exported as scripts/bnn_pynq_check.py does, seeded weights):
- qonnx execute_onnx one sample at a time (how FINN-style flows verify) and batched (the model's batch dimension
  rewritten to the batch);
- the Brevitas/PyTorch forward of the same topology (zoo preset, random BatchNorm statistics);
- a roofline: the same matrix products as bare kernels on this machine, operands of each layer's input type, the
  faster (summed over layers) of a numpy bit-packed kernel (±1 inputs: uint64 XOR + bitwise_count; a-bit integer
  inputs: bit-serial, a AND + bitwise_count planes) and an exact float32 BLAS product.
Every side is timed alike: one warm-up call, then --repeat timed calls, median and best printed, ratios of
medians; every side runs on one thread. Outside the timed region on every side: loading and cleaning the
model, ChangeBatchSize/InferShapes, building the PyTorch model, lowering to the dataflow graph, drawing inputs.
Targets: >= 1000x one-at-a-time qonnx, faster than batched qonnx, >= 50 % of the roofline.

    OMP_NUM_THREADS=1 python bench/sim_speed.py [--tfc-batch 10000] [--cnv-batch 50] [--repeat 5] [--nets ...]
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from candle_hw.compile.frontend import qonnx_to_dataflow  # noqa: E402
from candle_hw.compile.ir import MatrixVectorUnit  # noqa: E402
from candle_hw.compile.verify import oracle_model, qonnx_forward  # noqa: E402
from candle_hw.sim.functional import run_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def timed(fn, repeat: int) -> list[float]:
    """One warm-up call, then ``repeat`` timed calls (seconds each)."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def med(ts: list[float]) -> float:
    return statistics.median(ts)


def single_threaded_onnxruntime() -> None:
    """Every onnxruntime session qonnx creates gets one intra-op and one inter-op thread, like every other side
    here (OMP_NUM_THREADS=1, torch.set_num_threads(1), single-threaded numpy): on a shared, loaded machine the
    default spinning thread pool made qonnx 2-3x slower than one thread."""
    import onnxruntime as rt

    session = rt.InferenceSession

    def one_thread(model, sess_options=None, *args, **kwargs):
        opts = sess_options or rt.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        return session(model, opts, *args, **kwargs)

    rt.InferenceSession = one_thread


def batched_oracle(path: Path, n: int):
    """The cleaned model with batch n: ChangeBatchSize, and Reshape shape constants that pin batch 1 (Brevitas
    exports flatten as Reshape(1, -1)) rewritten to n, then InferShapes. Built once, outside the timing."""
    from onnx import numpy_helper
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes

    m = oracle_model(path).transform(ChangeBatchSize(n))
    for node in m.graph.node:
        if node.op_type == "Reshape":
            shape = m.get_initializer(node.input[1])
            if shape is not None and shape.size and shape[0] == 1:
                m.set_initializer(node.input[1], np.concatenate([[n], shape[1:]]).astype(np.int64))
    return m.transform(InferShapes())


def qonnx_batched(m, x: np.ndarray) -> np.ndarray:
    from qonnx.core.onnx_exec import execute_onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return execute_onnx(m, {m.graph.input[0].name: x})[m.graph.output[0].name]


def _packed(bits: np.ndarray, words: int) -> np.ndarray:
    """(rows, n) booleans -> (rows, words) uint64, bit k of a row at bit k % 64 of word k // 64."""
    b = np.packbits(bits, axis=1, bitorder="little")
    return np.ascontiguousarray(np.pad(b, ((0, 0), (0, words * 8 - b.shape[1])))).view(np.uint64)


def _bit_kernel(m, x: np.ndarray, w: np.ndarray, rows: int):
    """The layer's product as a bit-packed kernel. ±1 inputs: XOR-popcount. a-bit integer inputs (±1 weights):
    bit-serial over the a two's-complement planes x_b, x.w = sum_b c_b (2 popcount(x_b & [w > 0]) - popcount(x_b)),
    c_b = 2^b (-2^b for a signed type's top plane): a popcounts per MAC word instead of one."""
    words = -(-m.mw // 64)
    wb = _packed(np.ascontiguousarray(w.T) > 0, words)
    if m.in_type.bipolar:
        planes = [(_packed(x > 0, words), 1, None)]
    else:
        xi = x.astype(np.int64)
        planes = []
        for b in range(m.in_type.bits):
            bit = (xi >> b) & 1
            c = -(1 << b) if m.in_type.signed and b == m.in_type.bits - 1 else 1 << b
            planes.append((_packed(bit > 0, words), c, bit.sum(axis=1, dtype=np.int64)[:, None]))
    block = max(1, (1 << 22) // max(1, m.mh * words))

    def kernel():
        out = np.empty((rows, m.mh), dtype=np.int64)
        for i in range(0, rows, block):
            if m.in_type.bipolar:
                xo = planes[0][0][i : i + block, None, :] ^ wb[None, :, :]
                out[i : i + block] = np.bitwise_count(xo).sum(axis=2, dtype=np.int64)
                continue
            acc = 0
            for xp, c, ones in planes:
                hit = np.bitwise_count(xp[i : i + block, None, :] & wb[None, :, :]).sum(axis=2, dtype=np.int64)
                acc = acc + c * (2 * hit - ones[i : i + block])
            out[i : i + block] = acc
        return out

    return kernel


def roofline(graph, batch: int, repeat: int) -> tuple[float, float]:
    """Seconds for the graph's matrix products as bare kernels on operands of each layer's input type and ±1
    weights: (bit-packed kernel, exact float32 BLAS product); the integer bit-serial kernel is checked equal to
    the BLAS product before it is timed."""
    rng = np.random.default_rng(0)
    t_bits = t_blas = 0.0
    for m in graph.nodes:
        if not isinstance(m, MatrixVectorUnit):
            continue
        rows = batch * math.prod(m.num_vectors)
        if m.in_type.bipolar:
            x = rng.choice(np.array([-1, 1], dtype=np.float32), size=(rows, m.mw))
        else:
            x = rng.integers(m.in_type.min, m.in_type.max + 1, size=(rows, m.mw)).astype(np.float32)
        w = rng.choice(np.array([-1, 1], dtype=np.float32), size=(m.mw, m.mh))
        t_blas += med(timed(lambda: x @ w, repeat))
        kernel = _bit_kernel(m, x, w, rows)
        if not m.in_type.bipolar:
            np.testing.assert_array_equal(kernel(), (x @ w).astype(np.int64))
        t_bits += med(timed(kernel, repeat))
    return t_bits, t_blas


def zoo_model(preset: str):
    """A candle-hw zoo preset with random BatchNorm statistics, in eval mode."""
    from candle_hw.models import build_model, randomize_bn

    model = build_model(preset)
    randomize_bn(model, 0)
    return model.eval()


def torch_forward_times(model, x: np.ndarray, repeat: int) -> list[float]:
    import torch

    torch.set_num_threads(1)
    xt = torch.from_numpy(x)
    with torch.no_grad():
        return timed(lambda: model(xt), repeat)


def bench_model(label: str, path: Path, x: np.ndarray, torch_model, one_at_a_time: int, repeat: int) -> None:
    n = len(x)
    graph = qonnx_to_dataflow(path)
    oracle = oracle_model(path)
    batched = batched_oracle(path, n)
    xs = x[:one_at_a_time]
    ref = qonnx_batched(batched, x)
    np.testing.assert_array_equal(ref[: len(xs)], qonnx_forward(oracle, xs))  # the batched model is the same model
    np.testing.assert_array_equal(run_model(graph, x).astype(ref.dtype).reshape(ref.shape), ref)
    sides = {
        "functional simulator": (timed(lambda: run_model(graph, x), repeat), n),
        "qonnx one at a time": (timed(lambda: qonnx_forward(oracle, xs), repeat), len(xs)),
        "qonnx batched": (timed(lambda: qonnx_batched(batched, x), repeat), n),
        "brevitas/pytorch": (torch_forward_times(torch_model, x, repeat), n),
    }
    per = {k: (med(ts) / m, min(ts) / m) for k, (ts, m) in sides.items()}
    t_bits, t_blas = roofline(graph, n, repeat)
    t_roof = min(t_bits, t_blas) / n
    sim = per["functional simulator"][0]
    mvus = [m for m in graph.nodes if isinstance(m, MatrixVectorUnit)]
    macs = sum(m.mw * m.mh * math.prod(m.num_vectors) for m in mvus)
    kinds = "/".join(sorted({"±1" if m.in_type.bipolar else f"{m.in_type.bits}-bit" for m in mvus}))
    print(f"\n== {label}: {macs:,} MAC per frame (inputs {kinds}, weights ±1), batch {n} (one at a time: {len(xs)}); "
          f"us/frame, median (best) of {repeat} after 1 warm-up ==")
    for k, (m_, b_) in per.items():
        ratio = "" if k == "functional simulator" else f"   simulator speed-up {m_ / sim:9.2f}x"
        print(f"{k:22s} {m_ * 1e6:12.2f} ({b_ * 1e6:.2f}){ratio}")
    print(f"simulator throughput   {macs / sim / 1e9:6.2f} G MAC/s")
    print(f"roofline (bare kernels) {t_roof * 1e6:11.2f}   bit-packed {t_bits / n * 1e6:.2f}, BLAS {t_blas / n * 1e6:.2f}"
          f"   simulator at {100 * t_roof / sim:5.1f} % of roofline (target >= 50 %)")
    print("targets: one-at-a-time qonnx >= 1000x, batched qonnx > 1x")


def bnn_pynq(name: str, rng, batch: int, args) -> None:
    """Brevitas' bnn_pynq example network as scripts/bnn_pynq_check.py builds and exports it; inputs in [0, 1]."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bnn_pynq_check", REPO / "scripts" / "bnn_pynq_check.py")
    bnn = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bnn)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"{name}.onnx"
        bnn.export(lambda: bnn.build(name), bnn.input_shape(name), p)
        x = rng.uniform(0.0, 1.0, size=(batch, *bnn.input_shape(name)[1:])).astype(np.float32)
        bench_model(f"bnn_pynq {name} (seeded)", p, x, bnn.build(name), min(args.one_at_a_time, 10), args.repeat)


NETS = ["tfc_w1a1", "cnv_w1a1", "tfc_1w2a", "cnv_1w2a"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tfc-batch", type=int, default=10_000)
    ap.add_argument("--cnv-batch", type=int, default=50)
    ap.add_argument("--one-at-a-time", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--nets", nargs="*", choices=NETS, default=NETS)
    args = ap.parse_args()
    single_threaded_onnxruntime()
    rng = np.random.default_rng(0)
    if "tfc_w1a1" in args.nets:
        tfc = REPO / "tests" / "data" / "TFC_1W1A.onnx"
        bench_model("TFC_1W1A", tfc, rng.random((args.tfc_batch, 1, 28, 28), dtype=np.float32), zoo_model("tfc"),
                    args.one_at_a_time, args.repeat)
    if "cnv_w1a1" in args.nets:
        import torch

        from candle_hw.compile.export import export_qonnx_model

        torch.manual_seed(0)
        model = zoo_model("cnv_w1a1")
        with tempfile.TemporaryDirectory() as d:
            p = export_qonnx_model(model, Path(d) / "cnv_w1a1.onnx")
            x = rng.integers(0, 256, size=(args.cnv_batch, 3, 32, 32)).astype(np.float32)
            bench_model("CNV-W1A1 (zoo, random BN)", p, x, zoo_model("cnv_w1a1"), min(args.one_at_a_time, 10), args.repeat)
    for name in ("tfc_1w2a", "cnv_1w2a"):
        if name in args.nets:
            bnn_pynq(name, rng, args.tfc_batch if name.startswith("tfc") else args.cnv_batch, args)


if __name__ == "__main__":
    main()
