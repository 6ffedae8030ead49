// The LUT RAM of fifo.sv's "distributed" style, a module of its own that synthesis keeps: inside fifo, Yosys
// would move the read pointer's register into the read port and then rebuild it, with its enable and reset, as
// a second copy of the pointer and a LUT per bit in front of the LUT RAM's asynchronous read.
(* keep_hierarchy *)
module fifo_lutram #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 2,
    parameter int AW = 1
) (
    input  logic             clk,
    input  logic             we,
    input  logic [AW-1:0]    wa,
    input  logic [WIDTH-1:0] wd,
    input  logic [AW-1:0]    ra,
    output logic [WIDTH-1:0] rd
);
    (* ram_style = "distributed" *) logic [WIDTH-1:0] mem[DEPTH];
    assign rd = mem[ra];
    always_ff @(posedge clk) if (we) mem[wa] <= wd;
endmodule
