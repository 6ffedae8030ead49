"""What the compiler frontend relies on in exported graphs: op order, ±1 weights, scale-1 quantizers, ±1 padding."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qonnx.core.modelwrapper import ModelWrapper

from candle_hw.compile.export import export_qonnx_model
from candle_hw.models import CNV, build_model, randomize_bn

WEIGHTED = ("MatMul", "Conv")


def _export(model, tmp_path: Path, name: str = "m") -> ModelWrapper:
    randomize_bn(model, 0)
    return ModelWrapper(str(export_qonnx_model(model, tmp_path / f"{name}.onnx")))


def _data_path_ops(w: ModelWrapper) -> list[str]:
    """Op types on the path from the graph input (weight quantizers hang off initializers, not this path)."""
    weight_quants = {n.name for n in w.graph.node
                     if n.op_type == "BipolarQuant" and w.get_initializer(n.input[0]) is not None}
    return [n.op_type for n in w.graph.node if n.name not in weight_quants]


def _scalar(w: ModelWrapper, name: str) -> float:
    value = np.asarray(w.get_initializer(name))
    assert value.size == 1, (name, value.shape)
    return float(value.reshape(-1)[0])


def _weights(w: ModelWrapper) -> list[np.ndarray]:
    out = []
    for node in w.graph.node:
        if node.op_type in WEIGHTED:
            producer = w.find_producer(node.input[1])
            assert producer is not None and producer.op_type == "BipolarQuant", node.name
            out.append(w.get_initializer(producer.input[0]))
    return out


def test_tfc_graph(tmp_path: Path) -> None:
    w = _export(build_model("tfc"), tmp_path)
    assert _data_path_ops(w) == ["Mul", "Sub", "BipolarQuant", "Flatten"] + ["MatMul", "BatchNormalization",
                                                                            "BipolarQuant"] * 3 + ["MatMul", "Mul"]
    assert w.get_tensor_shape(w.graph.input[0].name) == [1, 1, 28, 28]
    assert [x.shape for x in _weights(w)] == [(784, 64), (64, 64), (64, 64), (64, 10)]


def test_cnv_w1a1_graph(tmp_path: Path) -> None:
    w = _export(build_model("cnv_w1a1"), tmp_path)
    block = ["Conv", "BatchNormalization", "BipolarQuant"]
    fc = ["MatMul", "BatchNormalization", "BipolarQuant"]
    assert _data_path_ops(w) == (["Quant"] + block * 2 + ["MaxPool"] + block * 2 + ["MaxPool"] + block * 2
                                 + ["Flatten"] + fc * 2 + ["MatMul", "Mul"])
    assert [x.shape for x in _weights(w)] == [(64, 3, 3, 3), (64, 64, 3, 3), (128, 64, 3, 3), (128, 128, 3, 3),
                                              (256, 128, 3, 3), (256, 256, 3, 3), (256, 512), (512, 512), (512, 10)]


@pytest.mark.parametrize("preset", ["tfc", "mlp_digits", "cnv_small"])
def test_weights_and_quantizers_are_exact(preset: str, tmp_path: Path) -> None:
    w = _export(build_model(preset), tmp_path)
    for weight in _weights(w):
        assert set(np.unique(weight)) <= {-1.0, 1.0}
    bipolar = w.get_nodes_by_op_type("BipolarQuant")
    assert bipolar and all(_scalar(w, n.input[1]) == 1.0 for n in bipolar)
    quants = w.get_nodes_by_op_type("Quant")
    if build_model(preset).input_bits == 8:
        (q,) = quants
        assert q.input[0] == w.graph.input[0].name
        scale, zeropt, bits = (_scalar(w, i) for i in q.input[1:])
        attrs = {a.name: a.i for a in q.attribute if a.name in ("signed", "narrow")}
        assert (scale, zeropt, bits, attrs) == (1.0, 0.0, 8.0, {"signed": 0, "narrow": 0})
    else:
        assert quants == []


def test_zero_latent_weight_exports_as_plus_one(tmp_path: Path) -> None:
    model = build_model("mlp_digits")
    first = model.encoder[2].layer
    first.weight.data[0, :5] = 0.0
    w = _export(model, tmp_path)
    np.testing.assert_array_equal(_weights(w)[0][:5, 0], np.ones(5, dtype=np.float32))


def test_padding_is_minus_one_for_bipolar_maps(tmp_path: Path) -> None:
    w = _export(CNV(channels=[4, "M", 4, 4], fc=[], img=8, padding=1), tmp_path)
    convs = w.get_nodes_by_op_type("Conv")
    first_pads = [a.ints for a in convs[0].attribute if a.name == "pads"][0]
    assert list(first_pads) == [1, 1, 1, 1]  # integer input: ordinary zero padding (pixel value 0)
    pads = w.get_nodes_by_op_type("Pad")
    assert len(pads) == 2 and all(w.find_consumer(p.output[0]).op_type == "Conv" for p in pads)
    for pad in pads:
        assert list(w.get_initializer(pad.input[1])) == [0, 0, 1, 1, 0, 0, 1, 1]
        assert _scalar(w, pad.input[2]) == -1.0
    for conv in convs[1:]:
        assert list([a.ints for a in conv.attribute if a.name == "pads"][0]) == [0, 0, 0, 0]


def test_failed_export_leaves_nothing(tmp_path: Path) -> None:
    model = build_model("mlp_digits")
    with pytest.raises(Exception):
        export_qonnx_model(model, tmp_path / "bad.onnx", input_shape=(1, 3, 5, 5))
    assert list(tmp_path.iterdir()) == []
