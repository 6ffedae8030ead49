// shell_pack: the network's M_W-bit output words -> bytes into the output FIFO, then a 4-byte timestamp.
//
// Wire layout as in shell_unpack (M_W <= 8: 8 / M_W words per byte; above: ceil(M_W / 8) bytes per word,
// little-endian; a frame starts on a new byte). After a frame's OUT_WORDS words, the 32-bit cycle count of its
// last word's handshake follows (little-endian): the host computes the interval between frame completions and
// the latency from these, measured by the hardware itself. `frame_done` pulses at that handshake.
// m_tready is high only while the FIFO has room for everything a word can cause (its bytes + the timestamp), so
// a slow UART back-pressures the network and nothing is dropped. `frames_ready` counts whole results in the FIFO
// (the reply framer starts a reply only for a whole one and decrements it with `take`).
module shell_pack #(
    parameter int M_W = 8,
    parameter int OUT_WORDS = 1,
    parameter int AW = 9
) (
    input  logic           clk,
    input  logic           rst_n,
    input  logic [31:0]    cycle,
    input  logic [M_W-1:0] m_tdata,
    input  logic           m_tvalid,
    output logic           m_tready,
    input  logic [AW-1:0]  fifo_free,
    output logic           fifo_wr,
    output logic [7:0]     fifo_data,
    output logic           frame_done,
    input  logic           take,
    output logic [7:0]     frames_ready
);
    localparam bit NARROW = M_W <= 8;
    localparam int WPB = NARROW ? 8 / M_W : 1;
    localparam int BPW = NARROW ? 1 : (M_W + 7) / 8;
    localparam int RW = NARROW ? 8 : 8 * BPW;
    localparam int FW = $clog2(OUT_WORDS + 1);
    localparam int KW = $clog2(WPB + 1);
    localparam int BW = $clog2(BPW + 5);

    logic [RW-1:0] cur;     // NARROW: byte being gathered; else the word being sent
    logic [KW-1:0] k;       // NARROW: words gathered into cur
    logic [BW-1:0] out_left;  // bytes still to write (word bytes, then timestamp bytes)
    logic [2:0] ts_left;    // timestamp bytes still to write
    logic [31:0] ts;
    logic [FW-1:0] word_i;
    logic fire, last_word, flush;

    assign m_tready = (out_left == '0) && (ts_left == '0) && (fifo_free >= AW'(BPW + 5));
    assign fire = m_tvalid && m_tready;
    assign last_word = (word_i == FW'(OUT_WORDS - 1));
    assign frame_done = fire && last_word;
    assign flush = fire && (last_word || k == KW'(WPB - 1));

    always_comb begin
        fifo_wr = 1'b0;
        fifo_data = ts[7:0];
        if (NARROW) begin
            if (flush) begin
                fifo_wr = 1'b1;
                fifo_data = 8'(cur | (RW'(m_tdata) << (M_W * k)));
            end else if (ts_left != '0) begin
                fifo_wr = 1'b1;
            end
        end else if (out_left != '0) begin
            fifo_wr = 1'b1;
            fifo_data = cur[7:0];
        end else if (ts_left != '0) begin
            fifo_wr = 1'b1;
        end
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            k <= '0;
            out_left <= '0;
            ts_left <= '0;
            word_i <= '0;
            frames_ready <= '0;
        end else begin
            if (fire) word_i <= last_word ? '0 : word_i + 1'b1;
            if (frame_done) ts <= cycle;
            if (NARROW) begin
                if (flush) begin
                    cur <= '0;
                    k <= '0;
                end else if (fire) begin
                    cur <= cur | (RW'(m_tdata) << (M_W * k));
                    k <= k + 1'b1;
                end
            end else if (fire) begin
                cur <= RW'(m_tdata);
                out_left <= BW'(BPW);
            end else if (out_left != '0) begin
                cur <= cur >> 8;
                out_left <= out_left - 1'b1;
            end
            if (frame_done) ts_left <= 3'd4;
            else if (ts_left != '0 && (NARROW || out_left == '0)) begin
                ts_left <= ts_left - 1'b1;
                ts <= ts >> 8;
            end
            frames_ready <= frames_ready + 8'(ts_left == 3'd1 && (NARROW || out_left == '0)) - 8'(take);
        end
    end
endmodule
