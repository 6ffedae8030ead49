"""The one writer of nextpnr pin constraints (compile/board.py pin_constraints), as device builds
(compile/bitstream.py constraints_text) and board shells (board_constraints) use it: every port on its pin from
the device and board tables, the clock at the requested frequency, ECP5's I/O standard and the reset pull."""
from __future__ import annotations

from candle_hw.compile.bitstream import constraints_text
from candle_hw.compile.board import board_constraints, get_board
from candle_hw.devices import get_device


def test_icebreaker_shell_pcf():
    text = board_constraints(get_board("icebreaker"), "pcf", 12.0).splitlines()
    assert text[0].startswith("# iCEBreaker v1.0 (iCE40UP5K-SG48): pins from litex-hub/litex-boards")
    assert text[1:] == ["set_io clk 35", "set_io rst_in 10", "set_io uart_rx 6", "set_io uart_tx 9",
                        "set_frequency clk 12"]


def test_ulx3s_shell_lpf_pulls_up_the_reset():
    text = board_constraints(get_board("ulx3s"), "lpf", 25.0).splitlines()
    assert text[1:5] == ['LOCATE COMP "clk" SITE "G2";', 'IOBUF PORT "clk" IO_TYPE=LVCMOS33;',
                         'LOCATE COMP "rst_in" SITE "D6";', 'IOBUF PORT "rst_in" IO_TYPE=LVCMOS33 PULLMODE=UP;']
    assert text[-1] == 'FREQUENCY PORT "clk" 25 MHZ;' and 'LOCATE COMP "uart_tx" SITE "L4";' in text


def test_device_constraints_place_every_wrapper_pin():
    d = get_device("ice40-up5k")
    lines = constraints_text(d, 24.5).splitlines()
    assert lines[0] == f"# {d.board['name']}: {d.board.get('pin_notes', '')}" and lines[1].startswith("# timing target 24.5 MHz")
    assert lines[2:] == [f"set_io clk {d.board['clock_pin']}", f"set_io rst_in {d.board['reset_pin']}",
                         *[f"set_io {p} {pin}" for p, pin in d.board["pins"].items()], "set_frequency clk 24.5"]
    e = get_device("ecp5-25k")
    lpf = constraints_text(e, 40).splitlines()
    assert lpf[-1] == 'FREQUENCY PORT "clk" 40 MHZ;'
    assert sum(line.startswith("LOCATE COMP") for line in lpf) == 2 + len(e.board["pins"])
