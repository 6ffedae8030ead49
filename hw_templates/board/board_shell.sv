// board_shell: the top level of a board bitstream: reset synchroniser, uart_shell and the stitched network `top`.
//
// Pins: clk (the board oscillator; the whole design runs on it, so CLKS_PER_BIT = f_clk / baud is exact for
// the boards' 1 Mbaud), rst_in (a push button; RST_ACTIVE_LOW: a low level resets), uart_rx (from the FTDI's
// TXD), uart_tx (to the FTDI's RXD). Parameters other than RST_ACTIVE_LOW go to uart_shell; candle-hw sets them
// per build (compile/board.py) and BUILD_HASH identifies the build (candle_hw/runtime/protocol.py).
module board_shell #(
    parameter int S_W = 1,
    parameter int M_W = 8,
    parameter int IN_WORDS = 1,
    parameter int OUT_WORDS = 1,
    parameter int CLKS_PER_BIT = 12,
    parameter logic [31:0] BUILD_HASH = 32'h0,
    parameter int IN_AW = 9,
    parameter int OUT_AW = 9,
    parameter int TIMEOUT = 65535,
    parameter bit RST_ACTIVE_LOW = 1'b1
) (
    input  logic clk,
    input  logic rst_in,
    input  logic uart_rx,
    output logic uart_tx
);
    logic [1:0] rst_sync = 2'b00;  // power-up value: the design starts in reset on an FPGA
    logic rst_n;
    always_ff @(posedge clk) rst_sync <= {rst_sync[0], RST_ACTIVE_LOW ? rst_in : ~rst_in};
    assign rst_n = rst_sync[1];

    logic [S_W-1:0] s_tdata;
    logic [M_W-1:0] m_tdata;
    logic s_tvalid, s_tready, m_tvalid, m_tready;

    uart_shell #(
        .S_W(S_W), .M_W(M_W), .IN_WORDS(IN_WORDS), .OUT_WORDS(OUT_WORDS), .CLKS_PER_BIT(CLKS_PER_BIT),
        .BUILD_HASH(BUILD_HASH), .IN_AW(IN_AW), .OUT_AW(OUT_AW), .TIMEOUT(TIMEOUT)
    ) u_shell (
        .clk, .rst_n, .uart_rx, .uart_tx, .s_tdata, .s_tvalid, .s_tready, .m_tdata, .m_tvalid, .m_tready);

    top u_top (
        .clk, .rst_n, .s_tdata, .s_tvalid, .s_tready, .m_tdata, .m_tvalid, .m_tready);
endmodule
