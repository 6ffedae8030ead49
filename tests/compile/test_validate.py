"""Malformed graphs are refused up front in one line (exit 2, no build), never lowered into a wrong answer."""
import numpy as np
import onnx
import pytest
from onnx import helper

from candle_hw.cli import main
from candle_hw.compile.frontend import qonnx_to_dataflow
from candle_hw.compile.validate import known_domain
from candle_hw.sim.functional import run_model


def _edited(tfc_path, tmp_path, edit, name="edited.onnx"):
    m = onnx.load(str(tfc_path))
    edit(m)
    p = tmp_path / name
    onnx.save(m, str(p))
    return p


def _refused(capsys, tmp_path, model):
    out = tmp_path / "build"
    rc = main(["compile", str(model), "-o", str(out), "--no-rtl", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".build")]
    return err[0]


def _drop_last_add(m):
    assert m.graph.node[-1].op_type == "Add"
    del m.graph.node[-1]


def _duplicate_output(m):
    m.graph.output.append(m.graph.output[0])


def _output_named_like_input(m):
    old = m.graph.output[0].name
    new = m.graph.input[0].name
    for n in m.graph.node:
        for k, o in enumerate(n.output):
            if o == old:
                n.output[k] = new
    m.graph.output[0].name = new


def _evil_domain(m):
    q = next(n for n in m.graph.node if n.op_type == "BipolarQuant")
    q.domain = "com.evil.unknown"
    m.opset_import.append(helper.make_opsetid("com.evil.unknown", 1))


def _dangling_input(m):
    m.graph.node[3].input[0] = "nowhere"


def _second_output(m):
    m.graph.output.append(helper.make_tensor_value_info(m.graph.node[-2].output[0], onnx.TensorProto.FLOAT, None))


CASES = {
    "no_producer": (_drop_last_add, "graph output '74' has no producer"),
    "duplicate_output": (_duplicate_output, "graph output '74' is listed 2 times"),
    "named_like_input": (_output_named_like_input, "graph output '0' is named like a graph input"),
    "evil_domain": (_evil_domain, "op 'BipolarQuant' in unknown domain 'com.evil.unknown'"),
    "dangling_input": (_dangling_input, "Concat_4 (Concat): input 'nowhere' is computed by no node"),
    "two_outputs": (_second_output, "expected exactly one graph output, found 2"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_graph_is_refused(case, capsys, tmp_path, tfc_path):
    edit, message = CASES[case]
    err = _refused(capsys, tmp_path, _edited(tfc_path, tmp_path, edit))
    assert message in err and "Traceback" not in err


def test_evil_domain_names_the_node(capsys, tmp_path, tfc_path):
    err = _refused(capsys, tmp_path, _edited(tfc_path, tmp_path, _evil_domain))
    assert err.startswith("error: BipolarQuant_")


def test_known_domains():
    assert all(known_domain(d) for d in ("", "ai.onnx", "qonnx.custom_op.general", "finn.custom_op.general",
                                         "onnx.brevitas", "qonnx.custom_op.channels_last"))
    assert not any(known_domain(d) for d in ("com.evil.unknown", "qonnx", "onnx.brevitasX", "ai.onnx.ml"))


@pytest.mark.parametrize("batch", ["N", None])
def test_dynamic_batch_is_fixed_to_one(batch, tmp_path, tfc_path):
    def edit(m):
        for vi in (m.graph.input[0], m.graph.output[0]):
            d = vi.type.tensor_type.shape.dim[0]
            d.Clear()
            if batch:
                d.dim_param = batch

    dyn = qonnx_to_dataflow(_edited(tfc_path, tmp_path, edit))
    ref = qonnx_to_dataflow(tfc_path)
    x = np.random.default_rng(0).random((5, 1, 28, 28), dtype=np.float32)
    assert dyn.model_input_shape == ref.model_input_shape == (1, 1, 28, 28)
    np.testing.assert_array_equal(run_model(dyn, x), run_model(ref, x))


@pytest.mark.parametrize("bits", [7.5, 0.0, 65.0, float("nan")])
def test_quant_bit_width_must_be_whole(bits, capsys, tmp_path):
    """qonnx clips a 7.5-bit input at 2**7.5 - 1: no integer datapath computes that, so it is refused."""
    from onnx import numpy_helper

    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 8])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])
    consts = {"s": 1.0, "z": 0.0, "b": bits}
    inits = [numpy_helper.from_array(np.array(v, dtype=np.float32), k) for k, v in consts.items()]
    inits.append(numpy_helper.from_array(np.ones((8, 4), np.float32), "w"))
    nodes = [helper.make_node("Quant", ["x", "s", "z", "b"], ["xq"], domain="qonnx.custom_op.general", name="inq",
                              signed=0, narrow=0, rounding_mode="ROUND"),
             helper.make_node("MatMul", ["xq", "w"], ["y"], name="fc")]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y], initializer=inits),
                          opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("qonnx.custom_op.general", 1)])
    p = tmp_path / "q.onnx"
    onnx.save(m, str(p))
    err = _refused(capsys, tmp_path, p)
    assert f"inq (Quant): bit width [{bits}] is not a whole number of bits in [1, 64]" in err
