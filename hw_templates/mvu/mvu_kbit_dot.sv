// Dot product of one PE for k-bit weights as one bit heap (no multipliers, no adder tree of products):
// sum + kb_const(...) = sum_{s < SIMD} x_s * w_s, exact, for x of IN_BITS bits (two's complement if IN_SIGNED, or +-1 if
// IN_BIPOLAR: bit 1 = +1) and w of WB bits (two's complement if WS).
//
// Each product is a sum of signed partial-product bits ("kinds", the same for every lane; mvu_heap_fn.svh
// kb_col / kb_neg): integer x: x_i & w_j with weight 2^(i+j), negative when exactly one of x_i, w_j is a sign
// bit; +-1 x: (x_0 & w_j) at 2^(j+1) and w_j at -2^j (x*w = 2*x_0*w - w), the sign bit of a signed w flipping
// both. A negative partial bit -2^c*p is written as 2^c*(~p) - 2^c, so every heap bit is non-negative and the
// -2^c of all SIMD lanes is one constant (mvu_heap_fn.svh kb_const), left out of ``sum``: the MVU adds it once
// per vector (its accumulator starts at SF * kb_const) instead of once per step. The first level fuses the partial
// products of three lanes of one kind with their count (mvu_and3: one LUT6 per count bit); the counts are
// registered and summed by the compressor mvu_heap, as in the XNOR-popcount (mvu_xnor_popcount).
// TERN = 1 (2-bit weights in {-1, 0, 1}, mvu_heap_fn.svh kt_*): the heap holds one bit n & (x_i ^ s) per lane and
// input bit instead of the partial products, and ``sum`` + kt_const(...) = sum_s x_s * w_s - sum_s o(w_s), o the
// weight-only lane term that the compiler takes out of the thresholds (compile/mvu_map.py ternary_spec). Each heap
// bit is a 3-input function (no fused first level: three lanes would need 9 inputs).
// Latency (cycles) = heap_levels(kd_heights(...), OW) / REG_EVERY + 2; the output is registered.
module mvu_kbit_dot #(
    parameter int SIMD = 8,
    parameter int IN_BITS = 2,
    parameter int IN_SIGNED = 0,
    parameter int IN_BIPOLAR = 0,
    parameter int WB = 2,
    parameter int WS = 1,
    parameter int REG_EVERY = 3,
    parameter int TERN = 0,
    localparam logic [511:0] HEIGHTS = kd_heights(SIMD, IN_BITS, WB, IN_BIPOLAR, TERN),
    localparam int OW = $clog2(kd_max(SIMD, IN_BITS, WB, IN_BIPOLAR, TERN) + 1)
) (
    input  logic                    clk,
    input  logic [SIMD*IN_BITS-1:0] x,
    input  logic [SIMD*WB-1:0]      w,
    output logic [OW-1:0]           sum
);
`include "mvu_heap_fn.svh"

    localparam int G = (SIMD + 2) / 3;
    localparam int TOTAL = heap_off(HEIGHTS, 32);
    logic [TOTAL-1:0] heap, heap_q;

    if (TERN != 0) begin : g_tern
        for (genvar k = 0; k < kt_kinds(IN_BITS, IN_BIPOLAR); k++) begin : g_kind
            localparam int C = kt_col(k, IN_BIPOLAR);
            localparam int INV = kt_neg(k, IN_BITS, IN_SIGNED, IN_BIPOLAR);
            for (genvar l = 0; l < SIMD; l++) begin : g_lane
                assign heap[heap_off(HEIGHTS, C) + l] =
                    1'(INV) ^ (w[l*WB] & (x[l*IN_BITS + k] ^ w[l*WB + 1]));
            end
        end
    end else begin : g_pp
        for (genvar k = 0; k < kb_kinds(IN_BITS, WB, IN_BIPOLAR); k++) begin : g_kind
            localparam int C = kb_col(k, WB, IN_BIPOLAR);
            localparam int INV = kb_neg(k, IN_BITS, IN_SIGNED, WB, WS, IN_BIPOLAR);
            // which bit of x (or a constant 1) and of w this kind multiplies
            localparam int XI = IN_BIPOLAR != 0 ? 0 : k / WB;
            localparam int WJ = IN_BIPOLAR != 0 ? (k < WB ? k : k - WB) : k % WB;
            localparam int ONE = IN_BIPOLAR != 0 && k >= WB ? 1 : 0;
            localparam int P0 = heap_off(HEIGHTS, C) + kb_pos(k, C, SIMD, WB, IN_BIPOLAR);
            localparam int P1 = heap_off(HEIGHTS, C + 1) + kb_pos(k, C + 1, SIMD, WB, IN_BIPOLAR);
            for (genvar g = 0; g < G; g++) begin : g_grp
                localparam int LO = 3 * g;
                localparam int K = (SIMD - LO) < 3 ? (SIMD - LO) : 3;
                logic [K-1:0] a, b;
                logic [1:0] c;
                for (genvar l = 0; l < K; l++) begin : g_lane
                    assign a[l] = ONE != 0 ? 1'b1 : x[(LO + l)*IN_BITS + XI];
                    assign b[l] = w[(LO + l)*WB + WJ];
                end
                mvu_and3 #(.K(K), .INV(INV)) u_p (.a(a), .b(b), .cnt(c));
                assign heap[P0 + g] = c[0];
                if (K >= 2) begin : g_c1
                    assign heap[P1 + g] = c[1];  // the groups of >= 2 lanes are the first ones
                end else begin : g_k1
                    wire unused_c1 = c[1];  // one lane: the count is 0 or 1
                end
            end
        end
    end

    always_ff @(posedge clk) heap_q <= heap;
    mvu_heap #(.HEIGHTS(HEIGHTS), .OW(OW), .REG_EVERY(REG_EVERY)) u_heap (.clk(clk), .bits(heap_q), .sum(sum));
    if (TERN != 0 && (WB != 2 || WS == 0)) begin : g_err_tern
        $error("mvu_kbit_dot: TERN needs signed 2-bit weights, got WB=%0d WS=%0d", WB, WS);
    end
    if (IN_BIPOLAR != 0 && IN_BITS != 1) begin : g_err
        $error("mvu_kbit_dot: IN_BIPOLAR needs IN_BITS=1, got %0d", IN_BITS);
    end
endmodule
