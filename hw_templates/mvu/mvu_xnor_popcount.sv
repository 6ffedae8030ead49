// XNOR-popcount of one PE: cnt = number of lanes s < SIMD with x[s] == w[s] (the binary MAC of SIMD lanes).
//
// First level fuses the XNOR into the counting: three lanes (six inputs: 3 x bits, 3 w bits) give a 2-bit
// count whose every bit is one 6-input function (one LUT6 per bit, 2/3 LUT per lane); the two columns of these
// counts (weights 1 and 2) are registered (this cuts the path from the weight memory, whose block-RAM
// clock-to-output is slow) and summed by the bit-heap compressor mvu_heap. The output is registered.
// Latency (cycles) = heap_levels(heap_xnor3(SIMD), OW) / REG_EVERY + 2 (mvu_heap_fn.svh).
module mvu_xnor_popcount #(
    parameter int SIMD = 8,
    parameter int REG_EVERY = 3,
    localparam int OW = $clog2(SIMD + 1),
    localparam logic [511:0] HEIGHTS = heap_xnor3(SIMD),
    localparam int G = (SIMD + 2) / 3,
    localparam int G2 = SIMD / 3 + (SIMD % 3 == 2 ? 1 : 0)
) (
    input  logic            clk,
    input  logic [SIMD-1:0] x,
    input  logic [SIMD-1:0] w,
    output logic [OW-1:0]   cnt
);
`include "mvu_heap_fn.svh"

    logic [G+G2-1:0] heap, heap_q;  // column 0 (weight 1): bits [0, G); column 1 (weight 2): bits [G, G + G2)

    for (genvar g = 0; g < G; g++) begin : g_xnor3
        localparam int LO = 3 * g;
        localparam int K = (SIMD - LO) < 3 ? (SIMD - LO) : 3;
        logic [1:0] c;
        mvu_xnor3 #(.K(K)) u_x3 (.x(x[LO +: K]), .w(w[LO +: K]), .cnt(c));
        assign heap[g] = c[0];
        if (K >= 2) begin : g_c1
            assign heap[G + g] = c[1];
        end else begin : g_k1
            wire unused_c1 = c[1];  // one lane: the count is 0 or 1
        end
    end

    always_ff @(posedge clk) heap_q <= heap;
    mvu_heap #(.HEIGHTS(HEIGHTS), .OW(OW), .REG_EVERY(REG_EVERY)) u_heap (.clk(clk), .bits(heap_q), .sum(cnt));
endmodule
