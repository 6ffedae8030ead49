// uart_rx: 8N1 UART receiver. The line is sampled through a two-flop synchroniser (it comes from another clock
// domain, the FTDI's); a falling edge starts a byte, bits are sampled in the middle of their bit time
// (CLKS_PER_BIT clock cycles each, so the clock must be an integer multiple of the baud rate: 12 MHz / 1 Mbaud
// = 12, 25 MHz / 1 Mbaud = 25, both exact). A byte whose stop bit is low is dropped and flagged (frame_err),
// so that a glitch is counted rather than passed on as data.
// Timing: `valid` pulses one cycle, in the middle of the stop bit.
module uart_rx #(
    parameter int CLKS_PER_BIT = 12
) (
    input  logic       clk,
    input  logic       rst_n,
    input  logic       rx,
    output logic [7:0] data,
    output logic       valid,
    output logic       frame_err
);
    localparam int CW = $clog2(CLKS_PER_BIT + 1);

    logic [1:0] sync;
    logic [CW-1:0] tick;
    logic [3:0] bit_i;  // 0: start bit, 1..8: data bits, 9: stop bit
    logic busy;
    logic line;

    always_ff @(posedge clk) sync <= {sync[0], rx};
    assign line = sync[1];

    always_ff @(posedge clk) begin
        valid <= 1'b0;
        frame_err <= 1'b0;
        if (!rst_n) begin
            busy <= 1'b0;
        end else if (!busy) begin
            if (!line) begin
                busy <= 1'b1;
                bit_i <= '0;
                tick <= CW'(CLKS_PER_BIT / 2);  // first sample in the middle of the start bit
            end
        end else if (tick != '0) begin
            tick <= tick - 1'b1;
        end else begin
            tick <= CW'(CLKS_PER_BIT - 1);
            bit_i <= bit_i + 1'b1;
            if (bit_i == 4'd0 && line) busy <= 1'b0;  // a glitch, not a start bit
            if (bit_i >= 4'd1 && bit_i <= 4'd8) data <= {line, data[7:1]};
            if (bit_i == 4'd9) begin
                busy <= 1'b0;
                valid <= line;
                frame_err <= !line;
            end
        end
    end
endmodule
