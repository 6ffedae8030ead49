// Multi-threshold unit (FINN: Thresholding): out_c = sum_i [x_c >= T[c, i]] for each channel c.
//
// Semantics (= compile/ir.py Thresholding = sim/golden.py multithreshold): input elements of IN_BITS (two's
// complement if IN_SIGNED), N_THRESH thresholds per channel of THRESH_BITS (two's complement if THRESH_SIGNED,
// else unsigned), compared exactly in max(IN_BITS, THRESH_BITS) + 1 signed bits. N_THRESH = 1: a 1-bit output
// (bit 1 <-> +1 for a BIPOLAR stream); N_THRESH = n > 1: the count in OUT_BITS bits (unsorted thresholds are
// fine: the count is a sum of comparisons).
// Folding: PE channels per word, NF = CHANNELS/PE words per vector; channel c = nf*PE + p sits in word nf,
// element p (element j at bits [j*B, (j+1)*B)). s_tdata = PE*IN_BITS bits, m_tdata = PE*OUT_BITS bits.
// THRESH_FILE: sim/packing.py threshold_words(): NF words, lane (p, i) at bits [(p*N_THRESH + i)*THRESH_BITS, ...).
//
// Timing: one word per cycle in and out when never stalled (II = 1 word; cycles per frame =
// NUM_VECTORS*NF). Latency 2 cycles: a word taken at cycle c is offered on m_* at cycle c+2 (c: input and
// threshold registers; c+1: compare, written into the output queue; c+2: m_tvalid).
// Buffering: the input register plus a 3-word output queue. s_tready = "fewer than 3 words in flight or
// queued" and m_tvalid = "queue not empty" are functions of registers only. Reset: synchronous, active low;
// s_tready is 0 during reset and in the cycle after it.
module thresholding #(
    parameter int CHANNELS = 8,
    parameter int PE = 4,
    parameter int IN_BITS = 8,
    parameter int IN_SIGNED = 1,
    parameter int N_THRESH = 1,
    parameter int THRESH_BITS = 9,
    parameter int THRESH_SIGNED = 1,
    parameter int OUT_BITS = 1,
    parameter int NUM_VECTORS = 1,
    parameter THRESH_FILE = ""
) (
    input  logic                   clk,
    input  logic                   rst_n,
    input  logic [PE*IN_BITS-1:0]  s_tdata,
    input  logic                   s_tvalid,
    output logic                   s_tready,
    output logic [PE*OUT_BITS-1:0] m_tdata,
    output logic                   m_tvalid,
    input  logic                   m_tready
);
    localparam int NF = CHANNELS / PE;
    localparam int NFW = NF > 1 ? $clog2(NF) : 1;
    localparam int TDEPTH = NF > 1 ? NF : 2;  // two entries at least: a 1-bit address indexes it cleanly
    localparam int TWW = PE * N_THRESH * THRESH_BITS;
    localparam int CW = (IN_BITS > THRESH_BITS ? IN_BITS : THRESH_BITS) + 1;
    localparam int QD = 3;  // latency 2 + 1: the credit loop never throttles an unstalled stream
    localparam int THRESH_CW = CW;

`include "mvu_thresh_fn.svh"

    if (CHANNELS % PE != 0) begin : g_err_pe
        $error("thresholding: PE=%0d does not divide CHANNELS=%0d", PE, CHANNELS);
    end
    if (N_THRESH < 1 || (1 << OUT_BITS) <= N_THRESH) begin : g_err_out
        $error("thresholding: OUT_BITS=%0d cannot count N_THRESH=%0d thresholds", OUT_BITS, N_THRESH);
    end

    logic alive, take, x_valid;
    logic [NFW-1:0] nf;
    logic [PE*IN_BITS-1:0] x_q;
    logic [TWW-1:0] thr_q;
    logic [PE*OUT_BITS-1:0] out_word;
    logic [TWW-1:0] tmem[TDEPTH];
    initial $readmemh(THRESH_FILE, tmem, 0, NF - 1);

    // output queue with reservations (the MVU's credit-based queue): a slot is reserved when a word is taken,
    // so no stream signal depends combinationally on another
    logic can_reserve;

    assign s_tready = alive && can_reserve;
    assign take = s_tvalid && s_tready;

    mvu_out_fifo #(.W(PE * OUT_BITS), .DEPTH(QD)) u_queue (
        .clk, .rst_n, .reserve(take), .can_reserve, .wr_en(x_valid), .wr_data(out_word),
        .m_tdata, .m_tvalid, .m_tready
    );

    always_ff @(posedge clk) begin
        x_q <= s_tdata;
        if (take) thr_q <= tmem[nf];
        if (!rst_n) begin
            alive <= 1'b0;
            x_valid <= 1'b0;
            nf <= '0;
        end else begin
            alive <= 1'b1;
            x_valid <= take;
            if (take) nf <= nf == NFW'(NF - 1) ? '0 : nf + NFW'(1);
        end
    end

    for (genvar p = 0; p < PE; p++) begin : g_pe
        logic [IN_BITS-1:0] x;
        logic [CW-1:0] x_ext;
        assign x = x_q[p*IN_BITS +: IN_BITS];
        assign x_ext = IN_SIGNED != 0 ? CW'($signed(x)) : CW'(x);
        assign out_word[p*OUT_BITS +: OUT_BITS] =
            thresh_count(x_ext, thr_q[p*N_THRESH*THRESH_BITS +: N_THRESH*THRESH_BITS], 1'b0);
    end

    // NUM_VECTORS only documents the frame (cycles per frame = NUM_VECTORS*NF): vectors are independent.
    localparam int CYCLES_PER_FRAME = NUM_VECTORS * NF;
    logic unused_doc;
    assign unused_doc = &{1'b0, CYCLES_PER_FRAME[0]};
endmodule
