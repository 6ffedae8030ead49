// XNOR-popcount of one PE: cnt = number of lanes s < SIMD with x[s] == w[s] (the binary MAC of SIMD lanes).
//
// First level fuses the XNOR into the counting: three lanes (six inputs: 3 x bits, 3 w bits) give a 2-bit
// count whose every bit is one 6-input function (one LUT6 per bit, 2/3 LUT per lane); the two columns of
// these counts go through mvu_popcount (6:3 counter trees): cnt = popcount(c0) + 2*popcount(c1).
// The output is always registered. Latency (cycles) = 1 + latency of mvu_popcount #(N = ceil(SIMD/3)).
module mvu_xnor_popcount #(
    parameter int SIMD = 8,
    parameter int REG_MIN = 36,
    localparam int OW = $clog2(SIMD + 1)
) (
    input  logic            clk,
    input  logic [SIMD-1:0] x,
    input  logic [SIMD-1:0] w,
    output logic [OW-1:0]   cnt
);
    localparam int G = (SIMD + 2) / 3;
    localparam int SW = $clog2(G + 1);
    logic [G-1:0] c0, c1;
    logic [SW-1:0] p0, p1;

    for (genvar g = 0; g < G; g++) begin : g_xnor3
        localparam int LO = 3 * g;
        localparam int K = (SIMD - LO) < 3 ? (SIMD - LO) : 3;
        logic [K-1:0] agree;  // 1-bit XNORs first: a sized cast would XNOR the zero-extended operands
        logic [1:0] c;
        assign agree = x[LO +: K] ~^ w[LO +: K];
        always_comb begin
            c = 2'd0;
            for (int i = 0; i < K; i++) c = c + 2'(agree[i]);
        end
        assign c0[g] = c[0];
        assign c1[g] = c[1];
    end

    mvu_popcount #(.N(G), .REG_MIN(REG_MIN)) u_p0 (.clk(clk), .bits(c0), .cnt(p0));
    mvu_popcount #(.N(G), .REG_MIN(REG_MIN)) u_p1 (.clk(clk), .bits(c1), .cnt(p1));

    always_ff @(posedge clk) cnt <= OW'(p0) + OW'({p1, 1'b0});
endmodule
