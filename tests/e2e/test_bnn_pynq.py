"""Brevitas' own bnn_pynq example networks (built from their cfg by brevitas_examples' model factory, seeded
parameters, exported by Brevitas' export_qonnx as bnn_pynq does): compiled and bit-exact against execute_onnx at
the functional (every layer) and cycle levels, at 1w1a, 1w2a and 2w2a (2-bit weights: integer matrix units)."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from candle_hw.cli import main
from candle_hw.compile.frontend import qonnx_to_dataflow
from candle_hw.compile.ir import MatrixVectorUnit
from candle_hw.compile.verify import compare_layers, oracle_model

pytest.importorskip("brevitas_examples.bnn_pynq")

_SPEC = importlib.util.spec_from_file_location(
    "bnn_pynq_check", Path(__file__).resolve().parents[2] / "scripts" / "bnn_pynq_check.py")
bnn = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bnn)


def _export(name, tmp_path):
    path = tmp_path / f"{name}.onnx"
    assert bnn.export(lambda: bnn.build(name, seed=3), bnn.input_shape(name), path) == "dynamo"
    return path


@pytest.mark.parametrize("name", ["tfc_1w1a", "tfc_1w2a", "tfc_2w2a"])
def test_tfc_compiles_bit_exact(name, tmp_path):
    path = _export(name, tmp_path)
    r = bnn.check(path, n=6, seed=1)
    assert r == {"status": "compiled", "n": 6, "functional": 0, "cycle_vs_functional": 0}
    graph = qonnx_to_dataflow(path)
    x = np.random.default_rng(2).uniform(0.0, 1.0, size=(3, 1, 28, 28)).astype(np.float32)
    assert compare_layers(graph, oracle_model(path), x) == []
    # every weight value of the grid occurs in every layer (weights of std 0.1 once made all 2-bit weights 0)
    grid = {-1, 0, 1} if name.startswith("tfc_2w") else {-1, 1}
    assert all(set(np.unique(graph.params[f"{n.name}.weights"]).tolist()) == grid
               for n in graph.of_kind(MatrixVectorUnit))


def test_tfc_1w2a_compile_verify_cli(tmp_path, capsys):
    path = _export("tfc_1w2a", tmp_path)
    assert main(["compile", str(path), "-o", str(tmp_path / "build"), "--verify", "--no-rtl", "-q"]) == 0


@pytest.mark.parametrize("name", ["cnv_1w2a", "cnv_2w2a"])
def test_cnv_compiles_bit_exact(name, tmp_path):
    r = bnn.check(_export(name, tmp_path), n=2, seed=1)
    assert r == {"status": "compiled", "n": 2, "functional": 0, "cycle_vs_functional": 0}
