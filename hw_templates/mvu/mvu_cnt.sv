// A K:3 (K = 4..6) or 3:2 (K = 3) counter: cnt = number of ones in in_bits. Kept as its own module through
// synthesis (keep_hierarchy) so that technology mapping cannot merge or restructure it, and written as a table
// lookup so that it is not inferred as an adder chain: each output bit is one K-input function, i.e. one LUT6,
// which is what makes the compressor tree cost about one LUT per removed bit.
(* keep_hierarchy *)
module mvu_cnt #(
    parameter int K = 6,
    localparam int CW = $clog2(K + 1)
) (
    input  logic [K-1:0]  in_bits,
    output logic [CW-1:0] cnt
);
`include "mvu_heap_fn.svh"
    localparam logic [191:0] POP6 = heap_pop6_table();
    logic [2:0] c6;
    assign c6 = POP6[3*6'(in_bits) +: 3];
    assign cnt = CW'(c6);
    if (CW < 3) begin : g_narrow
        wire unused_hi = c6[2];  // K = 3: at most 3, bit 2 is always 0
    end
endmodule
