// Stand-in for a stitched network in the board wrapper's test: one registered AXI-Stream stage computing
// m = s[M_W-1:0] ^ s[S_W-1:S_W-M_W], with the contract's handshake (valid independent of ready).
// The file name differs from the module name on purpose: a file called top.sv would be taken for a build's.
/* verilator lint_off DECLFILENAME */
module top #(
    parameter int S_W = 10,
    parameter int M_W = 6
) (
    input  logic clk,
    input  logic rst_n,
    input  logic [S_W-1:0] s_tdata,
    input  logic s_tvalid,
    output logic s_tready,
    output logic [M_W-1:0] m_tdata,
    output logic m_tvalid,
    input  logic m_tready
);
    assign s_tready = !m_tvalid || m_tready;
    always_ff @(posedge clk) begin
        if (!rst_n) m_tvalid <= 1'b0;
        else if (s_tready) m_tvalid <= s_tvalid;
        if (s_tvalid && s_tready) m_tdata <= s_tdata[M_W-1:0] ^ s_tdata[S_W-1:S_W-M_W];
    end
endmodule
/* verilator lint_on DECLFILENAME */
