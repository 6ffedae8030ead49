"""Test one RTL block against a golden function: pack random frames, run with and without stalls, compare.

Typical use in ``hw_templates/<block>/test_<block>.py``::

    d = block_design("maxpool", {"PE": 4, ...}, tmp_dir)
    x = rng.integers(-1, 2, ...)                      # element values
    check_stream_block(d, x, BIPOLAR, 4, golden.maxpool(x, 2, 2), BIPOLAR, 4)

Stream packing goes through sim/packing.py only (element j of a word at bits [j*b, (j+1)*b)).
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np

from candle_hw.hw_templates import block_folders
from candle_hw.sim.cosim.harness import RunResult, StreamDesign
from candle_hw.sim.packing import pack_stream, unpack_stream
from candle_hw.types import IntType

# (in_valid_prob, out_ready_prob): free running, a starved input, a stalled output, both.
DEFAULT_STALLS: tuple[tuple[float, float], ...] = ((1.0, 1.0), (0.5, 1.0), (1.0, 0.4), (0.7, 0.6))


def hw_template_dir() -> Path:
    """The installed hw_templates package folder (block sources and top.sv.j2)."""
    return Path(str(resources.files("candle_hw.hw_templates")))


def block_sources(block: str) -> list[Path]:
    """Every .sv file of hw_templates/<block>/ (the block and its helper modules) and of its dependencies."""
    files: list[Path] = []
    for b in block_folders(block):
        d = hw_template_dir() / b
        found = sorted(f for f in d.glob("*.sv") if not f.name.startswith("test_"))
        if not found:
            raise FileNotFoundError(f"no SystemVerilog sources in {d}")
        files += found
    return files


def block_design(block: str, params: dict, build_dir: Path, **kw) -> StreamDesign:
    """A StreamDesign for hw_templates/<block>/ with top module ``block``."""
    return StreamDesign(top=block, sources=block_sources(block), params=params, build_dir=build_dir,
                        include_dirs=[hw_template_dir() / b for b in block_folders(block)], **kw)


def check_stream_block(design: StreamDesign, in_values: np.ndarray, in_type: IntType, in_elems: int,
                       expected: np.ndarray, out_type: IntType, out_elems: int,
                       stalls: Sequence[tuple[float, float]] = DEFAULT_STALLS, seed: int = 0) -> list[RunResult]:
    """Run ``design`` on ``in_values`` under every (in_valid_prob, out_ready_prob) in ``stalls`` and assert that
    its output equals ``expected`` exactly (element values, any shape). Returns the results for timing checks."""
    words = pack_stream(in_values, in_type, in_elems)
    expected = np.asarray(expected)
    n_out = expected.size // out_elems
    results = []
    for i, (p_in, p_out) in enumerate(stalls):
        res = design.run(words, n_out, in_valid_prob=p_in, out_ready_prob=p_out, seed=seed + i)
        got = unpack_stream(res.out_words, out_type, out_elems, expected.shape)
        np.testing.assert_array_equal(got, expected, err_msg=f"{design.top}: stalls in={p_in} out={p_out}")
        if res.n_in_consumed != len(words):
            raise AssertionError(f"{design.top}: took {res.n_in_consumed} of {len(words)} input words")
        results.append(res)
    return results


# Multi-stream blocks: (in_valid_prob per input stream or one for all, out_ready_prob likewise). Free running,
# starved inputs, outputs stalled unevenly (one never, one often), both.
MULTI_STALLS: tuple[tuple[float | tuple[float, ...], float | tuple[float, ...]], ...] = (
    (1.0, 1.0), (0.5, 1.0), ("uneven", "uneven"), (0.7, 0.6))


def _uneven(n: int) -> tuple[float, ...]:
    """One probability per stream from 1.0 down to 0.3: streams that differ as much as possible."""
    return tuple(1.0 if n == 1 else round(1.0 - 0.7 * k / (n - 1), 3) for k in range(n))


def check_multi_stream_block(design: StreamDesign, inputs: Sequence[tuple[np.ndarray, IntType, int]],
                             outputs: Sequence[tuple[np.ndarray, IntType, int]],
                             stalls: Sequence[tuple] = MULTI_STALLS, seed: int = 0) -> list[RunResult]:
    """Like ``check_stream_block`` for a block with several input and/or output streams (packed ports, see
    sim/cosim/harness.py): ``inputs`` and ``outputs`` give per stream (element values, type, elements per
    word); every output stream must equal its expected values exactly under every stall pattern, each stream
    with its own random valid gaps / back-pressure ("uneven": a different probability per stream)."""
    words = [pack_stream(v, t, e) for v, t, e in inputs]
    lengths = {np.asarray(x).size // e for x, _, e in outputs}
    if len(lengths) != 1:
        raise ValueError(f"{design.top}: output streams of different lengths {sorted(lengths)}")
    n_out = lengths.pop()
    results = []
    for i, (p_in, p_out) in enumerate(stalls):
        p_in = _uneven(len(inputs)) if p_in == "uneven" else p_in
        p_out = _uneven(len(outputs)) if p_out == "uneven" else p_out
        res = design.run(words if len(inputs) > 1 else words[0], n_out, in_valid_prob=p_in, out_ready_prob=p_out,
                         seed=seed + i)
        for k, (expected, t, e) in enumerate(outputs):
            got_words, _ = res.stream_words(k)
            got = unpack_stream(got_words[:np.asarray(expected).size // e], t, e, np.asarray(expected).shape)
            np.testing.assert_array_equal(got, expected,
                                          err_msg=f"{design.top}: output {k}, stalls in={p_in} out={p_out}")
        if res.n_in_consumed != sum(len(w) for w in words):
            raise AssertionError(f"{design.top}: took {res.n_in_consumed} of {sum(len(w) for w in words)} input words")
        results.append(res)
    return results


def steady_interval(cycles: Sequence[int], per_frame: int) -> float:
    """Mean cycles between the starts of consecutive frames (handshake cycles, ``per_frame`` words each),
    skipping the first frame (pipeline fill)."""
    starts = list(cycles[::per_frame])
    if len(starts) < 3:
        raise ValueError("need at least three frames to measure a steady-state interval")
    return (starts[-1] - starts[1]) / (len(starts) - 2)
