// Stream FIFO (FINN: StreamingFIFO): DEPTH words of WIDTH bits, identity on data, AXI-Stream in and out.
//
// Two implementations, picked by RAM_STYLE ("auto": "distributed" for DEPTH <= 64, else "block"):
// - "distributed": DEPTH-entry register/LUT-RAM array with an asynchronous read (SRL/LUTRAM on FPGAs).
//   Capacity DEPTH words. Latency: a word taken at cycle c is offered on m_* at cycle c+1.
// - "block": DEPTH-entry array with a registered read (inferred block RAM) followed by a two-register
//   prefetch (read-data register + output register). Capacity DEPTH+2 words. Latency 3 cycles
//   (handshake at c -> offered at c+3).
// Throughput: one word per cycle in and out when never stalled (II = 1), for any DEPTH >= 2 (DEPTH = 1
// "distributed" alternates: 1 word per 2 cycles). s_tready = "not full" and m_tvalid = "not empty" are
// functions of registers only, so neither valid nor ready depends combinationally on the other side.
module fifo #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 2,
    parameter RAM_STYLE = "auto"
) (
    input  logic             clk,
    input  logic             rst_n,
    input  logic [WIDTH-1:0] s_tdata,
    input  logic             s_tvalid,
    output logic             s_tready,
    output logic [WIDTH-1:0] m_tdata,
    output logic             m_tvalid,
    input  logic             m_tready
);
    // RAM_STYLE is an untyped string parameter (Yosys has no `parameter string`); comparing strings of different
    // lengths zero-extends the shorter one, which is what string equality needs.
    /* verilator lint_off WIDTHEXPAND */
    localparam bit BLOCK = (RAM_STYLE == "block") || (RAM_STYLE == "auto" && DEPTH > 64);
    /* verilator lint_on WIDTHEXPAND */
    localparam int AW = DEPTH > 1 ? $clog2(DEPTH) : 1;
    localparam int CW = $clog2(DEPTH + 1);

    logic [AW-1:0] wr_ptr, rd_ptr;
    logic [CW-1:0] count;
    logic          wr_en, rd_en;

    assign s_tready = count != CW'(DEPTH);
    assign wr_en = s_tvalid && s_tready;

    function automatic logic [AW-1:0] bump(input logic [AW-1:0] p);
        // assigned to the function name: Yosys' SystemVerilog frontend rejects `return`
        bump = p == AW'(DEPTH - 1) ? '0 : p + AW'(1);
    endfunction

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            wr_ptr <= '0;
            rd_ptr <= '0;
            count  <= '0;
        end else begin
            if (wr_en) wr_ptr <= bump(wr_ptr);
            if (rd_en) rd_ptr <= bump(rd_ptr);
            count <= count + CW'(wr_en) - CW'(rd_en);
        end
    end

    if (BLOCK) begin : g_block
        (* ram_style = "block" *) logic [WIDTH-1:0] mem[DEPTH];
        logic [WIDTH-1:0] rd_data;
        logic             rd_valid;
        logic             out_free, stage_move;

        assign out_free   = !m_tvalid || m_tready;
        assign stage_move = rd_valid && out_free;
        assign rd_en      = count != '0 && (!rd_valid || stage_move);

        always_ff @(posedge clk) begin
            if (wr_en) mem[wr_ptr] <= s_tdata;
            if (rd_en) rd_data <= mem[rd_ptr];
        end
        always_ff @(posedge clk) begin
            if (!rst_n) begin
                rd_valid <= 1'b0;
                m_tvalid <= 1'b0;
            end else begin
                if (rd_en) rd_valid <= 1'b1;
                else if (stage_move) rd_valid <= 1'b0;
                if (stage_move) m_tvalid <= 1'b1;
                else if (m_tready) m_tvalid <= 1'b0;
            end
        end
        always_ff @(posedge clk) if (stage_move) m_tdata <= rd_data;
    end else begin : g_distributed
        (* ram_style = "distributed" *) logic [WIDTH-1:0] mem[DEPTH];
        assign m_tvalid = count != '0;
        assign m_tdata  = mem[rd_ptr];
        assign rd_en    = m_tvalid && m_tready;
        always_ff @(posedge clk) if (wr_en) mem[wr_ptr] <= s_tdata;
    end
endmodule
