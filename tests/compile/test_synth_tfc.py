"""A real build: TFC_1W1A compiled at a small folding, synthesised per block and placed on the iCE40 UP5K.

Folding (PE, SIMD) = (1, 8) for all four layers keeps the design small enough for the UP5K. The weights
(784*64 + 2*64*64 + 64*10 = 59,008 bits) must survive synthesis: that is checked through the block RAMs they
need at least (ceil(59,008 / 18,432) = 4 BRAM_18K on xc7, ceil(59,008 / 4,096) = 15 EBRs on iCE40).
"""
from __future__ import annotations

import math

import pytest

from candle_hw.compile.bitstream import make_bitstream
from candle_hw.compile.ir import MatrixVectorUnit
from candle_hw.compile.pipeline import CompileOptions, compile_model
from candle_hw.compile.synth import synthesize

pytestmark = [pytest.mark.rtl, pytest.mark.slow]
FOLDING = [{"pe": 1, "simd": 8}] * 4
WEIGHT_BITS = 784 * 64 + 2 * 64 * 64 + 64 * 10


@pytest.fixture(scope="module")
def tfc_build(tfc_path, tmp_path_factory):
    build = tmp_path_factory.mktemp("tfc") / "build"
    graph = compile_model(tfc_path, build, CompileOptions(folding=FOLDING))
    return build, graph


def test_every_block_is_reported(tfc_build):
    build, graph = tfc_build
    r = synthesize(build, "xc7z020")
    assert set(r["blocks"]) == {n.name for n in graph.nodes}
    for node in graph.nodes:
        b = r["blocks"][node.name]
        assert b["kind"] == node.kind
        if isinstance(node, MatrixVectorUnit):
            assert b["module"] == "mvu" and b["lanes"] == node.pe * node.simd == 8
            assert b["LUT_per_lane"] == round(b["LUT"] / 8, 3)
    for key in ("LUT", "FF", "BRAM_18K", "Carry"):
        assert r["total"][key] == sum(b[key] for b in r["blocks"].values()) + r["top_glue"][key]
    assert r["total"]["BRAM_18K"] >= math.ceil(WEIGHT_BITS / 18432)
    assert r["fits"]
    # compile/estimate.py's analytic numbers sit beside the measured ones, with their ratio
    fc0 = next(r["blocks"][n.name] for n in graph.nodes if isinstance(n, MatrixVectorUnit))
    assert fc0["measured_over_estimate"]["LUT"] == round(fc0["LUT"] / fc0["estimate"]["LUT"], 3)
    assert r["estimate_total"]["LUT"] == sum(b["estimate"]["LUT"] for b in r["blocks"].values())


def test_placed_on_the_up5k_with_its_weights(tfc_build):
    build, _ = tfc_build
    r = make_bitstream(build, "ice40-up5k")
    assert r["size_bytes"] == 104_090 and (build / r["bitstream"]).is_file()
    assert r["utilisation"]["ICESTORM_RAM"]["used"] >= math.ceil(WEIGHT_BITS / 4096)
    assert r["fmax_mhz"] > 0
