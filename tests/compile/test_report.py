"""Reports: FINN-named estimate files, report.json with predicted vs measured sections, report.html rendered by
real headless Chromium with the plots visible, and the `candle-hw report` command."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from candle_hw.cli import main
from candle_hw.compile.passes.fifo_sizing import SizeFIFOs
from candle_hw.compile.report import write_estimate_reports, write_report
from fixtures.reference_graphs import tfc_graph


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    b = tmp_path_factory.mktemp("build")
    g = SizeFIFOs()(tfc_graph())
    g.save(b)
    write_estimate_reports(g, b, "xc7z020", 100.0)
    return b


def test_estimate_files_use_finn_names(build: Path) -> None:
    perf = json.loads((build / "reports" / "estimate_network_performance.json").read_text())
    assert set(perf) == {"critical_path_cycles", "max_cycles", "max_cycles_node_name", "estimated_throughput_fps",
                         "estimated_latency_ns"}
    assert perf["max_cycles"] == 64 and perf["estimated_throughput_fps"] == 1_562_500
    res = json.loads((build / "reports" / "estimate_layer_resources.json").read_text())
    assert set(res["total"]) == {"LUT", "FF", "BRAM_18K", "URAM", "DSP"}
    assert res["total"]["LUT"] == sum(v["LUT"] for k, v in res.items() if k != "total")


def test_report_json_predicted_vs_measured(build: Path, tmp_path: Path) -> None:
    b = tmp_path / "b"
    shutil.copytree(build, b)
    (b / "reports" / "rtlsim_performance.json").write_text(json.dumps(
        {"N": 5, "interval_cycles": 64.0, "latency_cycles": 206}))
    r = write_report(b)
    cs = r["cycle_simulation"]
    assert cs["interval_cycles"] == 64 and cs["measured"]["interval_cycles"] == 64.0
    assert cs["error"]["interval"] == 0.0
    assert cs["error"]["latency"] == (cs["latency_cycles"] - 206) / 206
    assert r["measured_resources"] is None  # no synth.json in this build
    on_disk = json.loads((b / "reports" / "report.json").read_text())
    assert on_disk["estimate_network_performance"]["max_cycles_node_name"] == "fc0"


def test_cli_report(build: Path, tmp_path: Path, capsys) -> None:
    b = tmp_path / "b"
    shutil.copytree(build, b)
    assert main(["report", str(b)]) == 0
    assert "interval 64" in capsys.readouterr().out
    assert (b / "reports" / "report.html").stat().st_size > 10_000
    assert main(["report", str(tmp_path / "missing")]) == 2


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium not installed (Debian package `chromium`)")
def test_html_renders_in_chromium(build: Path, tmp_path: Path) -> None:
    import matplotlib.image as mpimg

    b = tmp_path / "b"
    shutil.copytree(build, b)
    write_report(b)
    shot = tmp_path / "shot.png"
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,2400",
           (b / "reports" / "report.html").as_uri()]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    img = mpimg.imread(shot)[..., :3]
    non_white = np.mean(np.any(img < 0.95, axis=-1))
    assert non_white > 0.03
    # matplotlib's first bar colour (#1f77b4) and the bottleneck red (#d62728): the embedded plots decoded
    blue = np.all(np.abs(img - np.array([0x1F, 0x77, 0xB4]) / 255) < 0.03, axis=-1).sum()
    red = np.all(np.abs(img - np.array([0xD6, 0x27, 0x28]) / 255) < 0.03, axis=-1).sum()
    assert blue > 2000 and red > 200


def test_report_labels_finn_rows(build: Path, tmp_path: Path) -> None:
    """FINN's build writes its estimate report before inserting width converters and FIFOs: their FINN rows are
    labelled as missing from FINN's own report, which (TFC at FINN's test folding) totals the four MVAUs (anchors.md
    E1: 8.1k LUT, 29 BRAM_18K) plus LabelSelect's 0; the HTML shows the labels."""
    from candle_hw.compile.estimate import finn_dwc_luts, finn_fifo

    b = tmp_path / "b"
    shutil.copytree(build, b)
    r = write_report(b)
    src, finn = r["finn_estimate_source"], r["finn_estimate_layer_resources"]
    glue = {"dwc_fc0", "fifo_dwc_fc0", "fifo_fc1", "dwc_fc3"}
    assert {n for n, s in src.items() if "not in FINN's own estimate report" in s} == glue
    assert {n for n, s in src.items() if s == "FINN's formula"} == {"fc0", "fc1", "fc2", "fc3"}
    assert src["topk"].startswith("0 as in FINN") and finn["topk"]["LUT"] == 0
    own = r["finn_estimate_total_in_finn_report"]
    assert own["BRAM_18K"] == 29 and round(own["LUT"] / 100) == 81
    # FINN's formulas for the glue: fc0's PE 16 -> fc1's SIMD 8 (1-bit), fc3's PE 10 -> 1 (7-bit), fifo_dwc_fc0 and
    # fifo_fc1 Q_srl (8 bits wide each)
    glue_lut = finn_dwc_luts(16, 8) + finn_dwc_luts(70, 7) + sum(
        finn_fifo(r["fifo_depths"][f], 8)["LUT"] for f in ("fifo_dwc_fc0", "fifo_fc1"))
    assert finn["total"]["LUT"] - own["LUT"] == glue_lut
    page = (b / "reports" / "report.html").read_text()
    assert "total in FINN&#x27;s own report" in page and page.count("not in FINN&#x27;s own estimate report") == 4
