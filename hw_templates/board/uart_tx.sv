// uart_tx: 8N1 UART transmitter, CLKS_PER_BIT clock cycles per bit. `ready` is high while idle; a byte offered
// with `valid` is taken in that cycle and leaves as start bit, 8 data bits (LSB first), stop bit. A new byte is
// taken the cycle after the stop bit ends, so back-to-back bytes leave with no idle time between them.
module uart_tx #(
    parameter int CLKS_PER_BIT = 12
) (
    input  logic       clk,
    input  logic       rst_n,
    input  logic [7:0] data,
    input  logic       valid,
    output logic       ready,
    output logic       tx
);
    localparam int CW = $clog2(CLKS_PER_BIT);

    logic [8:0] shreg;  // {stop bit, data}; shifted right, ones shifted in (stop bit and idle level)
    logic [3:0] left;   // bit times still to go: 8 data bits, the stop bit, then the end of the stop bit
    logic [CW-1:0] tick;

    assign ready = (left == '0);

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            left <= '0;
            tx <= 1'b1;
        end else if (left == '0) begin
            if (valid) begin
                tx <= 1'b0;
                shreg <= {1'b1, data};
                left <= 4'd10;
                tick <= CW'(CLKS_PER_BIT - 1);
            end
        end else if (tick != '0) begin
            tick <= tick - 1'b1;
        end else begin
            tx <= shreg[0];
            shreg <= {1'b1, shreg[8:1]};
            left <= left - 1'b1;
            tick <= CW'(CLKS_PER_BIT - 1);
        end
    end
endmodule
