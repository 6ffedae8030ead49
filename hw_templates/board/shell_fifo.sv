// shell_fifo: byte FIFO in block RAM (registered read) with an optional commit/rollback write side.
//
// Why commit: a request frame's payload is written as it arrives, but it may be checked bad only at its CRC;
// the reader sees only committed bytes (rd_ptr != commit_ptr), so a bad frame is rolled back (wr_ptr returns to
// commit_ptr) and never reaches the network. With COMMIT = 0 every written byte is visible at once.
// Capacity 2**AW - 1 bytes. Read: `rd_en` while !empty -> `rd_data` valid the next cycle, held until the next
// read. `free` counts free bytes (against the read pointer, committed or not).
module shell_fifo #(
    parameter int AW = 9,
    parameter bit COMMIT = 1'b0
) (
    input  logic          clk,
    input  logic          rst_n,
    input  logic          wr_en,
    input  logic [7:0]    wr_data,
    input  logic          commit,
    input  logic          rollback,
    output logic          full,
    output logic [AW-1:0] free,
    input  logic          rd_en,
    output logic [7:0]    rd_data,
    output logic          empty
);
    logic [AW-1:0] wr_ptr, rd_ptr, commit_ptr, visible;
    logic [7:0] mem[2**AW];

    assign visible = COMMIT ? commit_ptr : wr_ptr;
    assign empty = (rd_ptr == visible);
    assign free = rd_ptr - wr_ptr - 1'b1;
    assign full = (free == '0);

    always_ff @(posedge clk) begin
        if (wr_en && !full) mem[wr_ptr] <= wr_data;
        if (rd_en && !empty) rd_data <= mem[rd_ptr];
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            wr_ptr <= '0;
            rd_ptr <= '0;
            commit_ptr <= '0;
        end else begin
            if (rd_en && !empty) rd_ptr <= rd_ptr + 1'b1;
            if (COMMIT && rollback) wr_ptr <= commit_ptr;
            else if (wr_en && !full) wr_ptr <= wr_ptr + 1'b1;
            if (COMMIT && commit) commit_ptr <= wr_ptr;
        end
    end
endmodule
