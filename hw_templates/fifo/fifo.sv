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
    // A power-of-two DEPTH wraps the pointers by themselves (no compare, no clear).
    localparam bit POW2 = DEPTH > 1 && (DEPTH & (DEPTH - 1)) == 0;

    // Occupancy from the pointers alone: each pointer counts laps of the ring in one more bit, so equal
    // addresses mean empty on the same lap and full on different laps. No occupancy counter, no adder.
    logic [AW-1:0] wr_ptr, rd_ptr;
    logic          wr_lap, rd_lap;
    logic          same_addr, empty;
    logic          wr_en, rd_en;

    assign same_addr = wr_ptr == rd_ptr;
    assign empty     = same_addr && wr_lap == rd_lap;
    assign s_tready  = !(same_addr && wr_lap != rd_lap);
    assign wr_en     = s_tvalid && s_tready;

    if (POW2) begin : g_wrap
        always_ff @(posedge clk) begin
            if (!rst_n) begin
                {wr_lap, wr_ptr} <= '0;
                {rd_lap, rd_ptr} <= '0;
            end else begin
                if (wr_en) {wr_lap, wr_ptr} <= {wr_lap, wr_ptr} + (AW + 1)'(1);
                if (rd_en) {rd_lap, rd_ptr} <= {rd_lap, rd_ptr} + (AW + 1)'(1);
            end
        end
    end else begin : g_wrap
        // the wrap clears a pointer through the flip-flop's synchronous reset, next to rst_n
        logic wr_last, rd_last;
        assign wr_last = wr_ptr == AW'(DEPTH - 1);
        assign rd_last = rd_ptr == AW'(DEPTH - 1);
        always_ff @(posedge clk) begin
            if (!rst_n || (wr_en && wr_last)) wr_ptr <= '0;
            else if (wr_en) wr_ptr <= wr_ptr + AW'(1);
            if (!rst_n || (rd_en && rd_last)) rd_ptr <= '0;
            else if (rd_en) rd_ptr <= rd_ptr + AW'(1);
            if (!rst_n) begin
                wr_lap <= 1'b0;
                rd_lap <= 1'b0;
            end else begin
                if (wr_en && wr_last) wr_lap <= !wr_lap;
                if (rd_en && rd_last) rd_lap <= !rd_lap;
            end
        end
    end

    if (BLOCK) begin : g_block
        (* ram_style = "block" *) logic [WIDTH-1:0] mem[2 ** AW];
        logic [WIDTH-1:0] rd_data;
        logic             rd_valid;
        logic             out_free, stage_move;

        assign out_free   = !m_tvalid || m_tready;
        assign stage_move = rd_valid && out_free;
        assign rd_en      = !empty && (!rd_valid || stage_move);

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
        assign m_tvalid = !empty;
        assign rd_en    = m_tvalid && m_tready;
        fifo_lutram #(.WIDTH(WIDTH), .DEPTH(DEPTH), .AW(AW)) u_mem (
            .clk, .we(wr_en), .wa(wr_ptr), .wd(s_tdata), .ra(rd_ptr), .rd(m_tdata));
    end
endmodule
