"""The cycle level carries data: words move through the block models, so a block that emits its words in the
wrong order is caught and named, with the word and the cycle it leaves the block."""
from __future__ import annotations

import numpy as np
import pytest

from candle_hw.cli import main
from candle_hw.compile.ir import IRError, MatrixVectorUnit, SlidingWindow, WidthConverter
from candle_hw.compile.passes.stitch import Stitch
from candle_hw.sim import cycle_streams, functional
from fixtures.handbuilt_graphs import cnv_graph, mlp_graph, random_frames
from candle_hw.sim.cycle import simulate_cycle, simulate_schedule
from candle_hw.sim.packing import pack_stream, stream_lanes


def _swap_words(model, i: int, j: int, only: str):
    def wrong(graph, node, words, frames):
        out = model(graph, node, words, frames)
        if node.name == only:
            out = out.copy()
            out[[i, j]] = out[[j, i]]
        return out
    return wrong


def test_lanes_are_the_packing_layout() -> None:
    g = cnv_graph(seed=1)
    s = g.input_stream
    x = random_frames(g, 2, seed=0)
    lanes = stream_lanes(x, s.elem_type, s.elems_per_word)
    assert lanes.shape == (2 * s.words_per_frame, s.elems_per_word)
    assert [sum(int(v) << (j * s.elem_type.bits) for j, v in enumerate(row)) for row in lanes] == \
        pack_stream(x, s.elem_type, s.elems_per_word)


def test_values_do_not_come_from_the_functional_simulator(monkeypatch) -> None:
    g = Stitch()(cnv_graph(seed=5))
    x = random_frames(g, 3, seed=4)
    want = functional.run_dataflow(g, x)

    def forbidden(*a, **k):
        raise AssertionError("the cycle level asked the functional simulator")

    monkeypatch.setattr(functional, "run_node", forbidden)
    monkeypatch.setattr(functional, "run_dataflow", forbidden)
    res = simulate_cycle(g, x, check=False)
    np.testing.assert_array_equal(res.outputs, want)


def test_width_converter_swapping_two_words_is_named(monkeypatch) -> None:
    g = Stitch()(mlp_graph(seed=2, fold=((4, 8), (8, 2), (5, 4))))
    dwc = next(n for n in g.nodes if isinstance(n, WidthConverter))
    wpf = dwc.out_stream().words_per_frame
    x = random_frames(g, 4, seed=3)
    good = simulate_cycle(g, x)
    assert good.mismatch is None
    words = pack_stream(functional.run_dataflow(g, x, return_all=True)[g.nodes.index(dwc)],
                        dwc.elem_type, dwc.out_elems)
    i = next(k for k in range(wpf + 1, 2 * wpf - 1) if words[k] != words[k + 1])  # two different words, frame 1
    monkeypatch.setitem(cycle_streams.MODELS, WidthConverter, _swap_words(cycle_streams.dwc_words, i, i + 1, dwc.name))
    res = simulate_cycle(g, x)
    mm = res.mismatch
    assert mm is not None and mm.node == dwc.name and mm.kind == "WidthConverter"
    assert (mm.frame, mm.word) == divmod(i, wpf)
    assert (mm.expected, mm.got) == (words[i], words[i + 1])
    first = i
    sched = simulate_schedule(g, res.sim_frames)
    start = int(sched.in_times[g.nodes[0].name][0])
    assert mm.cycle == int(sched.out_times[dwc.name][first]) - start
    assert dwc.name in str(mm) and f"output word {mm.word}" in str(mm)
    # the data moved on: the wrong order reaches the output (the functional level cannot see it)
    assert not np.array_equal(res.outputs, good.outputs)


def test_sliding_window_rows_in_wrong_order_are_named(monkeypatch) -> None:
    g = Stitch()(cnv_graph(seed=5))
    swg = next(n for n in g.nodes if isinstance(n, SlidingWindow))
    row = swg.ofm_dim[1] * swg.kernel * swg.kernel * (swg.channels // swg.simd)

    def rows_swapped(graph, node, words, frames):
        out = cycle_streams.swg_words(graph, node, words, frames)
        if node.name != swg.name:
            return out
        f = out.reshape(frames, -1, row, out.shape[1]).copy()
        f[:, [0, 1]] = f[:, [1, 0]]
        return f.reshape(out.shape)

    monkeypatch.setitem(cycle_streams.MODELS, SlidingWindow, rows_swapped)
    res = simulate_cycle(g, random_frames(g, 2, seed=6))
    assert res.mismatch is not None and res.mismatch.node == swg.name
    assert res.mismatch.frame == 0 and res.mismatch.word < 2 * row
    assert res.mismatch.cycle is not None and res.mismatch.cycle > 0


def test_unstitched_graph_is_refused() -> None:
    g = mlp_graph(fold=((4, 8), (8, 2), (5, 4)))
    with pytest.raises(IRError, match="cycle simulation: fc0 -> fc1: words of 4 and 2 elements"):
        simulate_cycle(g, 2)


def test_cli_cycle_level_names_the_block(tmp_path, tfc_path, monkeypatch, capsys) -> None:
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    args = ["simulate", str(tfc_path), "--level", "cycle", "--input", str(tmp_path / "x.npy"),
            "--output", str(tmp_path / "y.npy")]
    assert main(args) == 0
    assert "every block's words equal the functional simulator's on 2 frames" in capsys.readouterr().out
    y = np.load(tmp_path / "y.npy")
    assert main([*args[:2], *args[4:6], "--output", str(tmp_path / "f.npy")]) == 0
    np.testing.assert_array_equal(y, np.load(tmp_path / "f.npy"))

    def swap_in_fc1(graph, node, words, frames):
        out = cycle_streams.mvu_words(graph, node, words, frames)
        j = int(np.flatnonzero(np.any(out != out[0], axis=1))[0])
        return _swap_words(lambda *a: out, 0, j, "fc1")(graph, node, words, frames)

    monkeypatch.setitem(cycle_streams.MODELS, MatrixVectorUnit, swap_in_fc1)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the cycle simulator's words differ from the functional simulator: fc1 ")
    assert "frame 0, output word 0 at cycle" in err
