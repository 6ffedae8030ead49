// shell_tx: frames replies onto the UART transmitter.
//
// Reply frame: 0x5A | type | id | len (2 B LE) | payload | CRC-16/CCITT-FALSE of type..payload (2 B LE).
// Types: 0x81 RESULT (payload: the network's output frame, OUT_BYTES, then the 32-bit cycle count of its last
// output word), 0x83 INFO (INFO_CONST bytes of `info_const`, then INFO_LIVE bytes of `info_live`; byte 0 at bits
// 7:0), 0xEE ERROR (1 byte: the code). Control replies (INFO, ERROR) go before results; one control reply waits at
// a time and a newer one replaces it (the host retries what it does not get answered). A result starts only
// when it is whole in the output FIFO, so a reply never waits for the network in the middle of a frame.
// Payload bytes are read from the FIFO one byte ahead, while the previous byte is on the line.
// Cost: a phase (header, payload, CRC) and a byte counter within it instead of one position compared against
// every field boundary; the INFO bytes are two small multiplexers (constants, live counters).
module shell_tx #(
    parameter int OUT_BYTES = 1,
    parameter int INFO_LIVE = 12
) (
    input  logic                    clk,
    input  logic                    rst_n,
    input  logic                    info,
    input  logic                    error,
    input  logic [2:0]              err_code,
    input  logic [7:0]              req_id,
    input  logic [127:0]            info_const,  // INFO_CONST = 16 bytes
    input  logic [8*INFO_LIVE-1:0]  info_live,
    input  logic [7:0]              frames_ready,
    output logic                    take,
    input  logic [7:0]              id_data,
    output logic                    fifo_rd,
    input  logic [7:0]              fifo_data,
    output logic [7:0]              tx_data,
    output logic                    tx_valid,
    input  logic                    tx_ready
);
    localparam logic [7:0] SYNC = 8'h5A, R_RESULT = 8'h81, R_INFO = 8'h83, R_ERROR = 8'hEE;
    localparam int RES_LEN = OUT_BYTES + 4;
    localparam int INFO_CONST = 16;
    localparam int INFO_LEN = INFO_CONST + INFO_LIVE;
    localparam int MAXLEN = RES_LEN > INFO_LEN ? RES_LEN : INFO_LEN;
    localparam int CW = $clog2(MAXLEN + 1);

    typedef enum logic [1:0] {P_HDR, P_PAY, P_CRC} phase_t;
    logic ctl_pend, ctl_is_info, is_result, is_info;
    logic [2:0] ctl_code, code;
    logic [7:0] ctl_id, id, hdr, pay, info_byte;
    logic [15:0] plen;
    phase_t phase;
    logic [CW-1:0] cnt;
    logic [15:0] crc, crc_next;
    logic fire, start, last_pay;
    logic [127:0] live16;

    assign live16 = 128'(info_live);

    crc16_ccitt u_crc (.crc(crc), .data(tx_data), .next(crc_next));

    assign fire = tx_valid && tx_ready;
    assign start = !tx_valid && (ctl_pend || frames_ready != '0);
    assign take = start && !ctl_pend;
    assign plen = is_result ? 16'(RES_LEN) : (is_info ? 16'(INFO_LEN) : 16'd1);
    assign last_pay = cnt == CW'(is_result ? RES_LEN - 1 : (is_info ? INFO_LEN - 1 : 0));
    // the next byte is a result payload byte: fetch it while this one is on the line
    assign fifo_rd = fire && is_result && ((phase == P_HDR && cnt == CW'(4)) || (phase == P_PAY && !last_pay));

    always_comb begin
        case (cnt[2:0])
            3'd0: hdr = SYNC;
            3'd1: hdr = is_result ? R_RESULT : (is_info ? R_INFO : R_ERROR);
            3'd2: hdr = is_result ? id_data : id;
            3'd3: hdr = plen[7:0];
            default: hdr = plen[15:8];
        endcase
        // INFO_CONST = 16: the low four bits of the count index either half, no subtraction
        if (cnt < CW'(INFO_CONST)) info_byte = info_const[8 * cnt[3:0] +: 8];
        else info_byte = live16[8 * cnt[3:0] +: 8];
        pay = is_result ? fifo_data : (is_info ? info_byte : 8'(code));
        case (phase)
            P_HDR: tx_data = hdr;
            P_PAY: tx_data = pay;
            default: tx_data = cnt[0] ? crc[15:8] : crc[7:0];
        endcase
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            ctl_pend <= 1'b0;
            tx_valid <= 1'b0;
        end else begin
            if (info || error) begin
                ctl_pend <= 1'b1;
                ctl_is_info <= info;
                ctl_code <= err_code;
                ctl_id <= req_id;
            end else if (start && ctl_pend) begin
                ctl_pend <= 1'b0;
            end
            if (start) begin
                tx_valid <= 1'b1;
                phase <= P_HDR;
                cnt <= '0;
                crc <= 16'hFFFF;
                is_result <= !ctl_pend;
                is_info <= ctl_pend && ctl_is_info;
                id <= ctl_id;
                code <= ctl_code;
            end else if (fire) begin
                cnt <= cnt + 1'b1;
                if (!(phase == P_HDR && cnt == '0) && phase != P_CRC) crc <= crc_next;
                if (phase == P_HDR && cnt == CW'(4)) begin
                    phase <= P_PAY;
                    cnt <= '0;
                end else if (phase == P_PAY && last_pay) begin
                    phase <= P_CRC;
                    cnt <= '0;
                end else if (phase == P_CRC && cnt[0]) begin
                    tx_valid <= 1'b0;
                end
            end
        end
    end
endmodule
