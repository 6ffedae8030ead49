"""Bad input: one clear line naming the node and the value, exit code 2, nothing left on disk."""
import json

import numpy as np
import onnx
from onnx import helper, numpy_helper

from candle_hw.cli import main


def _compile(capsys, model, tmp_path, *extra):
    out = tmp_path / "build"
    rc = main(["compile", str(model), "-o", str(out), "--no-rtl", "-q", *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".build")] == []
    return rc, err


def _edit_tfc(tfc_path, tmp_path, edit):
    m = onnx.load(str(tfc_path))
    edit(m)
    p = tmp_path / "edited.onnx"
    onnx.save(m, str(p))
    return p


def test_corrupt_bytes(capsys, tmp_path, tfc_path):
    p = tmp_path / "corrupt.onnx"
    p.write_bytes(tfc_path.read_bytes()[:5000])
    rc, err = _compile(capsys, p, tmp_path)
    assert rc == 2 and len(err) == 1
    assert "corrupt.onnx: not a valid ONNX model" in err[0]


def test_missing_file(capsys, tmp_path):
    rc, err = _compile(capsys, tmp_path / "nope.onnx", tmp_path)
    assert rc == 2 and err == [f"error: {tmp_path / 'nope.onnx'}: no such file"]


def test_dynamic_input_shape(capsys, tmp_path, tfc_path):
    def edit(m):
        d = m.graph.input[0].type.tensor_type.shape.dim[2]
        d.ClearField("dim_value")
        d.dim_param = "height"

    rc, err = _compile(capsys, _edit_tfc(tfc_path, tmp_path, edit), tmp_path)
    assert rc == 2 and len(err) == 1
    assert "input 0: shape [1, 1, 'height', 28] is missing or dynamic" in err[0]


def test_non_integer_weights(capsys, tmp_path, tfc_path):
    def edit(m):
        # the scale of the second layer's weight quantizer ((out, in) before its Transpose), per input: every
        # output channel mixes ±0.3 and ±1, not integers times one scale (±0.5 and ±1 would be 2-bit weights)
        for init in m.graph.initializer:
            if init.name == "47":
                rows = np.where(np.arange(64) % 2, 1.0, 0.3).astype(np.float32).reshape(1, 64)
                init.CopyFrom(numpy_helper.from_array(rows, "47"))
        for vi in [v for v in m.graph.value_info if v.name == "47"] + [i for i in m.graph.input if i.name == "47"]:
            vi.type.tensor_type.shape.Clear()
            for d in (1, 64):
                vi.type.tensor_type.shape.dim.add().dim_value = d

    rc, err = _compile(capsys, _edit_tfc(tfc_path, tmp_path, edit), tmp_path)
    assert rc == 2 and len(err) == 1
    assert "MatMul" in err[0] and "output channel 0 has weights [-1, -0.3, 0.3, 1], not q * s with q an integer of " \
        "at most 4 bits and one positive scale s per output channel" in err[0], err


def test_unsupported_op(capsys, tmp_path):
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 8])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])
    w = numpy_helper.from_array(np.where(np.arange(32).reshape(8, 4) % 3, 1.0, -1.0).astype(np.float32), "w")
    s = numpy_helper.from_array(np.array(1.0, dtype=np.float32), "s")
    nodes = [
        helper.make_node("BipolarQuant", ["x", "s"], ["xq"], domain="qonnx.custom_op.general", name="act_in"),
        helper.make_node("MatMul", ["xq", "w"], ["z"], name="fc_a"),
        helper.make_node("Sigmoid", ["z"], ["y"], name="squash"),
    ]
    g = helper.make_graph(nodes, "g", [x], [y], initializer=[w, s])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("qonnx.custom_op.general", 1)])
    p = tmp_path / "sigmoid.onnx"
    onnx.save(m, str(p))
    rc, err = _compile(capsys, p, tmp_path)
    assert rc == 2 and len(err) == 1
    assert err == ["error: squash: unsupported op type 'Sigmoid' after the last layer"]


def test_folding_that_does_not_divide(capsys, tmp_path, tfc_path):
    f = tmp_path / "fold.json"
    f.write_text(json.dumps([{"pe": 16, "simd": 49}, {"pe": 8, "simd": 8}, {"pe": 8, "simd": 7}, {"pe": 10, "simd": 8}]))
    rc, err = _compile(capsys, tfc_path, tmp_path, "--folding", str(f))
    assert rc == 2 and err == ["error: fc2: simd=7 does not divide mw=64"]


def test_folding_by_unknown_name(capsys, tmp_path, tfc_path):
    f = tmp_path / "fold.json"
    f.write_text(json.dumps({"fc9": {"pe": 2, "simd": 2}}))
    rc, err = _compile(capsys, tfc_path, tmp_path, "--folding", str(f))
    assert rc == 2 and len(err) == 1 and "no matrix-vector unit named 'fc9'" in err[0]


def test_existing_build_survives_a_failed_compile(capsys, tmp_path, tfc_path):
    out = tmp_path / "build"
    assert main(["compile", str(tfc_path), "-o", str(out), "--no-rtl", "-q"]) == 0
    before = (out / "dataflow.json").read_text()
    f = tmp_path / "fold.json"
    f.write_text(json.dumps([{"pe": 3, "simd": 1}] * 4))
    assert main(["compile", str(tfc_path), "-o", str(out), "--no-rtl", "-q", "--folding", str(f)]) == 2
    assert "fc0: pe=3 does not divide mh=64" in capsys.readouterr().err
    assert (out / "dataflow.json").read_text() == before


def test_dangling_node_input(capsys, tmp_path, tfc_path):
    def edit(m):  # the second node reads a tensor that no node computes
        m.graph.node[1].input[0] = "ghost"

    rc, err = _compile(capsys, _edit_tfc(tfc_path, tmp_path, edit), tmp_path)
    assert rc == 2 and len(err) == 1
    assert err[0].endswith("(Gather): input 'ghost' is computed by no node and is neither a graph input nor an "
                           "initializer"), err


def test_model_path_is_a_folder(capsys, tmp_path):
    (tmp_path / "model.onnx").mkdir()
    rc, err = _compile(capsys, tmp_path / "model.onnx", tmp_path)
    assert rc == 2 and err == [f"error: {tmp_path / 'model.onnx'}: is a folder, not an ONNX model file"]


def test_folding_file_unreadable(capsys, tmp_path, tfc_path):
    (tmp_path / "broken.json").write_text('[{"pe": 3')
    (tmp_path / "dir.json").mkdir()
    for name, what in (("broken.json", "not valid JSON (Expecting ',' delimiter at line 1)"),
                       ("missing.json", "no such file"), ("dir.json", "is a folder, not a JSON file")):
        rc, err = _compile(capsys, tfc_path, tmp_path, "--folding", str(tmp_path / name))
        assert rc == 2 and err == [f"error: --folding {tmp_path / name}: {what}"], err
