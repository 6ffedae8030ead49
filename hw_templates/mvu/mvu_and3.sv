// Fused partial products and count of up to three k-bit MAC lanes: cnt = number of k < K with
// (a[k] & b[k]) ^ INV = 1 (K <= 3), one bit of x times one bit of w per lane. INV = 1 counts the complemented
// product of a negative-weight partial product (its -2^c is a constant the caller adds). Kept as its own
// module through synthesis (keep_hierarchy), like mvu_xnor3: each output bit is one function of the 2K <= 6
// inputs, i.e. one LUT6, so the products cost nothing beyond the first counting level.
(* keep_hierarchy *)
module mvu_and3 #(
    parameter int K = 3,
    parameter int INV = 0
) (
    input  logic [K-1:0] a,
    input  logic [K-1:0] b,
    output logic [1:0]   cnt
);
`include "mvu_heap_fn.svh"
    localparam logic [191:0] POP6 = heap_pop6_table();
    logic [K-1:0] p;
    /* verilator lint_off UNUSEDSIGNAL */
    logic [2:0] c6;  // at most 3: bit 2 is always 0
    /* verilator lint_on UNUSEDSIGNAL */
    assign p = INV != 0 ? ~(a & b) : (a & b);
    assign c6 = POP6[3*6'(p) +: 3];
    assign cnt = c6[1:0];
endmodule
