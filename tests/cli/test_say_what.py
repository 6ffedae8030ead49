"""Fail early and say what was chosen: the fit is checked from the estimate before any tool runs; compile and
report state the folding, device, clock and the estimate they used."""
import json

import pytest

from candle_hw.cli import main
from candle_hw.compile.estimate import estimate_capacity, estimate_layer_resources
from candle_hw.compile.ir import DataflowGraph

FINN_TFC = '[{"pe":16,"simd":49},{"pe":8,"simd":8},{"pe":8,"simd":8},{"pe":10,"simd":8}]'


@pytest.fixture(scope="module")
def big_build(tmp_path_factory, tfc_path):
    d = tmp_path_factory.mktemp("big")
    (d / "f.json").write_text(FINN_TFC)
    assert main(["compile", str(tfc_path), "-o", str(d / "b"), "--no-rtl", "-q", "--folding", str(d / "f.json")]) == 0
    return d / "b"


@pytest.mark.parametrize("cmd", ["synth", "bitstream"])
def test_a_design_that_cannot_fit_is_refused_before_the_tools(cmd, big_build, capsys, monkeypatch):
    import candle_hw.compile.bitstream as bitstream
    import candle_hw.compile.synth as synth

    def tool_ran(*a, **k):
        raise AssertionError("a tool ran although the estimate does not fit")

    monkeypatch.setattr(synth, "synthesize", tool_ran)
    monkeypatch.setattr(bitstream, "make_bitstream", tool_ran)
    lut = estimate_layer_resources(DataflowGraph.load(big_build), "ice40-up5k")["total"]["LUT"]
    assert lut > estimate_capacity("ice40-up5k")["LUT"]
    assert main([cmd, str(big_build), "--target", "ice40-up5k"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: the design does not fit ice40-up5k: {lut:,} LUT estimated > 5,280 available; "
                   f"pass --force-fit to run the tools anyway"]


def test_force_fit_runs_the_tools(big_build, capsys, monkeypatch):
    import candle_hw.compile.synth as synth

    monkeypatch.setattr(synth, "synthesize", lambda *a, **k: (_ for _ in ()).throw(synth.SynthError("yosys ran")))
    assert main(["synth", str(big_build), "--target", "ice40-up5k", "--force-fit"]) == 1
    assert "yosys ran" in capsys.readouterr().err


def test_compile_says_what_it_chose(tfc_path, tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["compile", str(tfc_path), "-o", str(out), "--no-rtl"]) == 0
    log = capsys.readouterr().out
    assert ("folding: no --folding/--fps given: PE=SIMD=1 everywhere (smallest design): "
            "fc0 PE 1 SIMD 1, fc1 PE 1 SIMD 1, fc2 PE 1 SIMD 1, fc3 PE 1 SIMD 1") in log
    perf = json.loads((out / "reports" / "estimate_network_performance.json").read_text())
    res = json.loads((out / "reports" / "estimate_layer_resources.json").read_text())["total"]
    assert (f"estimate on xc7z020 (no --target: assumed) at 100 MHz: {perf['estimated_throughput_fps']:,.0f} FPS "
            f"({perf['max_cycles']:,} cycles/frame, slowest fc0), latency {perf['critical_path_cycles']:,} cycles") in log
    assert f"{res['LUT']:,} LUT, {res['BRAM_18K']} BRAM_18K" in log


def test_fps_max_says_what_it_chose_and_report_says_what_it_assumed(tfc_path, tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["compile", str(tfc_path), "-o", str(out), "--no-rtl", "--target", "ice40-up5k", "--fps", "max"]) == 0
    log = capsys.readouterr().out
    chosen = json.loads((out / "folding.json").read_text())
    units = ", ".join(f"{k} PE {v['pe']} SIMD {v['simd']}" for k, v in chosen.items() if "pe" in v and "simd" in v)
    assert f"folding: --fps max: the fastest folding whose estimate fits ice40-up5k: {units}" in log
    assert "estimate on ice40-up5k at 24 MHz" in log
    assert main(["report", str(out)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == "device ice40-up5k: from `compile --target`; clock 24 MHz: the device's default clock"
