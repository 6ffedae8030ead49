// shell_tx: frames replies onto the UART transmitter.
//
// Reply frame: 0x5A | type | id | len (2 B LE) | payload | CRC-16/CCITT-FALSE of type..payload (2 B LE).
// Types: 0x81 RESULT (payload: the network's output frame, OUT_BYTES, then the 32-bit cycle count of its last
// output word), 0x83 INFO (INFO_BYTES from `info_vec`, byte 0 at bits 7:0), 0xEE ERROR (1 byte: the code).
// Control replies (INFO, ERROR) go before results; one control reply waits at a time and a newer one replaces
// it (the host retries what it does not get answered). A result starts only when it is whole in the output FIFO,
// so a reply never waits for the network in the middle of a frame. Payload bytes are read from the FIFO one
// byte ahead, while the previous byte is on the line.
module shell_tx #(
    parameter int OUT_BYTES = 1,
    parameter int INFO_BYTES = 28
) (
    input  logic                    clk,
    input  logic                    rst_n,
    input  logic                    info,
    input  logic                    error,
    input  logic [2:0]              err_code,
    input  logic [7:0]              req_id,
    input  logic [8*INFO_BYTES-1:0] info_vec,
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
    localparam int MAXLEN = RES_LEN > INFO_BYTES ? RES_LEN : INFO_BYTES;
    localparam int PW = $clog2(MAXLEN + 8);

    typedef enum logic [1:0] {K_RESULT, K_INFO, K_ERROR} kind_t;
    logic ctl_pend, ctl_is_info;
    logic [2:0] ctl_code, code;
    logic [7:0] ctl_id, id;
    kind_t kind;
    logic [PW-1:0] pos, plen, ppos;
    logic [15:0] crc, crc_next;
    logic fire, start, in_payload;
    logic [15:0] plen16;

    crc16_ccitt u_crc (.crc(crc), .data(tx_data), .next(crc_next));

    assign fire = tx_valid && tx_ready;
    assign start = !tx_valid && (ctl_pend || frames_ready != '0);
    assign take = start && !ctl_pend;
    assign plen = kind == K_RESULT ? PW'(RES_LEN) : (kind == K_INFO ? PW'(INFO_BYTES) : PW'(1));
    assign ppos = pos - PW'(5);
    assign plen16 = 16'(plen);
    assign in_payload = pos >= PW'(5) && pos < plen + PW'(5);
    // the next byte is a result payload byte: fetch it while this one is on the line
    assign fifo_rd = fire && kind == K_RESULT && pos >= PW'(4) && pos < PW'(RES_LEN + 4);

    always_comb begin
        if (pos == '0) tx_data = SYNC;
        else if (pos == PW'(1)) tx_data = kind == K_RESULT ? R_RESULT : (kind == K_INFO ? R_INFO : R_ERROR);
        else if (pos == PW'(2)) tx_data = kind == K_RESULT ? id_data : id;
        else if (pos == PW'(3)) tx_data = plen16[7:0];
        else if (pos == PW'(4)) tx_data = plen16[15:8];
        else if (in_payload) tx_data = kind == K_RESULT ? fifo_data : (kind == K_INFO ? info_vec[8 * ppos +: 8] : 8'(code));
        else if (pos == plen + PW'(5)) tx_data = crc[7:0];
        else tx_data = crc[15:8];
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
                pos <= '0;
                crc <= 16'hFFFF;
                kind <= !ctl_pend ? K_RESULT : (ctl_is_info ? K_INFO : K_ERROR);
                id <= ctl_id;
                code <= ctl_code;
            end else if (fire) begin
                pos <= pos + 1'b1;
                if (pos != '0 && pos < plen + PW'(5)) crc <= crc_next;
                if (pos == plen + PW'(6)) tx_valid <= 1'b0;
            end
        end
    end
endmodule
