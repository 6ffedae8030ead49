// Output queue of the MVU with credit-based flow control (so no stream signal depends combinationally on
// another: m_tvalid = "queue not empty", and the MVU's s_tready uses can_reserve, a register compare).
//
// The MVU reserves a slot (reserve = 1) in the cycle it issues the last step of a neuron fold; the word is
// written (wr_en) a fixed number of cycles later. pending = reserved words not yet read out; a reservation is
// only made while pending < DEPTH, so the queue never overflows whatever m_tready does.
// A written word is offered on m_* in the next cycle. Storage: DEPTH registers of W bits, read through a mux.
module mvu_out_fifo #(
    parameter int W = 8,
    parameter int DEPTH = 2
) (
    input  logic         clk,
    input  logic         rst_n,
    input  logic         reserve,
    output logic         can_reserve,
    input  logic         wr_en,
    input  logic [W-1:0] wr_data,
    output logic [W-1:0] m_tdata,
    output logic         m_tvalid,
    input  logic         m_tready
);
    localparam int AW = DEPTH > 1 ? $clog2(DEPTH) : 1;
    localparam int CW = $clog2(DEPTH + 1);

    logic [W-1:0] mem[DEPTH];
    logic [AW-1:0] wr_ptr, rd_ptr;
    logic [CW-1:0] count, pending;
    logic rd_en;

    assign m_tvalid = count != '0;
    assign m_tdata = mem[rd_ptr];
    assign rd_en = m_tvalid && m_tready;
    assign can_reserve = pending != CW'(DEPTH);

    always_ff @(posedge clk) begin
        if (wr_en) mem[wr_ptr] <= wr_data;
        if (!rst_n) begin
            wr_ptr <= '0;
            rd_ptr <= '0;
            count <= '0;
            pending <= '0;
        end else begin
            if (wr_en) wr_ptr <= wr_ptr == AW'(DEPTH - 1) ? '0 : wr_ptr + AW'(1);
            if (rd_en) rd_ptr <= rd_ptr == AW'(DEPTH - 1) ? '0 : rd_ptr + AW'(1);
            count <= count + CW'(wr_en) - CW'(rd_en);
            pending <= pending + CW'(reserve) - CW'(rd_en);
        end
    end
endmodule
