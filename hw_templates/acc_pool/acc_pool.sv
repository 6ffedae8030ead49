// Windowed accumulating pool (FINN: Pool with finn-hlslib's AccPoolFunction, the sum a QuantAvgPool2d shifts):
// (IFM_H, IFM_W, CHANNELS) -> (OH, OW, CHANNELS) with OH = (IFM_H - KERNEL) / STRIDE + 1 (likewise OW), the
// per-channel sum over KERNEL x KERNEL windows, no padding, PE channels per word. With BIPOLAR = 1 the input
// elements are single bits (1 <-> +1, 0 <-> -1) and the sum is the count of 1 bits (the ±1 sum is
// 2*count - KERNEL*KERNEL); otherwise IN_BITS-wide integers, two's complement when IN_SIGNED. OUT_BITS must hold
// every sum (the IR node's out_type). The average QONNX's AveragePool takes is left to the Thresholding after it.
// Needs STRIDE >= KERNEL (non-overlapping windows; pixels outside every window are read and dropped).
// Overlapping pools use this block after a sliding window (compile/passes/pool_windows.py): the window stream
// read as an (OH*OW*K, K) image with KERNEL = STRIDE = K sums each window's taps.
//
// Structure: hw_templates/maxpool's scan with a sum in place of the max: a row buffer of OW*CHANNELS/PE
// partial-sum words (one per output pixel and channel fold, PE sums of OUT_BITS, LUT RAM read asynchronously)
// updated in place while the KERNEL input rows of an output row stream by; the last element of a window goes,
// added to the buffer, into a 2-word output queue (hw_templates/fifo, "distributed").
// Timing: one input word per cycle; an input word is refused (s_tready = 0) only when it would complete a window
// and the output queue is full (registers only). Cycles per frame, never stalled: IFM_H*IFM_W*CHANNELS/PE.
// Latency: the output word is offered in the cycle after the handshake of the input word completing its window.
module acc_pool #(
    parameter int IFM_H = 4,
    parameter int IFM_W = 4,
    parameter int CHANNELS = 2,
    parameter int PE = 1,
    parameter int KERNEL = 2,
    parameter int STRIDE = 2,
    parameter int IN_BITS = 1,
    parameter int IN_SIGNED = 0,
    parameter int BIPOLAR = 1,
    parameter int OUT_BITS = 3
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
    localparam int OB = PE * OUT_BITS;
    localparam int DEPTH = OW * CF;
    localparam int AW = DEPTH > 1 ? $clog2(DEPTH) : 1;
    localparam int XW = $clog2(IFM_W + 1), YW = $clog2(IFM_H + 1), CW = CF > 1 ? $clog2(CF) : 1;
    localparam int SW = $clog2(STRIDE + 1);

    if (STRIDE < KERNEL) begin : g_check
        $error("acc_pool: STRIDE < KERNEL (overlapping windows) is not supported");
    end
    if (BIPOLAR != 0 && IN_BITS != 1) begin : g_check_bipolar
        $error("acc_pool: BIPOLAR needs IN_BITS = 1");
    end

    logic [OB-1:0] rowbuf[DEPTH];
    logic [XW-1:0] x, ox;
    logic [YW-1:0] y, oy;
    logic [SW-1:0] kx, ky;
    logic [CW-1:0] cf;
    logic [AW-1:0] addr;
    logic [OB-1:0] sum, held;
    logic          in_win, first, last, in_fire, q_ready;

    assign in_win = kx < SW'(KERNEL) && ky < SW'(KERNEL) && ox < XW'(OW) && oy < YW'(OH);
    assign first  = kx == '0 && ky == '0;
    assign last   = in_win && kx == SW'(KERNEL - 1) && ky == SW'(KERNEL - 1);
    assign addr   = AW'(32'(ox) * CF + 32'(cf));
    assign s_tready = q_ready || !last;
    assign in_fire  = s_tvalid && s_tready;

    // One read of the whole word (see maxpool.sv: a read per lane would keep a shallow memory in flip-flops).
    assign held = rowbuf[addr];

    always_comb begin
        logic [IN_BITS-1:0] e;
        logic [OUT_BITS-1:0] v, prev;
        for (int p = 0; p < PE; p++) begin
            e = s_tdata[p*IN_BITS +: IN_BITS];
            if (BIPOLAR != 0 || IN_SIGNED == 0) v = OUT_BITS'(e);
            else v = OUT_BITS'($signed(e));
            prev = first ? '0 : held[p*OUT_BITS +: OUT_BITS];
            sum[p*OUT_BITS +: OUT_BITS] = prev + v;
        end
    end

    always_ff @(posedge clk) if (in_fire && in_win && !last) rowbuf[addr] <= sum;

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

    fifo #(.WIDTH(OB), .DEPTH(2), .RAM_STYLE("distributed")) u_out (
        .clk, .rst_n,
        .s_tdata(sum), .s_tvalid(s_tvalid && last), .s_tready(q_ready),
        .m_tdata, .m_tvalid, .m_tready
    );
endmodule
