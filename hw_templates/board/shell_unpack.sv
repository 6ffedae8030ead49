// shell_unpack: bytes from the input FIFO -> the network's S_W-bit input words (the wire layout of
// candle_hw.sim.packing.pack_wire_bytes).
//
// S_W <= 8: a byte carries 8 / S_W words (floor), the first at the least significant bits; S_W > 8: a word is
// ceil(S_W / 8) bytes, little-endian. A frame (IN_WORDS words) always starts on a new byte, so the unused bits
// of a frame's last byte are dropped. `hold` stops reading the FIFO (frames queued for a measured burst).
// Throughput: one word per cycle for S_W <= 8 (the FIFO read is prefetched one byte ahead), one word per
// ceil(S_W / 8) cycles above. `frame_start` marks the handshake of a frame's first word.
module shell_unpack #(
    parameter int S_W = 1,
    parameter int IN_WORDS = 1
) (
    input  logic           clk,
    input  logic           rst_n,
    input  logic           hold,
    input  logic           fifo_empty,
    output logic           fifo_rd,
    input  logic [7:0]     fifo_data,
    output logic [S_W-1:0] s_tdata,
    output logic           s_tvalid,
    input  logic           s_tready,
    output logic           frame_start
);
    localparam bit NARROW = S_W <= 8;
    localparam int WPB = NARROW ? 8 / S_W : 1;        // words per byte
    localparam int BPW = NARROW ? 1 : (S_W + 7) / 8;  // bytes per word
    localparam int RW = NARROW ? 8 : 8 * BPW;
    localparam int LW = $clog2((NARROW ? WPB : BPW) + 1);
    localparam int FW = $clog2(IN_WORDS + 1);

    logic [RW-1:0] cur;
    logic [LW-1:0] left;   // NARROW: words left in cur; else bytes gathered into cur
    logic [FW-1:0] word_i;  // index of the offered word within its frame
    logic pend;            // fifo_data holds a byte not yet taken into cur
    logic fire, last_word, cur_free, load;

    assign fire = s_tvalid && s_tready;
    assign last_word = (word_i == FW'(IN_WORDS - 1));
    assign frame_start = fire && (word_i == '0);
    assign s_tdata = cur[S_W-1:0];
    assign s_tvalid = NARROW ? (left != '0) : (left == LW'(BPW));
    assign cur_free = NARROW ? (left == '0 || (fire && (left == LW'(1) || last_word))) : (left != LW'(BPW) || fire);
    assign load = pend && cur_free;
    assign fifo_rd = !fifo_empty && !hold && (!pend || load);

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            left <= '0;
            pend <= 1'b0;
            word_i <= '0;
        end else begin
            pend <= fifo_rd || (pend && !load);
            if (fire) word_i <= last_word ? '0 : word_i + 1'b1;
            if (NARROW) begin
                if (load) begin
                    cur <= RW'(fifo_data);
                    left <= LW'(WPB);
                end else if (fire) begin
                    cur <= cur >> S_W;
                    left <= last_word ? '0 : left - 1'b1;
                end
            end else if (load) begin
                cur <= RW'({fifo_data, cur} >> 8);
                left <= fire ? LW'(1) : left + 1'b1;
            end else if (fire) begin
                left <= '0;
            end
        end
    end
endmodule
