"""Bitstreams for a tiny design on iCE40 UP5K and ECP5-25F, the Vivado project, and does-not-fit refusals."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from candle_hw.cli import main as cli_main
from candle_hw.compile.bitstream import constraints_text, make_bitstream
from candle_hw.devices import get_device
from candle_hw.errors import UserError
from candle_hw.sim.packing import write_memh

HERE = Path(__file__).parent
pytestmark = pytest.mark.rtl


def make_build(root: Path, design: str = "synth_design") -> Path:
    build = root / "build"
    shutil.copytree(HERE / design, build / "rtl")
    if (build / "rtl" / "rom.sv").exists():
        rng = np.random.default_rng(0)
        write_memh(build / "rtl" / "rom.mem", [int(v) for v in rng.integers(0, 1 << 18, 1024)], 18)
    return build


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    return make_build(tmp_path_factory.mktemp("bitstream"))


def test_ice40_bitstream(build):
    r = make_bitstream(build, "ice40-up5k")
    image = build / "bitstream" / "ice40-up5k.bin"
    assert r["bitstream"] == "bitstream/ice40-up5k.bin"
    assert image.stat().st_size == r["size_bytes"] == 104_090  # every UP5K image has this size
    assert r["fmax_mhz"] > 0 and r["timing_met"] == (r["fmax_mhz"] >= 24)
    util = r["utilisation"]
    assert util["ICESTORM_RAM"]["used"] == 5 and util["ICESTORM_RAM"]["available"] == 30
    assert util["SB_IO"]["used"] == 8  # clk, reset and the six wrapper pins
    # the network is kept: its 4 parity flops and 5 EBRs are in the placed design, plus the wrapper's registers
    assert r["synth"]["EBR"] == 5 and util["ICESTORM_LC"]["used"] > r["wrapper"]["S_W"] + r["wrapper"]["M_W"]
    assert (r["wrapper"]["S_W"], r["wrapper"]["M_W"]) == (24, 22)
    on_disk = json.loads((build / "reports" / "bitstream_ice40-up5k.json").read_text())
    assert on_disk["sha256"] == r["sha256"]
    assert (build / "bitstream" / "ice40-up5k.pcf").read_text() == constraints_text(get_device("ice40-up5k"), 24)
    assert r["freq_constraint_mhz"] == 24  # as nextpnr reports it applied
    assert r["runs_at_board_clock"] == (r["fmax_mhz"] >= 12)
    assert not list((build / "bitstream").glob(".work-*")), "work directory left behind"


def test_ecp5_bitstream(build, capsys):
    assert cli_main(["bitstream", str(build), "--target", "ecp5-25k", "--freq", "40"]) == 0
    out = capsys.readouterr().out
    assert "Fmax" in out and "ecp5-25k.bit" in out
    r = json.loads((build / "reports" / "bitstream_ecp5-25k.json").read_text())
    image = (build / "bitstream" / "ecp5-25k.bit").read_bytes()
    # 582,369 B of configuration frames for any LFE5U-25F image, plus the EBR initialisation of the ROM
    assert len(image) == r["size_bytes"] > 582_369
    assert image.startswith(b"\xff\x00Part: LFE5U-25F-6CABGA381\x00")
    assert bytes.fromhex("41111043") in image[:64]  # the LFE5U-25F IDCODE, checked by the chip at load
    assert r["freq_constraint_mhz"] == 40 and r["fmax_mhz"] > 0
    assert r["utilisation"]["DP16KD"]["used"] == 1
    lpf = (build / "bitstream" / "ecp5-25k.lpf").read_text()
    assert lpf == constraints_text(get_device("ecp5-25k"), 40)
    assert 'LOCATE COMP "clk" SITE "G2";' in lpf and 'FREQUENCY PORT "clk" 40 MHZ;' in lpf


def test_vivado_project_is_emitted_not_run(build, capsys):
    assert cli_main(["bitstream", str(build), "--target", "pynq-z1"]) == 0
    out = capsys.readouterr().out
    assert "NOT run" in out
    viv = build / "vivado"
    tcl = (viv / "create_project.tcl").read_text()
    assert "-part xc7z020clg400-1" in tcl and "S_W=24 M_W=22" in tcl
    for src in ("parity6.sv", "rom.sv", "top.sv", "board_wrap.sv"):
        assert src in tcl
    assert "launch_runs impl_1 -to_step write_bitstream" in tcl
    ooc = (viv / "ooc_synth.tcl").read_text()
    assert "-mode out_of_context" in ooc and "create_clock -name clk -period 10.000" in ooc and "read_mem" in ooc
    assert "-include_dirs" in ooc and "include_dirs" in tcl  # blocks may `include headers beside them
    xdc = (viv / "board.xdc").read_text()
    assert "PACKAGE_PIN H16" in xdc and "-period 8.000" in xdc
    assert (viv / "board_wrap.sv").exists()
    r = json.loads((build / "reports" / "bitstream_xc7z020.json").read_text())
    assert r["run"] is False and r["part"] == "xc7z020clg400-1"


def test_ice40_refuses_a_design_that_does_not_fit(tmp_path, capsys):
    build = make_build(tmp_path, "synth_design_dsp")  # nine 16 x 16 multipliers, eight DSPs on the UP5K
    assert cli_main(["bitstream", str(build), "--target", "ice40-up5k"]) == 2
    err = capsys.readouterr().err
    assert "does not fit ice40-up5k (synthesis statistics)" in err and "DSP 9 > 8" in err
    assert not (build / "bitstream" / "ice40-up5k.bin").exists()


def test_vivado_refuses_from_the_synthesis_report(tmp_path):
    """The Xilinx fit check reads reports/synth_<device>.json (written by `candle-hw synth`)."""
    build = make_build(tmp_path)
    (build / "reports").mkdir()
    total = {"LUT": 60_000, "FF": 1_000, "BRAM_18K": 300, "URAM": 0, "DSP": 0}
    (build / "reports" / "synth_xc7z020.json").write_text(json.dumps({"total": total}))
    with pytest.raises(UserError, match=r"does not fit xc7z020.*LUT 60,000 > 53,200; BRAM_18K 300 > 280"):
        make_bitstream(build, "pynq-z1")
    assert not (build / "vivado").exists()


def test_unknown_and_unplaceable_targets(build):
    with pytest.raises(UserError, match="known devices"):
        make_bitstream(build, "gowin-1k")


def test_nextpnr_capacity_failure_becomes_a_user_error(tmp_path):
    """nextpnr's own utilisation table (its real format) turns a failed placement into needed vs available."""
    from candle_hw.compile.bitstream import _raise_pnr_failure

    (tmp_path / "nextpnr.log").write_text(
        "Info: Device utilisation:\n"
        "Info: \t         ICESTORM_LC:    6012/   5280   113%\n"
        "Info: \t        ICESTORM_RAM:      12/     30    40%\n"
        "ERROR: Unable to place cell 'x_LC', no BELs remaining to implement cell type 'ICESTORM_LC'\n")
    (tmp_path / "out.log").write_text("")
    with pytest.raises(UserError, match=r"does not fit ice40-up5k \(nextpnr\): ICESTORM_LC 6,012 > 5,280$"):
        _raise_pnr_failure(tmp_path, get_device("ice40-up5k"), 1)
