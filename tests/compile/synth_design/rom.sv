// DEPTH x WIDTH ROM with a registered read, loaded by $readmemh from a file beside the sources.
module rom #(parameter int DEPTH = 1024, parameter int WIDTH = 18, parameter MEMF = "") (
    input  logic clk,
    input  logic [$clog2(DEPTH)-1:0] addr,
    output logic [WIDTH-1:0] q
);
    logic [WIDTH-1:0] mem [DEPTH];
    if (MEMF != "") begin : g_init
        initial $readmemh(MEMF, mem);
    end
    always_ff @(posedge clk) q <= mem[addr];
endmodule
