// Fused XNOR and count of up to three binary MAC lanes: cnt = number of k < K with x[k] == w[k] (K <= 3).
// Kept as its own module through synthesis (keep_hierarchy) and written as a table lookup, so each output bit
// stays one function of the 2K <= 6 inputs, i.e. one LUT6: 2/3 LUT per lane for the XNOR and the first count.
(* keep_hierarchy *)
module mvu_xnor3 #(
    parameter int K = 3
) (
    input  logic [K-1:0] x,
    input  logic [K-1:0] w,
    output logic [1:0]   cnt
);
`include "mvu_heap_fn.svh"
    localparam logic [191:0] POP6 = heap_pop6_table();
    logic [K-1:0] agree;  // 1-bit XNORs: a sized cast of x ~^ w would XNOR the zero-extended operands
    /* verilator lint_off UNUSEDSIGNAL */
    logic [2:0] c6;  // at most 3: bit 2 is always 0
    /* verilator lint_on UNUSEDSIGNAL */
    assign agree = x ~^ w;
    assign c6 = POP6[3*6'(agree) +: 3];
    assign cnt = c6[1:0];
endmodule
