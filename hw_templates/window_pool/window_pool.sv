// The non-overlapping window pool both streaming pools are (hw_templates/maxpool, hw_templates/acc_pool): an
// (IFM_H, IFM_W, CHANNELS) map, PE channels per word, reduced per channel over KERNEL x KERNEL windows to
// (OH, OW, CHANNELS), OH = (IFM_H - KERNEL) / STRIDE + 1 (likewise OW), no padding. Needs STRIDE >= KERNEL (no
// overlap; a pixel outside every window is read and dropped). The reduction is the one difference between the
// two blocks: SUM = 0, max of IN_BITS-wide elements (OUT_BITS = IN_BITS; for 1-bit ±1 maps the OR); SUM = 1, the
// sum in OUT_BITS (which must hold every sum), elements sign-extended when IN_SIGNED, else zero-extended.
// The scan and the reduction share one module on purpose: Yosys's synth_xilinx keeps the hierarchy, and a
// reduction in a module of its own, apart from the window's first-word select, cost LUTs (max-pool 16x16x64,
// 2x2/2, INT4, PE 8: 167 LUT against 159 here).
//
// Structure: a row buffer of OW*CHANNELS/PE partial-result words (one per output pixel and channel fold, PE
// lanes of OUT_BITS, LUT RAM read asynchronously) updated in place while the KERNEL input rows of an output row
// stream by; a window's last word goes, reduced with the buffer, into a 2-word output queue (hw_templates/fifo,
// "distributed").
// Timing: one input word per cycle; an input word is refused (s_tready = 0) only when it would complete a window
// and the output queue is full (registers only). Cycles per frame, never stalled: IFM_H*IFM_W*CHANNELS/PE.
// Latency: the output word is offered in the cycle after the handshake of the input word completing its window.
module window_pool #(
    parameter int IFM_H = 4,
    parameter int IFM_W = 4,
    parameter int CHANNELS = 2,
    parameter int PE = 1,
    parameter int KERNEL = 2,
    parameter int STRIDE = 2,
    parameter int IN_BITS = 1,
    parameter int IN_SIGNED = 0,
    parameter int OUT_BITS = 1,
    parameter int SUM = 0
) (
    input  logic                    clk,
    input  logic                    rst_n,
    input  logic [PE*IN_BITS-1:0]   s_tdata,
    input  logic                    s_tvalid,
    output logic                    s_tready,
    output logic [PE*OUT_BITS-1:0]  m_tdata,
    output logic                    m_tvalid,
    input  logic                    m_tready
);
    localparam int OH = (IFM_H - KERNEL) / STRIDE + 1;
    localparam int OW = (IFM_W - KERNEL) / STRIDE + 1;
    localparam int CF = CHANNELS / PE;
    localparam int WB = PE * OUT_BITS;
    localparam int DEPTH = OW * CF;
    localparam int AW = DEPTH > 1 ? $clog2(DEPTH) : 1;
    localparam int XW = $clog2(IFM_W + 1), YW = $clog2(IFM_H + 1), CW = CF > 1 ? $clog2(CF) : 1;
    localparam int SW = $clog2(STRIDE + 1);

    if (STRIDE < KERNEL) begin : g_check
        $error("window_pool: STRIDE < KERNEL (overlapping windows) is not supported");
    end
    if (SUM == 0 && OUT_BITS != IN_BITS) begin : g_check_max
        $error("window_pool: a max (SUM = 0) needs OUT_BITS = IN_BITS");
    end

    logic [WB-1:0] rowbuf[DEPTH];
    logic [XW-1:0] x, ox;
    logic [YW-1:0] y, oy;
    logic [SW-1:0] kx, ky;
    logic [CW-1:0] cf;
    logic [AW-1:0] addr;
    logic [WB-1:0] merged, held;
    logic          in_win, first, last, in_fire, q_ready;

    assign in_win = kx < SW'(KERNEL) && ky < SW'(KERNEL) && ox < XW'(OW) && oy < YW'(OH);
    assign first  = kx == '0 && ky == '0;
    assign last   = in_win && kx == SW'(KERNEL - 1) && ky == SW'(KERNEL - 1);
    assign addr   = AW'(32'(ox) * CF + 32'(cf));
    assign s_tready = q_ready || !last;
    assign in_fire  = s_tvalid && s_tready;

    // One read of the whole word: a read per lane would give the memory PE read ports, which Yosys then keeps
    // in flip-flops when it is shallow (the window reduction's C/PE words: 64 FFs more at PE = 8, measured).
    assign held = rowbuf[addr];

    // The reduction: the word with the window's partial result (the word alone when it starts the window).
    always_comb begin
        logic [IN_BITS-1:0] e;
        logic [OUT_BITS-1:0] a, v;
        for (int p = 0; p < PE; p++) begin
            e = s_tdata[p*IN_BITS +: IN_BITS];
            a = held[p*OUT_BITS +: OUT_BITS];
            v = IN_SIGNED != 0 ? OUT_BITS'($signed(e)) : OUT_BITS'(e);
            if (SUM != 0) merged[p*OUT_BITS +: OUT_BITS] = (first ? '0 : a) + v;
            else if (first) merged[p*OUT_BITS +: OUT_BITS] = v;
            else if (IN_SIGNED != 0) merged[p*OUT_BITS +: OUT_BITS] = $signed(v) > $signed(a) ? v : a;
            else merged[p*OUT_BITS +: OUT_BITS] = v > a ? v : a;
        end
    end

    always_ff @(posedge clk) if (in_fire && in_win && !last) rowbuf[addr] <= merged;

    // Scan counters: channel fold fastest, then x, then y; (kx, ox) and (ky, oy) follow x and y.
    always_ff @(posedge clk) begin
        if (!rst_n) begin
            {x, ox, kx, y, oy, ky, cf} <= '0;
        end else if (in_fire) begin
            cf <= cf == CW'(CF - 1) ? '0 : cf + CW'(1);
            if (cf == CW'(CF - 1)) begin
                x  <= x == XW'(IFM_W - 1) ? '0 : x + XW'(1);
                kx <= (x == XW'(IFM_W - 1) || kx == SW'(STRIDE - 1)) ? '0 : kx + SW'(1);
                ox <= x == XW'(IFM_W - 1) ? '0 : (kx == SW'(STRIDE - 1) ? ox + XW'(1) : ox);
                if (x == XW'(IFM_W - 1)) begin
                    y  <= y == YW'(IFM_H - 1) ? '0 : y + YW'(1);
                    ky <= (y == YW'(IFM_H - 1) || ky == SW'(STRIDE - 1)) ? '0 : ky + SW'(1);
                    oy <= y == YW'(IFM_H - 1) ? '0 : (ky == SW'(STRIDE - 1) ? oy + YW'(1) : oy);
                end
            end
        end
    end

    fifo #(.WIDTH(WB), .DEPTH(2), .RAM_STYLE("distributed")) u_out (
        .clk, .rst_n,
        .s_tdata(merged), .s_tvalid(s_tvalid && last), .s_tready(q_ready),
        .m_tdata, .m_tvalid, .m_tready
    );
endmodule
