// uart_shell: the host interface around a stitched network `top`: UART, request parser, input/output FIFOs,
// reply framer and the hardware counters (see shell_rx.sv and shell_tx.sv for the frames; the host's definition
// of the same protocol is candle_hw/runtime/protocol.py).
//
// INFO payload (28 bytes, little-endian): build_hash u32 | IN_BYTES u16 | OUT_BYTES u16 | input FIFO bytes u16 |
// output FIFO bytes u16 | CLKS_PER_BIT u16 | protocol version u8 | 0 u8 | frames_done u32 | errors u32 |
// burst_start u32, where frames_done counts frames whose last output word left the network, errors counts bad
// requests (CRC, length, type, overflow, timeout, UART framing; a 16-bit counter sent as u32), and burst_start is
// the cycle of the first input word the network took while it held no frame (the start of the last burst:
// latency = a result's timestamp minus burst_start plus one). All cycle values come from one free-running
// 32-bit counter.
module uart_shell #(
    parameter int S_W = 1,
    parameter int M_W = 8,
    parameter int IN_WORDS = 1,
    parameter int OUT_WORDS = 1,
    parameter int CLKS_PER_BIT = 12,
    parameter logic [31:0] BUILD_HASH = 32'h0,
    parameter int IN_AW = 9,
    parameter int OUT_AW = 9,
    parameter int TIMEOUT = 65535
) (
    input  logic           clk,
    input  logic           rst_n,
    input  logic           uart_rx,
    output logic           uart_tx,
    output logic [S_W-1:0] s_tdata,
    output logic           s_tvalid,
    input  logic           s_tready,
    input  logic [M_W-1:0] m_tdata,
    input  logic           m_tvalid,
    output logic           m_tready
);
    localparam int IN_BYTES = S_W <= 8 ? (IN_WORDS + 8 / S_W - 1) / (8 / S_W) : IN_WORDS * ((S_W + 7) / 8);
    localparam int OUT_BYTES = M_W <= 8 ? (OUT_WORDS + 8 / M_W - 1) / (8 / M_W) : OUT_WORDS * ((M_W + 7) / 8);
    localparam int INFO_CONST = 16, INFO_LIVE = 12;  // shell_tx's constant part is 16 bytes
    localparam logic [7:0] VERSION = 8'd1;

    logic [7:0] rx_data, tx_data, req_id, in_data, out_wdata, out_data, id_data, frames_ready;
    logic rx_valid, rx_ferr, tx_valid, tx_ready;
    logic in_wr, in_commit, in_rollback, in_full, in_rd, in_empty, hold;
    logic out_wr, out_rd, take;
    logic info, error, frame_start, frame_done;
    logic [2:0] err_code;
    logic [OUT_AW-1:0] out_free;
    // Status the shell does not need: the parser checks the input FIFO's `full` per byte; the id FIFO holds at
    // most the host's window of frames (<= 64 < 255); the output FIFO's room is checked by shell_pack through
    // `free`, and the framer reads it only for a whole result (`frames_ready`).
    /* verilator lint_off UNUSEDSIGNAL */
    logic id_empty, id_full, out_full, out_empty;
    logic [IN_AW-1:0] in_free;
    logic [7:0] id_free;
    /* verilator lint_on UNUSEDSIGNAL */
    logic [31:0] cycle, frames_done, burst_start;
    logic [15:0] errors;  // 16 bits are plenty for bad requests and keep the shell under 800 iCE40 LUTs
    logic [7:0] inflight;

    uart_rx #(.CLKS_PER_BIT(CLKS_PER_BIT)) u_rx (
        .clk, .rst_n, .rx(uart_rx), .data(rx_data), .valid(rx_valid), .frame_err(rx_ferr));
    uart_tx #(.CLKS_PER_BIT(CLKS_PER_BIT)) u_tx (
        .clk, .rst_n, .data(tx_data), .valid(tx_valid), .ready(tx_ready), .tx(uart_tx));

    shell_rx #(.IN_BYTES(IN_BYTES), .TIMEOUT(TIMEOUT)) u_parse (
        .clk, .rst_n, .rx_data, .rx_valid, .fifo_full(in_full), .fifo_wr(in_wr), .fifo_commit(in_commit),
        .fifo_rollback(in_rollback), .hold, .info, .error, .err_code, .id(req_id));

    shell_fifo #(.AW(IN_AW), .COMMIT(1'b1)) u_in (
        .clk, .rst_n, .wr_en(in_wr), .wr_data(rx_data), .commit(in_commit), .rollback(in_rollback),
        .full(in_full), .free(in_free), .rd_en(in_rd), .rd_data(in_data), .empty(in_empty));
    // result order: the id of every committed frame, read when its result reply starts
    shell_fifo #(.AW(8), .COMMIT(1'b0)) u_ids (
        .clk, .rst_n, .wr_en(in_commit), .wr_data(req_id), .commit(1'b0), .rollback(1'b0),
        .full(id_full), .free(id_free), .rd_en(take), .rd_data(id_data), .empty(id_empty));

    shell_unpack #(.S_W(S_W), .IN_WORDS(IN_WORDS)) u_unpack (
        .clk, .rst_n, .hold, .fifo_empty(in_empty), .fifo_rd(in_rd), .fifo_data(in_data),
        .s_tdata, .s_tvalid, .s_tready, .frame_start);
    shell_pack #(.M_W(M_W), .OUT_WORDS(OUT_WORDS), .AW(OUT_AW)) u_pack (
        .clk, .rst_n, .cycle, .m_tdata, .m_tvalid, .m_tready, .fifo_free(out_free), .fifo_wr(out_wr),
        .fifo_data(out_wdata), .frame_done, .take, .frames_ready);
    shell_fifo #(.AW(OUT_AW), .COMMIT(1'b0)) u_out (
        .clk, .rst_n, .wr_en(out_wr), .wr_data(out_wdata), .commit(1'b0), .rollback(1'b0),
        .full(out_full), .free(out_free), .rd_en(out_rd), .rd_data(out_data), .empty(out_empty));

    shell_tx #(.OUT_BYTES(OUT_BYTES), .INFO_LIVE(INFO_LIVE)) u_frame (
        .clk, .rst_n, .info, .error, .err_code, .req_id, .info_const, .info_live, .frames_ready, .take, .id_data,
        .fifo_rd(out_rd), .fifo_data(out_data), .tx_data, .tx_valid, .tx_ready);

    logic [8*INFO_CONST-1:0] info_const;
    logic [8*INFO_LIVE-1:0] info_live;
    assign info_const = {8'd0, VERSION, 16'(CLKS_PER_BIT), 16'(2**OUT_AW - 1), 16'(2**IN_AW - 1), 16'(OUT_BYTES),
                         16'(IN_BYTES), BUILD_HASH};
    assign info_live = {burst_start, 16'd0, errors, frames_done};

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            cycle <= '0;
            frames_done <= '0;
            errors <= '0;
            burst_start <= '0;
            inflight <= '0;
        end else begin
            cycle <= cycle + 1'b1;
            if (frame_done) frames_done <= frames_done + 1'b1;
            if (error || rx_ferr) errors <= errors + 1'b1;
            if (frame_start && inflight == '0) burst_start <= cycle;
            inflight <= inflight + 8'(frame_start) - 8'(frame_done);
        end
    end
endmodule
