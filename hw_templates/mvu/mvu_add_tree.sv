// Balanced adder tree over N signed W-bit terms (N a power of two): sum = sum_i terms[i], exact in W+log2(N) bits.
//
// Used by the integer-input MVU mode (x * (+-1) products). Level d (d = 0 at the root) is registered when d is
// even, so the latency is ceil(log2(N) / 2) cycles (0 for N = 1). Callers pad N up to a power of two with zero
// terms, which synthesis removes. No reset: pure data path.
module mvu_add_tree #(
    parameter int N = 4,
    parameter int W = 9,
    parameter int DEPTH = 0,
    localparam int OW = W + $clog2(N)
) (
    input  logic            clk,
    input  logic [N*W-1:0]  terms,
    output logic [OW-1:0]   sum
);
    if (N == 1) begin : g_leaf
        assign sum = terms;
        wire unused_leaf = &{1'b0, clk};
    end else begin : g_node
        localparam int H = N / 2;
        localparam int SW = W + $clog2(H);
        logic [SW-1:0] a, b;
        logic [OW-1:0] s;
        mvu_add_tree #(.N(H), .W(W), .DEPTH(DEPTH + 1)) u_a (.clk(clk), .terms(terms[H*W-1:0]), .sum(a));
        mvu_add_tree #(.N(H), .W(W), .DEPTH(DEPTH + 1)) u_b (.clk(clk), .terms(terms[N*W-1:H*W]), .sum(b));
        assign s = OW'($signed(a)) + OW'($signed(b));
        if (DEPTH % 2 == 0) begin : g_reg
            always_ff @(posedge clk) sum <= s;
        end else begin : g_comb
            assign sum = s;
        end
    end
endmodule
