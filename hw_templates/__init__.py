"""The RTL block library (package data: one folder per block, read with importlib.resources) and the facts
about its blocks that several layers need: the emitter and the resource estimates (compile/), the cycle
models and the Verilator harness (sim/). Each is defined here once, next to the blocks it describes."""
from __future__ import annotations

import math

# fifo.sv, RAM_STYLE "auto": distributed (LUT) RAM up to 64 words, block RAM (and a 3-cycle read path) above
FIFO_BLOCK_MIN_DEPTH = 65
# fifo.sv moves one word per cycle from DEPTH 2 on; at DEPTH 1 only every other cycle
FIFO_MIN_DEPTH = 2

# Blocks that instantiate another block's module (most queue their output in hw_templates/fifo; the
# non-overlapping pools share hw_templates/window_pool's window scan and add only their reduction).
BLOCK_DEPS: dict[str, tuple[str, ...]] = {
    "window_pool": ("fifo",), "maxpool": ("window_pool",), "acc_pool": ("window_pool",), "global_acc_pool": ("fifo",),
    "swg": ("fifo",), "thresholding": ("mvu",)}


def fifo_uses_block_ram(depth: int) -> bool:
    return depth >= FIFO_BLOCK_MIN_DEPTH


def dwc_widens_whole(in_elems: int, out_elems: int) -> bool:
    """dwc.sv's g_up datapath: OUT a whole multiple of IN, input words shifted into the output word."""
    return out_elems > in_elems and out_elems % in_elems == 0


def dwc_narrows_whole(in_elems: int, out_elems: int) -> bool:
    """dwc.sv's g_down datapath: IN a whole multiple of OUT, one held input word read out through a mux."""
    return in_elems > out_elems and in_elems % out_elems == 0


def dwc_buffer_elems(in_elems: int, out_elems: int) -> int:
    """dwc.sv's element buffer BUF; an input word is taken while the buffer holds at most BUF - IN elements
    (counting from dwc_room_delay cycles after an output handshake). A whole-multiple widening (g_up) holds its
    output register and the input words of the next output word but the last, 2*OUT - IN; a whole-multiple
    narrowing (g_down) the one input word, IN; any other pair (g_ring) IN + 2*OUT + min(IN, OUT) - gcd(IN, OUT)."""
    if dwc_widens_whole(in_elems, out_elems):
        return 2 * out_elems - in_elems
    if dwc_narrows_whole(in_elems, out_elems):
        return in_elems
    return in_elems + 2 * out_elems + min(in_elems, out_elems) - math.gcd(in_elems, out_elems)


def dwc_room_delay(in_elems: int, out_elems: int) -> int:
    """Cycles from an output handshake of dwc.sv to the first input handshake that may use the room it freed: 0
    for g_down (its s_tready reads m_tready), 1 for the others (their s_tready reads registers only)."""
    return 0 if dwc_narrows_whole(in_elems, out_elems) else 1


def block_folders(block: str) -> list[str]:
    """``block`` and the block folders it needs, dependencies first, without duplicates."""
    out: list[str] = []
    for dep in BLOCK_DEPS.get(block, ()):
        out += [b for b in block_folders(dep) if b not in out]
    return out + [block]
