"""PYNQ driver for the Pynq-Z1 block design (hw_templates/vivado/pynq_bd.tcl.j2): numpy in, numpy out, like
FINN's driver (``driver.execute(x)``). Runs on the board's ARM with the ``pynq`` package; nothing here imports
pynq until a driver is opened, so the packing is tested on any machine (tests/runtime/test_pynq.py).

Data path: model tensor -> host prologue -> stream words (sim/packing.py pack_stream) -> DMA beats (pack_dma:
each word zero-extended to a power-of-two byte width) -> AXI DMA MM2S -> axis_wrap/top -> S2MM (TLAST after
`frames` frames, set through the AXI GPIO) -> beats -> words -> epilogue. Not run here: no Pynq board.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from candle_hw.compile.ir import DataflowGraph
from candle_hw.sim.packing import dma_bytes, pack_dma, pack_stream, unpack_dma, unpack_stream


class PynqPacking:
    """The host-side conversion between tensors and DMA buffers for one build (no pynq needed)."""

    def __init__(self, build: str | Path) -> None:
        self.graph = DataflowGraph.load(Path(build))
        sin, sout = self.graph.input_stream, self.graph.output_stream
        self.in_shape = (sin.words_per_frame, dma_bytes(sin.width_bits))
        self.out_shape = (sout.words_per_frame, dma_bytes(sout.width_bits))

    def pack_input(self, x: np.ndarray) -> np.ndarray:
        """Model input (N, ...) -> (N * in_words, in_beat_bytes) uint8 for the MM2S buffer."""
        from candle_hw.sim.host import run_prologue

        s = self.graph.input_stream
        frames = run_prologue(self.graph, x)
        return pack_dma(pack_stream(frames, s.elem_type, s.elems_per_word), s.width_bits)

    def unpack_output(self, beats: np.ndarray, n: int) -> np.ndarray:
        """S2MM buffer of n frames -> the model's output tensor (as `candle-hw simulate` returns it)."""
        from candle_hw.sim.host import run_epilogue

        s = self.graph.output_stream
        words = unpack_dma(np.asarray(beats).reshape(-1, self.out_shape[1])[:n * s.words_per_frame], s.width_bits)
        return run_epilogue(self.graph, unpack_stream(words, s.elem_type, s.elems_per_word, (n, *s.shape)))


class PynqDriver(PynqPacking):
    """``PynqDriver(build, "candle_hw_pynq_z1.bit").execute(x)`` on the board (the .hwh beside the .bit)."""

    def __init__(self, build: str | Path, bitfile: str | Path, batch_size: int = 100) -> None:
        super().__init__(build)
        from pynq import Overlay, allocate  # the board's own package; not a candle-hw dependency

        self.overlay = Overlay(str(bitfile))
        self.dma = self.overlay.dma
        self.frames_gpio = self.overlay.frames.channel1
        self.batch_size = batch_size
        self._allocate = allocate

    def execute(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        outs = []
        for i in range(0, n, self.batch_size):
            xb = x[i:i + self.batch_size]
            beats = self.pack_input(xb)
            ibuf = self._allocate(shape=beats.shape, dtype=np.uint8)
            obuf = self._allocate(shape=(len(xb) * self.out_shape[0], self.out_shape[1]), dtype=np.uint8)
            ibuf[:] = beats
            self.frames_gpio.write(len(xb), 0xFFFFFFFF)
            self.dma.recvchannel.transfer(obuf)
            self.dma.sendchannel.transfer(ibuf)
            self.dma.sendchannel.wait()
            self.dma.recvchannel.wait()
            outs.append(self.unpack_output(np.array(obuf), len(xb)))
            ibuf.freebuffer()
            obuf.freebuffer()
        return np.concatenate(outs)
