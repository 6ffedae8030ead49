// Stream duplicator (FINN: DuplicateStreams_Batch): every input word goes out unchanged on each of N_OUT output
// streams. Multi-stream ports are packed vectors, stream i in slice i (m_tdata[i*WIDTH +: WIDTH], m_tvalid[i],
// m_tready[i]), so the stitched top connects one wire per graph edge by concatenation.
//
// Handshake: output i offers the current input word until it has taken it; a per-output "taken" flag remembers
// that, so consumers may accept the same word in different cycles and none waits for another (no lock-step).
// The input word is consumed in the cycle in which every output has taken it (earlier, or in this cycle).
// Timing: no register on the data path (the copies are wires; the only state is N_OUT flags), so latency 0 and
// one word per cycle whenever every consumer is ready. Combinational paths: s_tvalid -> m_tvalid and
// m_tready -> s_tready. m_tvalid never depends on m_tready, so a consumer whose ready depends on its valid
// (add_streams joins two inputs) cannot close a loop through this block; the FIFOs the compiler puts on the
// branches register both directions.
module duplicate_streams #(
    parameter int WIDTH = 8,
    parameter int N_OUT = 2
) (
    input  logic                   clk,
    input  logic                   rst_n,
    input  logic [WIDTH-1:0]       s_tdata,
    input  logic                   s_tvalid,
    output logic                   s_tready,
    output logic [N_OUT*WIDTH-1:0] m_tdata,
    output logic [N_OUT-1:0]       m_tvalid,
    input  logic [N_OUT-1:0]       m_tready
);
    if (N_OUT < 1) begin : g_check
        $error("duplicate_streams: N_OUT must be at least 1");
    end

    logic [N_OUT-1:0] taken, done;

    assign m_tdata  = {N_OUT{s_tdata}};
    assign m_tvalid = {N_OUT{s_tvalid}} & ~taken;
    assign done     = taken | m_tready;
    assign s_tready = &done;

    always_ff @(posedge clk) begin
        if (!rst_n) taken <= '0;
        else if (s_tvalid) taken <= s_tready ? '0 : done;
    end
endmodule
