"""`candle-hw demo` end to end (short training; the full demo adds RTL, synthesis and a bitstream)."""
import json

import pytest

from candle_hw.cli import main


@pytest.mark.slow
def test_demo_short_run_is_exact(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--epochs", "2", "--skip-hw"]) == 0
    summary = json.loads((out / "demo_summary.json").read_text())
    assert summary["mismatches_sim_vs_qonnx"] == 0 and summary["mismatches_qonnx_vs_brevitas"] == 0
    assert summary["test_images"] == 360
    assert (out / "build" / "dataflow.json").is_file() and (out / "model.onnx").is_file()
    log = capsys.readouterr().out
    assert "verify after size_fifos: bit-exact against QONNX" in log
    assert f"report: {out / 'build' / 'reports' / 'report.html'}" in log
    assert (out / "build" / "reports" / "report.html").stat().st_size > 10_000
