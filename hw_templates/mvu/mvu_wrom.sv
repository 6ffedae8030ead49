// Weight ROM in LUTs for the "distributed" and "logic" weight styles: data = mem[addr registered], i.e. a
// registered read with the same one-cycle timing as the block-RAM style.
// Kept as its own module through synthesis (keep_hierarchy): inside the MVU the address register is the step
// counter, and Yosys would otherwise merge the counter's next-state logic (enable, wrap, reset) into the ROM
// address, making every ROM bit a function of 8+ inputs (measured ~3.4 LUT6 per 64-deep bit instead of one).
(* keep_hierarchy *)
module mvu_wrom #(
    parameter int W = 8,
    parameter int DEPTH = 2,
    parameter int WORDS = 1,
    parameter int AW = 1,
    parameter FILE = "",
    parameter int LOGIC = 1
) (
    input  logic          clk,
    input  logic [AW-1:0] addr,
    output logic [W-1:0]  data
);
    logic [AW-1:0] addr_q;
    always_ff @(posedge clk) addr_q <= addr;
    if (LOGIC != 0) begin : g_logic
        (* rom_style = "logic", ram_style = "logic" *) logic [W-1:0] mem[DEPTH];
        initial $readmemh(FILE, mem, 0, WORDS - 1);
        assign data = mem[addr_q];
    end else begin : g_dist
        // Yosys 0.70 has no LUT-RAM mapping for a memory without a write port; a read-only LUT RAM is a LUT
        // ROM (same LUT6 count), so Yosys builds it as logic while other tools get the distributed style.
`ifdef YOSYS
        (* rom_style = "logic", ram_style = "logic" *) logic [W-1:0] mem[DEPTH];
`else
        (* rom_style = "distributed", ram_style = "distributed" *) logic [W-1:0] mem[DEPTH];
`endif
        initial $readmemh(FILE, mem, 0, WORDS - 1);
        assign data = mem[addr_q];
    end
endmodule
