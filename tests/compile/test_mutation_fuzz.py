"""Mutation fuzz of a real QONNX model: every mutant is refused cleanly or compiles to exactly what QONNX computes.

Seeded mutants of FINN's TFC_1W1A (weights, quantizer scales, BatchNorm parameters and attributes, deleted /
duplicated / inserted nodes, hostile names, shapes, opsets, outputs). A refusal must be a UserError and, through
the CLI, exit 2 with one stderr line and no build folder; an accepted mutant must equal qonnx's execute_onnx
(candle_hw.compile.verify) at the functional and at the cycle level.
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from candle_hw.cli import main
from candle_hw.compile.frontend import qonnx_to_dataflow
from candle_hw.compile.verify import oracle_model, qonnx_forward, random_inputs
from candle_hw.errors import UserError
from candle_hw.sim.cycle import simulate_cycle
from candle_hw.sim.functional import run_model
from candle_hw.sim.host import run_epilogue, run_prologue

WEIGHTS = ("38", "46", "54", "62")          # the ±1 weight tensors before their BipolarQuant
ACT_SCALES = ("36", "44", "52", "60")       # scales of the activation quantizers
WEIGHT_SCALES = ("39", "47", "55", "63")
BN_LAYERS = ("features.3", "features.7", "features.11")
BN_FIELDS = ("weight", "bias", "running_mean", "running_var")


def _init(m: onnx.ModelProto, name: str) -> np.ndarray:
    return numpy_helper.to_array(next(t for t in m.graph.initializer if t.name == name)).copy()


def _set_init(m: onnx.ModelProto, name: str, value: np.ndarray) -> None:
    t = next(t for t in m.graph.initializer if t.name == name)
    t.CopyFrom(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))


def _node(m: onnx.ModelProto, op: str, rng) -> onnx.NodeProto:
    nodes = [n for n in m.graph.node if n.op_type == op]
    return nodes[rng.integers(len(nodes))]


def _rename_tensor(m: onnx.ModelProto, old: str, new: str) -> None:
    g = m.graph
    for n in g.node:
        n.input[:] = [new if t == old else t for t in n.input]
        n.output[:] = [new if t == old else t for t in n.output]
    for vi in (*g.input, *g.output, *g.value_info, *g.initializer):
        if vi.name == old:
            vi.name = new


# ---- mutations: each edits the model in place with its own seeded generator --------------------------------
def flip_weights(m, rng, k):
    w = _init(m, name := WEIGHTS[rng.integers(4)])
    idx = rng.integers(0, w.size, size=max(1, w.size // 10))
    w.flat[idx] *= -1
    _set_init(m, name, w)


def scale_weights(m, rng, k):
    w = _init(m, name := WEIGHTS[rng.integers(4)])
    w.flat[rng.integers(0, w.size, size=5)] = rng.choice([0.0, 3.5, -7.0, np.nan, np.inf])
    _set_init(m, name, w)


def act_scale(m, rng, k):
    _set_init(m, ACT_SCALES[rng.integers(4)], np.float32([2.0, 0.5, 0.25, 3.0, -1.0, 0.0, np.nan][k % 7]))


def weight_scale(m, rng, k):
    _set_init(m, WEIGHT_SCALES[rng.integers(4)], np.float32([2.0, 0.5, -1.0, 0.0][k % 4]))


def bn_params(m, rng, k):
    name = f"{BN_LAYERS[rng.integers(3)]}.{BN_FIELDS[rng.integers(4)]}"
    v = _init(m, name)
    kind = rng.integers(4)
    if kind == 0:
        v = v * rng.normal(1.0, 2.0, v.shape)  # includes sign changes (thresholds flip direction)
    elif kind == 1:
        v = v + rng.normal(0.0, 20.0, v.shape)
    elif kind == 2:
        v[rng.integers(v.size)] = rng.choice([0.0, -1.0, np.nan, np.inf, 1e30])
    else:
        v = np.zeros_like(v)
    _set_init(m, name, v.astype(np.float32))


def bn_epsilon(m, rng, k):
    bn = _node(m, "BatchNormalization", rng)
    for a in bn.attribute:
        if a.name == "epsilon":
            a.f = [0.0, -1.0, 1e3, 1e-30][k % 4]


def delete_node(m, rng, k):
    del m.graph.node[int(rng.integers(len(m.graph.node) - 1))]


def duplicate_node(m, rng, k):
    i = int(rng.integers(len(m.graph.node)))
    m.graph.node.insert(i + 1, m.graph.node[i])


def insert_node(m, rng, k):
    """A new node on the output of a matrix product: neutral (Identity, Mul 1) or not (Neg, Relu, Mul 2)."""
    mm = _node(m, "MatMul", rng)
    op = ["Identity", "Neg", "Relu", "Mul", "Add"][k % 5]
    old = mm.output[0]
    new = f"{old}_pre_{op}"
    mm.output[0] = new
    inputs = [new]
    if op in ("Mul", "Add"):
        c = f"{new}_const"
        m.graph.initializer.append(numpy_helper.from_array(np.float32(rng.choice([1.0, 2.0, -3.0, 0.5])), c))
        inputs.append(c)
    m.graph.node.insert(list(m.graph.node).index(mm) + 1, helper.make_node(op, inputs, [old], name=f"inserted_{op}"))


HOSTILE = ["Ünïcödé_名前_🙂", "a/b/../../etc/passwd", "..", "x" * 5000, " space and\ttab ", "'quote\"", ""]


def hostile_names(m, rng, k):
    bad = HOSTILE[k % len(HOSTILE)]
    for k, n in enumerate(m.graph.node):
        n.name = f"{bad}{k}" if bad else ""
    if bad and rng.integers(2):
        tensors = [n.output[0] for n in m.graph.node]
        for k, t in enumerate(tensors):
            _rename_tensor(m, t, f"{bad}_{k}")


def input_shape(m, rng, k):
    d = m.graph.input[0].type.tensor_type.shape.dim
    dims = [[1, 1, 28, 27], [1, 784], [1, 1, 784], [2, 1, 28, 28], [1, 1, 28, 28, 1], [1, 0, 28, 28]][k % 6]
    while len(d) > len(dims):
        del d[-1]
    while len(d) < len(dims):
        d.add()
    for k, v in enumerate(dims):
        d[k].Clear()
        d[k].dim_value = v


def output_shape(m, rng, k):
    d = m.graph.output[0].type.tensor_type.shape.dim
    d[int(rng.integers(len(d)))].dim_value = int(rng.choice([3, 11, 1000]))


def opset(m, rng, k):
    m.opset_import[0].version = [1, 6, 7, 11, 13, 99][k % 6]


def outputs(m, rng, k):
    kind = k % 4
    g = m.graph
    if kind == 0:
        del g.output[0]
    elif kind == 1:
        g.output.append(helper.make_tensor_value_info("53", onnx.TensorProto.FLOAT, None))
    elif kind == 2:
        g.output[0].name = "does_not_exist"
    else:
        g.output.append(g.output[0])


MUTATIONS = {f.__name__: (f, n) for f, n in (
    (flip_weights, 2), (scale_weights, 2), (act_scale, 7), (weight_scale, 3), (bn_params, 5), (bn_epsilon, 4),
    (delete_node, 3), (duplicate_node, 2), (insert_node, 5), (hostile_names, 7), (input_shape, 6),
    (output_shape, 1), (opset, 6), (outputs, 4))}
CASES = [(name, seed) for name, (_, n) in MUTATIONS.items() for seed in range(n)]


@pytest.fixture(scope="module")
def tfc_proto(tfc_path) -> bytes:
    return tfc_path.read_bytes()


def test_enough_mutants():
    assert len(CASES) >= 40


@pytest.mark.parametrize("name,seed", CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_mutant_is_refused_or_exact(name, seed, tfc_proto, tmp_path, capsys):
    m = onnx.ModelProto.FromString(tfc_proto)
    MUTATIONS[name][0](m, np.random.default_rng(1000 * seed + len(name)), seed)
    path = tmp_path / "mutant.onnx"
    path.write_bytes(m.SerializeToString())
    try:
        graph = qonnx_to_dataflow(path)
    except UserError:
        out = tmp_path / "build"
        assert main(["compile", str(path), "-o", str(out), "--no-rtl", "-q"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and len(err[0]) < 1200, err
        assert sorted(p.name for p in tmp_path.iterdir()) == ["mutant.onnx"]
        return
    x = random_inputs(graph, 3, seed=seed)
    want = qonnx_forward(oracle_model(path), x)
    np.testing.assert_array_equal(run_model(graph, x).reshape(want.shape), want)
    frames = run_prologue(graph, x)
    cyc = simulate_cycle(graph, frames).outputs
    got = run_epilogue(graph, np.asarray(cyc).reshape(len(frames), *graph.output_stream.shape))
    np.testing.assert_array_equal(got.reshape(want.shape), want)
