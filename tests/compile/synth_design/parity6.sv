// N registered 6-input parities: exactly one LUT6 + one FF per output on xc7.
module parity6 #(parameter int N = 4) (
    input  logic clk,
    input  logic [6*N-1:0] a,
    output logic [N-1:0] q
);
    always_ff @(posedge clk) begin
        for (int i = 0; i < N; i++) q[i] <= ^a[6*i +: 6];
    end
endmodule
