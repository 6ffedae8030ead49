// Test design for the does-not-fit refusal: nine registered 16 x 16 multipliers need nine iCE40 DSPs
// (SB_MAC16); the UP5K has eight.
module top (
    input  logic clk, input logic rst_n,
    input  logic [31:0] s_tdata, input logic s_tvalid, output logic s_tready,
    output logic [31:0] m_tdata, output logic m_tvalid, input logic m_tready
);
    logic [31:0] p [9];
    always_ff @(posedge clk) begin
        for (int i = 0; i < 9; i++) p[i] <= s_tdata[15:0] * (s_tdata[31:16] + 16'(i));
        m_tvalid <= rst_n && s_tvalid;
    end
    always_comb begin
        m_tdata = '0;
        for (int i = 0; i < 9; i++) m_tdata = m_tdata ^ p[i];
    end
    assign s_tready = 1'b1;
endmodule
