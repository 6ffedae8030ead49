"""The compile and simulate commands: contracts of DESIGN §6 (outputs, folding.json, dump-after, verify)."""
import json

import numpy as np

from candle_hw.cli import main
from candle_hw.compile.ir import DataflowGraph
from candle_hw.compile.verify import oracle_model, qonnx_forward


def test_compile_writes_build_and_simulate_matches_qonnx(tmp_path, tfc_path, capsys):
    fold = tmp_path / "f.json"
    fold.write_text(json.dumps({"fc0": {"PE": 16, "SIMD": 49}, "fc3": {"pe": 5, "simd": 64}}))
    build = tmp_path / "b"
    rc = main(["compile", str(tfc_path), "-o", str(build), "--no-rtl", "--verify", "--verify-samples", "3",
               "--folding", str(fold), "--dump-after", "lower"])
    assert rc == 0
    log = capsys.readouterr().out
    assert "verify after fold: bit-exact against QONNX on 3 random inputs" in log
    assert {p.name for p in build.iterdir()} >= {"dataflow.json", "params.npz", "folding.json", "reports", "dump"}
    used = json.loads((build / "folding.json").read_text())
    assert used["fc0"]["pe"] == 16 and used["fc0"]["simd"] == 49 and used["fc3"]["pe"] == 5
    assert used["fc1"]["pe"] == 1  # not named: left unfolded
    lowered = DataflowGraph.load(build / "dump" / "lower")
    assert [n.name for n in lowered.nodes] == ["fc0", "fc1", "fc2", "fc3"]
    assert DataflowGraph.load(build).node("fc0").simd == 49

    x = np.random.default_rng(0).random((7, 1, 28, 28), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    for src in (build, tfc_path):
        assert main(["simulate", str(src), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]) == 0
        np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), qonnx_forward(oracle_model(tfc_path), x))


def test_graph_json_roundtrip(tmp_path, tfc_path):
    from candle_hw.compile.frontend import qonnx_to_dataflow

    g = qonnx_to_dataflow(tfc_path)
    g.save(tmp_path)
    assert DataflowGraph.load(tmp_path) == g


def test_simulate_rejects_wrong_input_shape(tmp_path, tfc_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 28, 28), dtype=np.float32))
    rc = main(["simulate", str(tfc_path), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")])
    assert rc == 2
    assert capsys.readouterr().err.strip() == "error: input: shape [2, 3, 28, 28] does not match the model input (N, 1, 28, 28)"
    assert not (tmp_path / "y.npy").exists()


def test_folding_sets_weight_style(tmp_path, tfc_path, capsys):
    fold = tmp_path / "f.json"
    fold.write_text(json.dumps([{"pe": 16, "simd": 49, "weight_style": "block"}, {"pe": 8, "simd": 8, "ram_style": "distributed"},
                                {"pe": 8, "simd": 8}, {"pe": 10, "simd": 8}]))
    build = tmp_path / "b"
    assert main(["compile", str(tfc_path), "-o", str(build), "--no-rtl", "-q", "--folding", str(fold)]) == 0
    used = json.loads((build / "folding.json").read_text())
    assert [used[f"fc{i}"]["weight_style"] for i in range(4)] == ["block", "distributed", "auto", "auto"]
    fold.write_text(json.dumps([{"pe": 16, "simd": 49, "weight_style": "uram"}] + [{"pe": 1, "simd": 1}] * 3))
    assert main(["compile", str(tfc_path), "-o", str(build), "--no-rtl", "-q", "--folding", str(fold)]) == 2
    assert capsys.readouterr().err.strip() == "error: fc0: weight_style='uram' is not one of auto, block, distributed, logic"
