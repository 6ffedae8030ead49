// Global accumulating pool (FINN: GlobalAccPool): an (IFM_H, IFM_W, CHANNELS) frame, PE channels per word, to
// the CHANNELS per-channel sums over all IFM_H*IFM_W pixels, PE sums of OUT_BITS per output word. With BIPOLAR
// = 1 the input elements are single bits (1 <-> +1, 0 <-> -1) and the sum is the count of 1 bits (the ±1 sum
// is 2*count - IFM_H*IFM_W); otherwise IN_BITS-wide integers, two's complement when IN_SIGNED. OUT_BITS must
// hold every sum (the IR node's out_type); sums are two's complement when OUT signed, which the caller sets.
//
// Structure: CHANNELS/PE partial-sum words (LUT RAM, read asynchronously) updated in place while the pixels
// stream by; each word of the last pixel completes its channel fold's sums, which go into a 2-word output
// queue (hw_templates/fifo, "distributed").
// Timing: one input word per cycle; a word of the last pixel is refused (s_tready = 0) only while the output
// queue is full. Cycles per frame, never stalled: IFM_H*IFM_W*CHANNELS/PE. Latency: output word cf is offered
// in the cycle after the handshake of the last pixel's word cf.
module global_acc_pool #(
    parameter int IFM_H = 4,
    parameter int IFM_W = 4,
    parameter int CHANNELS = 2,
    parameter int PE = 1,
    parameter int IN_BITS = 1,
    parameter int IN_SIGNED = 0,
    parameter int BIPOLAR = 1,
    parameter int OUT_BITS = 5
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
    localparam int CF = CHANNELS / PE;
    localparam int PIX = IFM_H * IFM_W;
    localparam int OB = PE * OUT_BITS;
    localparam int CW = CF > 1 ? $clog2(CF) : 1;
    localparam int PW = PIX > 1 ? $clog2(PIX) : 1;

    if (BIPOLAR != 0 && IN_BITS != 1) begin : g_check
        $error("global_acc_pool: BIPOLAR needs IN_BITS = 1");
    end

    logic [OB-1:0] acc[CF];
    logic [OB-1:0] sum;
    logic [CW-1:0] cf;
    logic [PW-1:0] pix;
    logic          first, last, in_fire, q_ready;

    assign first = pix == '0;
    assign last = pix == PW'(PIX - 1);
    assign s_tready = q_ready || !last;
    assign in_fire = s_tvalid && s_tready;

    always_comb begin
        logic [IN_BITS-1:0] e;
        logic [OUT_BITS-1:0] v, prev;
        for (int p = 0; p < PE; p++) begin
            e = s_tdata[p*IN_BITS +: IN_BITS];
            if (BIPOLAR != 0 || IN_SIGNED == 0) v = OUT_BITS'(e);
            else v = OUT_BITS'($signed(e));
            prev = first ? '0 : acc[cf][p*OUT_BITS +: OUT_BITS];
            sum[p*OUT_BITS +: OUT_BITS] = prev + v;
        end
    end

    always_ff @(posedge clk) if (in_fire && !last) acc[cf] <= sum;

    // Scan counters: channel fold fastest, then the pixel.
    always_ff @(posedge clk) begin
        if (!rst_n) begin
            {cf, pix} <= '0;
        end else if (in_fire) begin
            cf <= cf == CW'(CF - 1) ? '0 : cf + CW'(1);
            if (cf == CW'(CF - 1)) pix <= last ? '0 : pix + PW'(1);
        end
    end

    fifo #(.WIDTH(OB), .DEPTH(2), .RAM_STYLE("distributed")) u_out (
        .clk, .rst_n,
        .s_tdata(sum), .s_tvalid(s_tvalid && last), .s_tready(q_ready),
        .m_tdata, .m_tvalid, .m_tready
    );
endmodule
