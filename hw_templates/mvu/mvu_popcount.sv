// Popcount of N bits as a tree of 6:3 counters (LUT6-friendly compressor, no adder chain per bit).
//
// popcount(b) for N > 6: split b into G = ceil(N/6) groups, reduce every group with a 6:3 counter (each of its
// three output bits is one 6-input function, i.e. one LUT6), and recurse on the three G-bit columns of
// counter outputs: popcount(b) = popcount(c0) + 2*popcount(c1) + 4*popcount(c2). Each level removes about half
// the bits at one LUT per removed bit, so the whole tree costs about N LUT6 plus a few small adders; a naive
// "sum of bits" costs 2-3 LUT6 per bit after synthesis. N <= 6 is a leaf (a single 6-input function per bit).
//
// Pipelining: the output of an instance with N > REG_MIN is registered, every other level is combinational;
// the three sub-trees of an instance have the same N, so they have the same latency. Latency in cycles =
// number of values m > REG_MIN in the chain m_0 = N, m_{k+1} = ceil(m_k / 6) while m_k > 6
// (mvu.sv's pop_latency() computes the same number). No reset: pure data path.
module mvu_popcount #(
    parameter int N = 8,
    parameter int REG_MIN = 36,
    localparam int OW = $clog2(N + 1)
) (
    input  logic          clk,
    input  logic [N-1:0]  bits,
    output logic [OW-1:0] cnt
);
    if (N <= 6) begin : g_leaf
        always_comb begin
            cnt = '0;
            for (int i = 0; i < N; i++) cnt = cnt + OW'(bits[i]);
        end
        // A leaf is never registered: REG_MIN >= 6 is required, and the clock is only used above leaves.
        wire unused_leaf = &{1'b0, clk};
    end else begin : g_tree
        localparam int G = (N + 5) / 6;
        localparam int SW = $clog2(G + 1);
        logic [G-1:0] c0, c1, c2;
        logic [SW-1:0] p0, p1, p2;
        logic [OW-1:0] sum;

        for (genvar g = 0; g < G; g++) begin : g_cnt
            localparam int LO = 6 * g;
            localparam int K = (N - LO) < 6 ? (N - LO) : 6;
            logic [2:0] c;
            always_comb begin
                c = 3'd0;
                for (int i = 0; i < K; i++) c = c + 3'(bits[LO + i]);
            end
            assign c0[g] = c[0];
            assign c1[g] = c[1];
            assign c2[g] = c[2];
        end

        mvu_popcount #(.N(G), .REG_MIN(REG_MIN)) u_p0 (.clk(clk), .bits(c0), .cnt(p0));
        mvu_popcount #(.N(G), .REG_MIN(REG_MIN)) u_p1 (.clk(clk), .bits(c1), .cnt(p1));
        mvu_popcount #(.N(G), .REG_MIN(REG_MIN)) u_p2 (.clk(clk), .bits(c2), .cnt(p2));

        // Every term is at most N (the total), so OW bits hold each of them and the sum.
        assign sum = OW'(p0) + OW'({p1, 1'b0}) + OW'({p2, 2'b00});

        if (N > REG_MIN) begin : g_reg
            always_ff @(posedge clk) cnt <= sum;
        end else begin : g_comb
            assign cnt = sum;
        end
    end
endmodule
