// board_wrap: a narrow, registered pin interface around the stitched network `top`, for board-level proofs.
//
// Why: a network's stream ports are hundreds of bits wide, far more than a small package has pins (UP5K SG48:
// 39 IOs). This wrapper moves every stream word through six pins, so the whole design is placed and routed
// with all of its logic kept: every input bit of `top` comes from a pin and every output bit reaches a pin,
// hence synthesis cannot prune any part of the network.
//
// Pins (all synchronous to clk; every input is registered once at the pin, every output comes from a flop):
//   rst_in    reset, active level RST_ACTIVE_LOW (1: a low level resets), passed through a 2-flop synchroniser
//   rx_bit    serial input data, LSB of the word first
//   rx_shift  1: shift rx_bit into the input register (one bit per cycle)
//   rx_push   1: offer the assembled S_W-bit word to top (s_tvalid stays high until s_tready)
//   rx_busy   1: a pushed word has not been taken yet (shifting in is ignored meanwhile)
//   tx_bit    serial output data, LSB first
//   tx_valid  1 while tx_bit carries a bit of an output word (M_W consecutive cycles per word)
//
// Timing: pins -> input flops (1 cycle) -> shift register; a push reaches s_tvalid 2 cycles after the pin.
// An output word is captured when top's m_tvalid is high and the output shifter is empty (m_tready = empty),
// then leaves over M_W cycles; back-pressure into top lasts while the shifter is busy. Throughput is bound by
// the serial pins (S_W cycles per input word, M_W per output word); the wrapper exists for placement and
// timing (Fmax) proofs, not for measuring the network's II.
// Buffering: one S_W-bit input word, one M_W-bit output word.
module board_wrap #(
    parameter int S_W = 8,
    parameter int M_W = 8,
    parameter bit RST_ACTIVE_LOW = 1'b1
) (
    input  logic clk,
    input  logic rst_in,
    input  logic rx_bit,
    input  logic rx_shift,
    input  logic rx_push,
    output logic rx_busy,
    output logic tx_bit,
    output logic tx_valid
);
    localparam int CW = $clog2(M_W + 1);

    logic [1:0] rst_sync;
    logic rst_n;
    always_ff @(posedge clk) rst_sync <= {rst_sync[0], RST_ACTIVE_LOW ? rst_in : ~rst_in};
    assign rst_n = rst_sync[1];

    logic rx_bit_q, rx_shift_q, rx_push_q;
    always_ff @(posedge clk) begin
        rx_bit_q   <= rx_bit;
        rx_shift_q <= rx_shift;
        rx_push_q  <= rx_push;
    end

    logic [S_W-1:0] s_tdata;
    logic s_tvalid, s_tready;
    logic [M_W-1:0] m_tdata;
    logic m_tvalid, m_tready;

    // Input side: shift right so that after S_W shifts the first bit sent sits at bit 0.
    always_ff @(posedge clk) begin
        if (!rst_n) begin
            s_tvalid <= 1'b0;
        end else if (s_tvalid) begin
            if (s_tready) s_tvalid <= 1'b0;
        end else if (rx_push_q) begin
            s_tvalid <= 1'b1;
        end
    end

    logic [S_W-1:0] s_next;
    if (S_W == 1) begin : g_in_one
        assign s_next = rx_bit_q;
    end else begin : g_in_many
        assign s_next = {rx_bit_q, s_tdata[S_W-1:1]};
    end
    always_ff @(posedge clk) begin
        if (!s_tvalid && rx_shift_q) s_tdata <= s_next;
    end

    top u_top (
        .clk(clk), .rst_n(rst_n),
        .s_tdata(s_tdata), .s_tvalid(s_tvalid), .s_tready(s_tready),
        .m_tdata(m_tdata), .m_tvalid(m_tvalid), .m_tready(m_tready)
    );

    // Output side: capture a word when empty, then shift it out LSB first.
    logic [M_W-1:0] out_sr;
    logic [CW-1:0] out_left;
    assign m_tready = (out_left == '0);

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            out_left <= '0;
        end else if (m_tvalid && m_tready) begin
            out_left <= CW'(M_W);
        end else if (out_left != '0) begin
            out_left <= out_left - 1'b1;
        end
        if (m_tvalid && m_tready) out_sr <= m_tdata;
        else if (M_W > 1) out_sr <= out_sr >> 1;
    end

    always_ff @(posedge clk) begin
        rx_busy  <= s_tvalid;
        tx_bit   <= out_sr[0];
        tx_valid <= (out_left != '0);
    end
endmodule
