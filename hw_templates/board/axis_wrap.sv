// axis_wrap: the stitched network `top` as an AXI-Stream IP for a Xilinx AXI DMA (Pynq-Z1 block design,
// hw_templates/vivado/pynq_bd.tcl.j2; the host side is candle_hw/runtime/pynq.py).
//
// The DMA moves power-of-two byte widths, so each network word travels zero-extended in a DMA_IN_W / DMA_OUT_W
// bit beat (sim/packing.py pack_dma is the host's definition of that layout). The DMA's write channel ends a
// transfer on TLAST: `frames` (from an AXI GPIO, written by the driver before each batch) says after how many
// output frames (OUT_WORDS beats each) TLAST is raised. Timing: combinational pass-through, the network's own.
module axis_wrap #(
    parameter int S_W = 8,
    parameter int M_W = 8,
    parameter int DMA_IN_W = 8,
    parameter int DMA_OUT_W = 8,
    parameter int OUT_WORDS = 1
) (
    input  logic                 ap_clk,
    input  logic                 ap_rst_n,
    input  logic [31:0]          frames,
    /* verilator lint_off UNUSEDSIGNAL */  // the beat's padding above S_W (zero, from the host's pack_dma)
    input  logic [DMA_IN_W-1:0]  s_axis_tdata,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic                 s_axis_tvalid,
    output logic                 s_axis_tready,
    output logic [DMA_OUT_W-1:0] m_axis_tdata,
    output logic                 m_axis_tvalid,
    input  logic                 m_axis_tready,
    output logic                 m_axis_tlast
);
    localparam int WW = $clog2(OUT_WORDS + 1);
    logic [M_W-1:0] m_tdata;
    logic [WW-1:0] word_i;
    logic [31:0] frame_i;
    logic fire, last_word;

    top u_top (
        .clk(ap_clk), .rst_n(ap_rst_n),
        .s_tdata(s_axis_tdata[S_W-1:0]), .s_tvalid(s_axis_tvalid), .s_tready(s_axis_tready),
        .m_tdata(m_tdata), .m_tvalid(m_axis_tvalid), .m_tready(m_axis_tready));

    assign m_axis_tdata = DMA_OUT_W'(m_tdata);
    assign fire = m_axis_tvalid && m_axis_tready;
    assign last_word = word_i == WW'(OUT_WORDS - 1);
    assign m_axis_tlast = last_word && (frame_i + 1 >= frames);

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            word_i <= '0;
            frame_i <= '0;
        end else if (fire) begin
            word_i <= last_word ? '0 : word_i + 1'b1;
            if (last_word) frame_i <= m_axis_tlast ? '0 : frame_i + 1;
        end
    end
endmodule
