// Sliding-window generator (FINN: ConvolutionInputGenerator), line-buffer based.
//
// Semantics (= compile/ir.py SlidingWindow = sim/golden.py sliding_window): input an (IFM_H, IFM_W, CHANNELS)
// frame, SIMD channels per word, rows top to bottom, pixels left to right, channel folds fastest. Output, for
// every output pixel (oy, ox) in row-major order, the KERNEL x KERNEL x CHANNELS window in (ky, kx, c) order,
// channel fastest, SIMD per word: OH*OW*KERNEL*KERNEL*CHANNELS/SIMD words per frame, with
// OH = (IFM_H + 2*PAD - KERNEL)/STRIDE + 1 (likewise OW). Window pixels outside the image read PAD_BITS in every
// lane (the element's raw bit pattern: for BIPOLAR, 1 = +1 and 0 = -1). Elements are ELEM_BITS wide.
//
// Structure: a ring of R = KERNEL + STRIDE input rows (R*IFM_W*CHANNELS/SIMD words, registered read: block
// RAM style) written by the input side row after row, frame after frame. The read side walks
// (oy, ox, ky, kx, channel fold) and issues one memory read (or a padding word) per cycle into a 3-word output
// queue (hw_templates/fifo, "distributed") through a one-cycle read register; a credit counter keeps at most 3
// words in flight, so the queue never overflows and m_tready = 1 gives one word per cycle.
// Flow control (registers only): the input side takes a word while fewer than R rows are held
// (s_tready = rows_held < R). Output row oy starts once the input rows it needs (lo..hi, the window rows
// inside the image) are complete; after its last word the rows no later output row needs are released
// (STRIDE rows, all remaining rows of the frame after the last output row).
// Timing, never stalled: one output word per cycle while the needed rows are present, so cycles per frame =
// OH*OW*KERNEL*KERNEL*CHANNELS/SIMD plus waits for input rows: the input side runs at most R - KERNEL = STRIDE
// rows ahead of the rows in use, so each new frame waits for its first rows (about (KERNEL - PAD - STRIDE) rows
// of input after the previous frame's last output row starts, when the input arrives at one word per cycle).
// Latency: the first word of output row oy is offered 3 cycles after the handshake of the input word that
// completes row hi(oy) (issue, read register, queue). Internal buffering: R rows + 1 read register + 3 words.
module swg #(
    parameter int IFM_H = 4,
    parameter int IFM_W = 4,
    parameter int CHANNELS = 2,
    parameter int SIMD = 1,
    parameter int KERNEL = 3,
    parameter int STRIDE = 1,
    parameter int PAD = 0,
    parameter int PAD_BITS = 0,
    parameter int ELEM_BITS = 1
) (
    input  logic                      clk,
    input  logic                      rst_n,
    input  logic [SIMD*ELEM_BITS-1:0] s_tdata,
    input  logic                      s_tvalid,
    output logic                      s_tready,
    output logic [SIMD*ELEM_BITS-1:0] m_tdata,
    output logic                      m_tvalid,
    input  logic                      m_tready
);
    localparam int OH = (IFM_H + 2 * PAD - KERNEL) / STRIDE + 1;
    localparam int OW = (IFM_W + 2 * PAD - KERNEL) / STRIDE + 1;
    localparam int CF = CHANNELS / SIMD;
    localparam int WB = SIMD * ELEM_BITS;
    localparam int R = KERNEL + STRIDE;
    localparam int ROWW = IFM_W * CF;
    localparam int DEPTH = R * ROWW;
    localparam int AW = DEPTH > 1 ? $clog2(DEPTH) : 1;
    localparam int RW = $clog2(R + 1);
    localparam int QD = 3;
    // Counter widths: registers hold only the bits their ranges need (arithmetic below is in 32-bit int).
    localparam int OYW = $clog2(OH + 1), OXW = $clog2(OW + 1), KW = $clog2(KERNEL + 1), CFW = $clog2(CF + 1);
    localparam int COLW = $clog2(ROWW + 1);
    localparam logic [WB-1:0] PAD_WORD = {SIMD{ELEM_BITS'(PAD_BITS)}};

    function automatic int clamp(input int v, input int lo, input int hi);
        // assigned to the function name: Yosys' SystemVerilog frontend rejects `return`
        clamp = v < lo ? lo : (v > hi ? hi : v);
    endfunction

    (* ram_style = "block" *) logic [WB-1:0] mem[DEPTH];

    // ---- input side ----
    logic [COLW-1:0] wr_col;
    logic [RW-1:0]   wr_slot;
    logic [RW-1:0] rows_held;
    logic          in_fire, row_done;

    assign s_tready = rows_held < RW'(R);
    assign in_fire  = s_tvalid && s_tready;
    assign row_done = in_fire && int'(wr_col) == ROWW - 1;

    always_ff @(posedge clk) if (in_fire) mem[AW'(int'(wr_slot) * ROWW + int'(wr_col))] <= s_tdata;

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            wr_col  <= '0;
            wr_slot <= '0;
        end else if (in_fire) begin
            wr_col <= row_done ? '0 : wr_col + COLW'(1);
            if (row_done) wr_slot <= int'(wr_slot) == R - 1 ? '0 : wr_slot + RW'(1);
        end
    end

    // ---- read side ----
    logic [OYW-1:0] oy;
    logic [OXW-1:0] ox;
    logic [KW-1:0]  ky, kx;
    logic [CFW-1:0] cf;
    logic [RW-1:0]  base;
    int          lo, hi, need, rel, iy, ix, slot;
    logic        row_start, row_end, gate, issue, pad, pop, rd_valid, rd_pad;
    logic [2:0]  credit;
    logic [AW-1:0] raddr;
    logic [WB-1:0] rd_data;

    always_comb begin
        lo   = clamp(int'(oy) * STRIDE - PAD, 0, IFM_H);
        hi   = clamp(int'(oy) * STRIDE - PAD + KERNEL - 1, -1, IFM_H - 1);
        need = hi >= lo ? hi - lo + 1 : 0;
        rel  = (int'(oy) == OH - 1 ? IFM_H : clamp((int'(oy) + 1) * STRIDE - PAD, 0, IFM_H)) - lo;
        iy   = int'(oy) * STRIDE - PAD + int'(ky);
        ix   = int'(ox) * STRIDE - PAD + int'(kx);
        pad  = iy < 0 || iy >= IFM_H || ix < 0 || ix >= IFM_W;
        slot = int'(base) + iy - lo;
        if (slot >= R) slot = slot - R;
        raddr = pad ? '0 : AW'(slot * ROWW + ix * CF + int'(cf));
        row_start = ox == '0 && ky == '0 && kx == '0 && cf == '0;
        row_end   = int'(ox) == OW - 1 && int'(ky) == KERNEL - 1 && int'(kx) == KERNEL - 1 && int'(cf) == CF - 1;
        gate  = (!row_start || int'(rows_held) >= need) && (!row_end || int'(rows_held) >= rel);
        issue = gate && credit < 3'(QD);
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            {oy, ox, ky, kx, cf} <= '0;
            base <= '0;
            rd_valid <= 1'b0;
            credit <= '0;
            rows_held <= '0;
        end else begin
            rd_valid <= issue;
            credit <= credit + 3'(issue) - 3'(pop);
            rows_held <= rows_held + RW'(row_done) - (issue && row_end ? RW'(rel) : '0);
            if (issue) begin
                cf <= int'(cf) == CF - 1 ? '0 : cf + CFW'(1);
                if (int'(cf) == CF - 1) begin
                    kx <= int'(kx) == KERNEL - 1 ? '0 : kx + KW'(1);
                    if (int'(kx) == KERNEL - 1) begin
                        ky <= int'(ky) == KERNEL - 1 ? '0 : ky + KW'(1);
                        if (int'(ky) == KERNEL - 1) begin
                            ox <= int'(ox) == OW - 1 ? '0 : ox + OXW'(1);
                            if (int'(ox) == OW - 1) oy <= int'(oy) == OH - 1 ? '0 : oy + OYW'(1);
                        end
                    end
                end
                if (row_end) base <= RW'(int'(base) + rel >= R ? int'(base) + rel - R : int'(base) + rel);
            end
        end
    end

    always_ff @(posedge clk) begin
        if (issue) begin
            rd_data <= mem[raddr];
            rd_pad  <= pad;
        end
    end

    assign pop = m_tvalid && m_tready;

    // The credit counter guarantees a free slot for every issued read, so the queue's s_tready is not needed.
    /* verilator lint_off PINCONNECTEMPTY */
    fifo #(.WIDTH(WB), .DEPTH(QD), .RAM_STYLE("distributed")) u_out (
        .clk, .rst_n,
        .s_tdata(rd_pad ? PAD_WORD : rd_data), .s_tvalid(rd_valid), .s_tready(),
        .m_tdata, .m_tvalid, .m_tready
    );
    /* verilator lint_on PINCONNECTEMPTY */
endmodule
