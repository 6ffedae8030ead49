// Bit-heap compressor: sum = sum over columns c of 2^c * (number of 1 bits in column c), exact in OW bits
// (the caller guarantees the total is below 2^OW).
//
// HEIGHTS packs the column heights (16 bits per column, see mvu_heap_fn.svh); column c's bits sit at
// bits[heap_off(c) +: heap_h(c)]. Each recursion level is one compression level of 6:3 / 5:3 / 4:3 counters and
// full adders (every counter output bit is one function of <= 6 inputs, i.e. one LUT6; a counter removes about
// one bit per LUT), so the whole tree costs about one LUT per removed bit plus one short 3-row addition,
// instead of the 2-3 LUT per bit of a naive sum or of per-column adder trees.
// Pipelining: the outputs of level LEVEL are registered when LEVEL % REG_EVERY == REG_EVERY - 1, and the final
// sum is always registered: latency = heap_levels(HEIGHTS, OW) / REG_EVERY + 1 cycles. No reset (data path).
module mvu_heap #(
    parameter logic [511:0] HEIGHTS = 512'd1,
    parameter int OW = 1,
    parameter int LEVEL = 0,
    parameter int REG_EVERY = 3,
    localparam int TOTAL = heap_off(HEIGHTS, 32)
) (
    input  logic             clk,
    input  logic [TOTAL-1:0] bits,
    output logic [OW-1:0]    sum
);
`include "mvu_heap_fn.svh"

    if (heap_maxh(HEIGHTS) <= 3) begin : g_final
        logic [OW-1:0] r0, r1, r2;
        for (genvar c = 0; c < OW; c++) begin : g_col
            localparam int H = heap_h(HEIGHTS, c);
            localparam int O = heap_off(HEIGHTS, c);
            if (H > 0) begin : g_b0
                assign r0[c] = bits[O];
            end else begin : g_z0
                assign r0[c] = 1'b0;
            end
            if (H > 1) begin : g_b1
                assign r1[c] = bits[O + 1];
            end else begin : g_z1
                assign r1[c] = 1'b0;
            end
            if (H > 2) begin : g_b2
                assign r2[c] = bits[O + 2];
            end else begin : g_z2
                assign r2[c] = 1'b0;
            end
        end
        always_ff @(posedge clk) sum <= r0 + r1 + r2;
    end else begin : g_level
        localparam logic [511:0] NEXT = heap_next(HEIGHTS, OW);
        localparam int NTOTAL = heap_off(NEXT, 32);
        logic [NTOTAL-1:0] nxt, nxt_q;

        for (genvar c = 0; c < OW; c++) begin : g_col
            localparam int H = heap_h(HEIGHTS, c);
            localparam int O = heap_off(HEIGHTS, c);
            localparam int NC = heap_ncnt(HEIGHTS, c);
            localparam int G6 = H / 6;
            localparam int PASS = heap_pass(HEIGHTS, c);
            // where this column's outputs go in the next level (order documented in heap_next)
            localparam int S0 = heap_off(NEXT, c);
            localparam int S1 = heap_off(NEXT, c + 1) + heap_ncnt(HEIGHTS, c + 1);
            localparam int S2 = heap_off(NEXT, c + 2) + heap_ncnt(HEIGHTS, c + 2) + heap_ncnt(HEIGHTS, c + 1);
            localparam int SP = S0 + NC + heap_ncnt(HEIGHTS, c - 1) + heap_n3(HEIGHTS, c - 2);

            for (genvar g = 0; g < NC; g++) begin : g_cnt
                localparam int K = g < G6 ? 6 : H % 6;
                // outputs of weight >= 2^OW are provably 0 and dropped; a 3:2 counter has no weight-4 output
                /* verilator lint_off UNUSEDSIGNAL */
                logic [2:0] cnt;
                /* verilator lint_on UNUSEDSIGNAL */
                mvu_cnt #(.K(K)) u_cnt (.in_bits(bits[O + 6*g +: K]), .cnt(cnt[$clog2(K + 1)-1:0]));
                if (K == 3) begin : g_fa
                    assign cnt[2] = 1'b0;
                end
                assign nxt[S0 + g] = cnt[0];
                if (c + 1 < OW) begin : g_o1
                    assign nxt[S1 + g] = cnt[1];
                end
                if (K >= 4 && c + 2 < OW) begin : g_o2
                    assign nxt[S2 + g] = cnt[2];
                end
            end
            for (genvar j = 0; j < PASS; j++) begin : g_pass
                assign nxt[SP + j] = bits[O + 6*G6 + j];
            end
        end

        if (LEVEL % REG_EVERY == REG_EVERY - 1) begin : g_reg
            always_ff @(posedge clk) nxt_q <= nxt;
        end else begin : g_comb
            assign nxt_q = nxt;
        end
        mvu_heap #(.HEIGHTS(NEXT), .OW(OW), .LEVEL(LEVEL + 1), .REG_EVERY(REG_EVERY)) u_next (
            .clk(clk), .bits(nxt_q), .sum(sum));
    end
endmodule
