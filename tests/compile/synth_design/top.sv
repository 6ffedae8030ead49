// Test design for tests/compile/test_synth.py: resource counts that can be reasoned about (see the test).
module top (
    input  logic clk, input logic rst_n,
    input  logic [23:0] s_tdata, input logic s_tvalid, output logic s_tready,
    output logic [21:0] m_tdata, output logic m_tvalid, input logic m_tready
);
    logic [3:0] p;
    logic [17:0] r;
    parity6 #(.N(4)) par (.clk(clk), .a(s_tdata), .q(p));
    rom #(.DEPTH(1024), .WIDTH(18), .MEMF("rom.mem")) mem (.clk(clk), .addr(s_tdata[9:0]), .q(r));
    assign s_tready = 1'b1;
    assign m_tdata = {r, p};
    always_ff @(posedge clk) m_tvalid <= rst_n && s_tvalid;
endmodule
