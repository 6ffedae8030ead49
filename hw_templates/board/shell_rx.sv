// shell_rx: parses request frames from the UART byte stream and writes INFER/QUEUE payloads into the input FIFO.
//
// Request frame (candle_hw/runtime/protocol.py is the host's definition of the same layout):
//   0xA5 | type | id | len (2 B, little-endian) | payload (len B) | CRC-16/CCITT-FALSE of type..payload (2 B, LE)
// Types: 0x01 INFER (payload = one input frame, IN_BYTES), 0x02 QUEUE (the same, but the network is not fed until
// the next INFER: frames then run back to back, so the hardware measures the network's own interval), 0x03 INFO.
// Outcomes (one-cycle pulses): `commit` (a good INFER/QUEUE: the payload becomes visible to the network and `id`
// enters the result order), `info` (a good INFO), `error` with `err_code`: 1 CRC, 2 length, 3 type, 4 overflow
// (the input FIFO had no room; the host window is too large), 5 timeout (no byte for TIMEOUT cycles inside a
// frame, e.g. the host stopped mid-frame). A bad frame is rolled back from the FIFO: the network never sees it.
// Bytes outside a frame are ignored until the next 0xA5.
module shell_rx #(
    parameter int IN_BYTES = 1,
    parameter int TIMEOUT = 65535
) (
    input  logic       clk,
    input  logic       rst_n,
    input  logic [7:0] rx_data,
    input  logic       rx_valid,
    input  logic       fifo_full,
    output logic       fifo_wr,
    output logic       fifo_commit,
    output logic       fifo_rollback,
    output logic       hold,
    output logic       info,
    output logic       error,
    output logic [2:0] err_code,
    output logic [7:0] id
);
    typedef enum logic [2:0] {HUNT, TYPE, ID, LEN0, LEN1, PAYLOAD, CRC0, CRC1} state_t;
    localparam logic [7:0] SYNC = 8'hA5, T_INFER = 8'h01, T_QUEUE = 8'h02, T_INFO = 8'h03;
    localparam int TW = $clog2(TIMEOUT + 1);
    localparam int LW = $clog2(IN_BYTES + 1);  // payload bytes left: the longest payload is an input frame

    state_t state;
    logic [7:0] typ, len0, crc0;
    logic [LW-1:0] left;
    logic [15:0] crc, crc_next;
    logic [TW-1:0] idle;
    logic overflow, is_data, len_ok;

    crc16_ccitt u_crc (.crc(crc), .data(rx_data), .next(crc_next));

    assign is_data = (typ == T_INFER) || (typ == T_QUEUE);
    assign len_ok = is_data ? ({rx_data, len0} == 16'(IN_BYTES)) : ({rx_data, len0} == 16'd0);
    assign fifo_wr = rx_valid && state == PAYLOAD && is_data;

    always_ff @(posedge clk) begin
        fifo_commit <= 1'b0;
        fifo_rollback <= 1'b0;
        info <= 1'b0;
        error <= 1'b0;
        if (!rst_n) begin
            state <= HUNT;
            hold <= 1'b0;
            idle <= '0;
        end else if (rx_valid) begin
            idle <= '0;
            if (state != HUNT && state != CRC0 && state != CRC1) crc <= crc_next;
            case (state)
                HUNT: begin
                    crc <= 16'hFFFF;
                    overflow <= 1'b0;
                    if (rx_data == SYNC) state <= TYPE;
                end
                TYPE: begin
                    typ <= rx_data;
                    state <= ID;
                end
                ID: begin
                    id <= rx_data;
                    state <= LEN0;
                end
                LEN0: begin
                    len0 <= rx_data;
                    state <= LEN1;
                end
                LEN1: begin
                    left <= LW'({rx_data, len0});
                    if (!(is_data || typ == T_INFO)) begin
                        error <= 1'b1;
                        err_code <= 3'd3;
                        state <= HUNT;
                    end else if (!len_ok) begin
                        error <= 1'b1;
                        err_code <= 3'd2;
                        state <= HUNT;
                    end else begin
                        state <= ({rx_data, len0} == 16'd0) ? CRC0 : PAYLOAD;
                    end
                end
                PAYLOAD: begin
                    if (is_data && fifo_full) overflow <= 1'b1;
                    left <= left - 1'b1;
                    if (left == LW'(1)) state <= CRC0;
                end
                CRC0: begin
                    crc0 <= rx_data;
                    state <= CRC1;
                end
                CRC1: begin
                    state <= HUNT;
                    if ({rx_data, crc0} != crc) begin
                        error <= 1'b1;
                        err_code <= 3'd1;
                        fifo_rollback <= is_data;
                    end else if (overflow) begin
                        error <= 1'b1;
                        err_code <= 3'd4;
                        fifo_rollback <= 1'b1;
                    end else if (is_data) begin
                        fifo_commit <= 1'b1;
                        hold <= (typ == T_QUEUE);
                    end else begin
                        info <= 1'b1;
                    end
                end
                default: state <= HUNT;
            endcase
        end else if (state != HUNT) begin
            idle <= idle + 1'b1;
            if (idle == TW'(TIMEOUT)) begin
                state <= HUNT;
                error <= 1'b1;
                err_code <= 3'd5;
                fifo_rollback <= is_data && (state == PAYLOAD || state == CRC0 || state == CRC1);
            end
        end
    end
endmodule
