// Matrix-vector unit (FINN: MVAU) with 1-bit (+-1) weights and optional fused multi-threshold activation.
//
// Semantics (= compile/ir.py MatrixVectorUnit = sim/golden.py mvu): for every input vector x (MW elements) and
// output channel r (MH of them), BINARY_XNOR = 1: acc_r = popcount(xnor(x_bits, w_bits)) in [0, MW];
// BINARY_XNOR = 0: acc_r = sum_k x_k * W[k, r] with W = +1 for a stored bit 1 and -1 for a bit 0 (x of IN_BITS,
// two's complement if IN_SIGNED). N_THRESH = 0: out_r = acc_r (OUT_BITS = ACC_BITS, two's complement low bits,
// exact whenever the true value fits the compiler's ACC_BITS type, signed or unsigned); N_THRESH = 1:
// out_r = [acc_r >= T_r] (1 bit); N_THRESH = n > 1: out_r = sum_i [acc_r >= T_r,i] (OUT_BITS bits).
// Thresholds are THRESH_BITS wide, two's complement when THRESH_SIGNED = 1 and unsigned when 0 (use 0 for the
// unsigned threshold type of an XNOR layer, e.g. T in [0, MW+1]); comparisons are exact (done in
// max(ACC_BITS, THRESH_BITS) + 1 signed bits). With N_THRESH = 1 the accumulator starts at -T and the output is
// its sign (no comparator); with N_THRESH > 1 there are N_THRESH comparators per PE.
// TERNARY = 1 (signed 2-bit weights all in {-1, 0, 1}, thresholds; chosen by compile/mvu_map.py ternary_spec): the
// weight's bits are read as sign s and nonzero n, and the heap sums n & (x_i ^ s) per lane and input bit
// (mvu_kbit_dot TERN): acc' = acc - o_r, o_r a per-channel constant of the weights that the compiler subtracts
// from the thresholds; ACC_BITS and THRESH_BITS are then those of acc' and the shifted thresholds. As with
// N_THRESH = 1 the accumulator starts at -T_0 and its sign is the first comparison; the threshold memory holds
// the start value ACC_INIT - T_0 (ACC_INIT the heap's constant, see below) and T_i - T_0 for i > 0 (N_THRESH - 1
// comparators per PE instead of N_THRESH). The ternary
// heap's sum is delayed to the plain heap's POP_LAT, so the unit's timing does not depend on the weight values.
// Sources: mvu.sv, mvu_xnor_popcount.sv, mvu_xnor3.sv, mvu_heap.sv, mvu_cnt.sv, mvu_add_tree.sv,
// mvu_out_fifo.sv, mvu_wrom.sv, and the include files mvu_heap_fn.svh and mvu_thresh_fn.svh (the threshold
// comparators, shared with hw_templates/thresholding; add this folder to the include path).
//
// Folding: SF = MW/SIMD input words of SIMD elements per vector, NF = MH/PE output words of PE elements;
// output channel r = nf*PE + p sits in word nf, element p. Streams: s_tdata = SIMD*IN_BITS bits, m_tdata =
// PE*OUT_BITS bits, element j at bits [j*B, (j+1)*B).
// Memories (layouts of sim/packing.py, loaded with $readmemh): WEIGHT_FILE = weight_words(): SF*NF words of
// PE*SIMD bits, address nf*SF + sf, lane (p, s) at bit p*SIMD + s. THRESH_FILE = threshold_words(): NF words,
// lane (p, i) at bits [(p*N_THRESH + i)*THRESH_BITS, ...).
// Zero padding of a +-1 map (BORDER = 1, XNOR mode; compile/ir.py MatrixVectorUnit.border): the input vectors
// are the KERNEL x KERNEL windows of an OFM (NUM_VECTORS/OFM_W) x OFM_W output map, taps in (ky, kx, channel)
// order with CF = channels/SIMD words per tap, so a word is wholly padded or wholly inside the image. Padded
// taps must count 0: acc_r = sum over inside words of 2*popcount + SIMD per padded word = z_r + MW (z the
// zero-padded dot product), compared with the per-channel thresholds as usual. The unit knows which words are
// padded from counters (oy, ox; ky, kx, cf following sf) and two pattern ROMs: PAD_ROW_FILE (one word per
// output row, bit ky = kernel row ky outside the image) and PAD_COL_FILE (per output column, bit kx), written
// by sim/packing.py pad_pattern_words. Cost: the counters, two tiny ROMs and a 2:1 choice in each PE's step. WEIGHT_STYLE: "block" (inferred block RAM, registered
// read), "distributed" (LUT RAM; under Yosys a LUT ROM, same LUT count) or "logic" (constant ROM in LUTs), both
// in mvu_wrom with a registered address; all three styles give the weight word one cycle after its address.
// THRESH_STYLE: where the threshold ROM goes, "block" or "distributed" (chosen by compile/mvu_map.py
// threshold_style); "block" needs TERNARY = 1, the only datapath whose threshold read is registered.
//
// Schedule (FINN's MVAU): one step (nf, sf) per cycle, sf fastest; step (nf, sf) multiplies input word sf
// with weight word nf*SF + sf for all PE neurons of fold nf. During fold nf = 0 the input words come from
// s_tdata (s_tready = 1, one word taken per step) and are written into an SF-word input buffer; folds
// 1..NF-1 re-read the buffer (s_tready = 0). The next vector's fold 0 follows the previous vector's last step
// in the next cycle, so with s_tvalid held high and m_tready = 1 the unit issues a step every cycle:
//   cycles per vector (II) = SF*NF, cycles per frame = NUM_VECTORS*SF*NF, no bubble between vectors;
//   s_tready is high for the SF cycles of fold 0 of each vector and low for the (NF-1)*SF cycles after.
// A step stalls (is not issued) only when (a) in fold 0 s_tvalid is low, or (b) it is the last step
// (sf = SF-1) of a fold and the output queue has no free slot (see below). s_tready = alive && nf == 0 &&
// !(sf == SF-1 && queue full): a function of registers only (never of s_tvalid or m_tready).
//
// Latency: LAT = POP_LAT + 3 cycles from the issue of the last step (nf, SF-1) of a fold to m_tvalid of that
// fold's output word; for fold 0 that issue is the handshake of the vector's last input word, for fold nf the
// output comes (in an unstalled run) nf*SF cycles later. Pipeline: issue -> [input/weight register]
// -> popcount tree (POP_LAT register stages) -> [accumulator] -> threshold compare -> [output queue] -> m_*
// (N_THRESH = 1: the fold's thresholds are read when its steps reach the accumulator; TERNARY: the fold's word
// one cycle before its first step does, into a register that the comparisons take over with its last step;
// N_THRESH > 1: they are
// registered with the fold's last step and compared in the next cycle; either way the word enters the queue
// one cycle after the accumulator holds the fold's final value).
// POP_LAT (see pop_latency()): XNOR mode L / POP_REG_EVERY + 2 (a register after the fused XNOR stage, one
// every POP_REG_EVERY counter levels, one after the final addition), where L = heap_levels(heap_xnor3(SIMD),
// clog2(SIMD+1)) is the number of counter levels of the compressor tree (mvu_heap_fn.svh); with the default
// POP_REG_EVERY = 3: POP_LAT = 2 for SIMD <= 16 and SIMD = 49, 3 for SIMD = 32, 64, 100, 128, 256, 512,
// 4 for SIMD = 1024. Integer mode: ceil(log2(SIMD)/2) (0 for SIMD = 1, 1 for SIMD <= 4, 2 for SIMD <= 16).
// Dot products: XNOR mode = fused XNOR/3-lane counts (mvu_xnor3) summed by a tree of 6:3 counters (mvu_heap,
// mvu_cnt; about 1.4 LUT6 per lane on xc7); integer mode = +-x terms summed by a balanced adder tree.
// Output queue: ODEPTH = ceil(LAT/SF) + 1 words (enough to hide the credit loop: full throughput at
// m_tready = 1); a slot is reserved when a fold's last step issues and freed when its word leaves on m_*.
// Internal buffering: SF input words (only when NF > 1), the pipeline registers, ODEPTH output words.
// Reset: synchronous, active low; s_tready is 0 during reset and in the cycle after it.
module mvu #(
    parameter int MW = 64,
    parameter int MH = 64,
    parameter int PE = 8,
    parameter int SIMD = 8,
    parameter int IN_BITS = 1,
    parameter int IN_SIGNED = 0,
    parameter int BINARY_XNOR = 1,
    parameter int ACC_BITS = 7,
    parameter int N_THRESH = 1,
    parameter int THRESH_BITS = 8,
    parameter int THRESH_SIGNED = 1,
    parameter int OUT_BITS = 1,
    parameter int NUM_VECTORS = 1,
    parameter WEIGHT_FILE = "",
    parameter THRESH_FILE = "",
    parameter WEIGHT_STYLE = "block",
    parameter int POP_REG_EVERY = 3,
    parameter int BORDER = 0,
    parameter int KERNEL = 1,
    parameter int CF = 1,
    parameter int OFM_W = 1,
    parameter PAD_ROW_FILE = "",
    parameter PAD_COL_FILE = "",
    parameter int WEIGHT_BITS = 1,
    parameter int WEIGHT_SIGNED = 1,
    parameter int IN_BIPOLAR = 0,
    parameter int TERNARY = 0,
    parameter THRESH_STYLE = "distributed"
) (
    input  logic                     clk,
    input  logic                     rst_n,
    input  logic [SIMD*IN_BITS-1:0]  s_tdata,
    input  logic                     s_tvalid,
    output logic                     s_tready,
    output logic [PE*OUT_BITS-1:0]   m_tdata,
    output logic                     m_tvalid,
    input  logic                     m_tready
);
`include "mvu_heap_fn.svh"

    // Register stages of the per-PE dot-product tree (see the header).
    function automatic integer pop_latency(input integer simd);
        if (BINARY_XNOR == 0 && WEIGHT_BITS > 1)
            pop_latency = heap_levels(kb_heights(simd, IN_BITS, WEIGHT_BITS, IN_BIPOLAR),
                                      $clog2(kb_max(simd, IN_BITS, WEIGHT_BITS, IN_BIPOLAR) + 1)) / POP_REG_EVERY + 2;
        else if (BINARY_XNOR == 0) pop_latency = ($clog2(simd) + 1) / 2;
        else pop_latency = heap_levels(heap_xnor3(simd), $clog2(simd + 1)) / POP_REG_EVERY + 2;
    endfunction

    localparam int SF = MW / SIMD;
    localparam int NF = MH / PE;
    localparam int WMEM = SF * NF;
    localparam int S_W = SIMD * IN_BITS;
    localparam int WB = WEIGHT_BITS;
    localparam int WW = PE * SIMD * WB;
    localparam int SFW = SF > 1 ? $clog2(SF) : 1;
    localparam int NFW = NF > 1 ? $clog2(NF) : 1;
    localparam int WAW = WMEM > 1 ? $clog2(WMEM) : 1;
    // Memories get at least two entries so that a 1-bit address always indexes them without a width mismatch.
    localparam int IDEPTH = SF > 1 ? SF : 2;
    localparam int WDEPTH = WMEM > 1 ? WMEM : 2;
    localparam int TDEPTH = NF > 1 ? NF : 2;
    localparam int AW = ACC_BITS + 1;
    localparam int POP_LAT = pop_latency(SIMD);
    localparam int LAT = POP_LAT + 3;
    localparam int ODEPTH = (LAT + SF - 1) / SF + 1;
    localparam int TWW = N_THRESH > 0 ? PE * N_THRESH * THRESH_BITS : 1;
    localparam int CW = AW > THRESH_BITS + 1 ? AW : THRESH_BITS + 1;
    // acc - T of the N_THRESH = 1 datapath, exact; TERNARY: the threshold type covers every value of acc - T_0
    // (compile/mvu_map.py ternary_spec), so the accumulator is that wide (one more bit if the type is unsigned)
    localparam int DW = TERNARY != 0 ? THRESH_BITS + (THRESH_SIGNED != 0 ? 0 : 1) : CW + 1;
    // mvu_thresh_fn.svh's comparison width: the ternary accumulator (acc - T_0) or the sign-extended accumulator
    localparam int THRESH_CW = TERNARY != 0 ? DW : CW;
`include "mvu_thresh_fn.svh"
    // k-bit weights: each step is a heap sum of non-negative bits; the per-step constant of its negative partial
    // products (mvu_kbit_dot KB_CONST), SF times per vector, starts the accumulator instead of being added per step
    localparam int ACC_INIT = BINARY_XNOR == 0 && WEIGHT_BITS > 1
        ? SF * kd_const(SIMD, IN_BITS, IN_SIGNED, WEIGHT_BITS, WEIGHT_SIGNED, IN_BIPOLAR, TERNARY) : 0;
    // the ternary heap's own latency; its sum is delayed to POP_LAT (the unit's timing depends on its shape only)
    localparam int TERN_LAT = TERNARY != 0
        ? heap_levels(kt_heights(SIMD, IN_BITS, IN_BIPOLAR), $clog2(kt_max(SIMD, IN_BITS, IN_BIPOLAR) + 1))
          / POP_REG_EVERY + 2 : POP_LAT;

    // ---- parameter checks (elaboration errors name the offending value) ----
    if (MW % SIMD != 0) begin : g_err_simd
        $error("mvu: SIMD=%0d does not divide MW=%0d", SIMD, MW);
    end
    if (MH % PE != 0) begin : g_err_pe
        $error("mvu: PE=%0d does not divide MH=%0d", PE, MH);
    end
    if (BINARY_XNOR != 0 && (IN_BITS != 1 || WB != 1)) begin : g_err_xnor
        $error("mvu: BINARY_XNOR needs IN_BITS=1 and WEIGHT_BITS=1, got %0d and %0d", IN_BITS, WB);
    end
    if (IN_BIPOLAR != 0 && (IN_BITS != 1 || (BINARY_XNOR == 0 && WB == 1))) begin : g_err_bipolar
        $error("mvu: IN_BIPOLAR needs IN_BITS=1 and, outside XNOR mode, WEIGHT_BITS > 1 (got %0d, %0d)", IN_BITS, WB);
    end
    if (N_THRESH == 0 && OUT_BITS != ACC_BITS) begin : g_err_acc
        $error("mvu: without thresholds OUT_BITS=%0d must equal ACC_BITS=%0d", OUT_BITS, ACC_BITS);
    end
    if (BORDER != 0 && (BINARY_XNOR == 0 || SF != KERNEL * KERNEL * CF || NUM_VECTORS % OFM_W != 0)) begin : g_err_border
        $error("mvu: BORDER needs XNOR mode, SF=%0d = KERNEL^2*CF (KERNEL=%0d, CF=%0d), OFM_W=%0d dividing NUM_VECTORS=%0d",
               SF, KERNEL, CF, OFM_W, NUM_VECTORS);
    end
    if (TERNARY != 0 && (BINARY_XNOR != 0 || WB != 2 || WEIGHT_SIGNED == 0 || N_THRESH == 0 || TERN_LAT > POP_LAT))
    begin : g_err_tern
        $error("mvu: TERNARY needs signed 2-bit weights, thresholds and a heap within POP_LAT=%0d (WB=%0d, N_THRESH=%0d, ternary latency %0d)",
               POP_LAT, WB, N_THRESH, TERN_LAT);
    end
    if (N_THRESH > 0 && (1 << OUT_BITS) <= N_THRESH) begin : g_err_out
        $error("mvu: OUT_BITS=%0d cannot count N_THRESH=%0d thresholds", OUT_BITS, N_THRESH);
    end
    // String parameters compare zero-extended to the longer literal, which is what is meant here.
    /* verilator lint_off WIDTHEXPAND */
    if (WEIGHT_STYLE != "block" && WEIGHT_STYLE != "distributed" && WEIGHT_STYLE != "logic") begin : g_err_style
        $error("mvu: WEIGHT_STYLE=%s is not block, distributed or logic", WEIGHT_STYLE);
    end
    if ((THRESH_STYLE != "block" && THRESH_STYLE != "distributed") || (THRESH_STYLE == "block" && TERNARY == 0))
    begin : g_err_tstyle
        $error("mvu: THRESH_STYLE=%s is not distributed, or block with TERNARY=1 (TERNARY=%0d)", THRESH_STYLE,
               TERNARY);
    end
    /* verilator lint_on WIDTHEXPAND */

    // ---- issue: counters, input buffer, weight read ----
    logic [SFW-1:0] sf;
    logic [NFW-1:0] nf;
    logic [WAW-1:0] waddr;
    logic alive, is_last, credit, issue;
    logic [S_W-1:0] x_cur, x_q;
    logic [WW-1:0] w_cur;

    assign is_last = sf == SFW'(SF - 1);
    assign s_tready = alive && nf == '0 && (!is_last || credit);
    assign issue = alive && (nf != '0 || s_tvalid) && (!is_last || credit);

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            sf <= '0;
            nf <= '0;
            waddr <= '0;
            alive <= 1'b0;
        end else begin
            alive <= 1'b1;
            if (issue) begin
                waddr <= waddr == WAW'(WMEM - 1) ? '0 : waddr + WAW'(1);
                if (is_last) begin
                    sf <= '0;
                    nf <= nf == NFW'(NF - 1) ? '0 : nf + NFW'(1);
                end else begin
                    sf <= sf + SFW'(1);
                end
            end
        end
    end

    // Is the issuing step's input word in the padding? (zero-padded +-1 window, see the header)
    logic pad_word;
    if (BORDER != 0) begin : g_border
        localparam int OFM_H = NUM_VECTORS / OFM_W;
        localparam int OYW = OFM_H > 1 ? $clog2(OFM_H) : 1;
        localparam int OXW = OFM_W > 1 ? $clog2(OFM_W) : 1;
        localparam int KW = KERNEL > 1 ? $clog2(KERNEL) : 1;
        localparam int CFW = CF > 1 ? $clog2(CF) : 1;
        logic [OYW-1:0] oy;
        logic [OXW-1:0] ox;
        logic [KW-1:0] ky, kx;
        logic [CFW-1:0] cf;
        logic [KERNEL-1:0] prow[OFM_H > 1 ? OFM_H : 2];
        logic [KERNEL-1:0] pcol[OFM_W > 1 ? OFM_W : 2];
        logic [KERNEL-1:0] prow_cur, pcol_cur;
        initial begin
            $readmemh(PAD_ROW_FILE, prow, 0, OFM_H - 1);
            $readmemh(PAD_COL_FILE, pcol, 0, OFM_W - 1);
        end
        always_ff @(posedge clk) begin
            if (!rst_n) begin
                oy <= '0;
                ox <= '0;
                ky <= '0;
                kx <= '0;
                cf <= '0;
            end else if (issue) begin
                if (is_last) begin
                    ky <= '0;
                    kx <= '0;
                    cf <= '0;
                    if (nf == NFW'(NF - 1)) begin
                        if (ox == OXW'(OFM_W - 1)) begin
                            ox <= '0;
                            oy <= oy == OYW'(OFM_H - 1) ? '0 : oy + OYW'(1);
                        end else begin
                            ox <= ox + OXW'(1);
                        end
                    end
                end else if (cf != CFW'(CF - 1)) begin
                    cf <= cf + CFW'(1);
                end else begin
                    cf <= '0;
                    if (kx == KW'(KERNEL - 1)) begin
                        kx <= '0;
                        ky <= ky + KW'(1);
                    end else begin
                        kx <= kx + KW'(1);
                    end
                end
            end
        end
        assign prow_cur = prow[oy];
        assign pcol_cur = pcol[ox];
        assign pad_word = prow_cur[ky] || pcol_cur[kx];
    end else begin : g_no_border
        assign pad_word = 1'b0;
    end

    if (NF > 1) begin : g_ibuf
        logic [S_W-1:0] ibuf[IDEPTH];
        always_ff @(posedge clk) if (issue && nf == '0) ibuf[sf] <= s_tdata;
        assign x_cur = nf == '0 ? s_tdata : ibuf[sf];
    end else begin : g_no_ibuf
        assign x_cur = s_tdata;
    end
    always_ff @(posedge clk) x_q <= x_cur;

    /* verilator lint_off WIDTHEXPAND */
    if (WEIGHT_STYLE == "logic" || WEIGHT_STYLE == "distributed") begin : g_wlut
        mvu_wrom #(.W(WW), .DEPTH(WDEPTH), .WORDS(WMEM), .AW(WAW), .FILE(WEIGHT_FILE),
                   .LOGIC(WEIGHT_STYLE == "logic" ? 1 : 0)) u_wrom (.clk(clk), .addr(waddr), .data(w_cur));
    /* verilator lint_on WIDTHEXPAND */
    end else begin : g_wblock
        (* rom_style = "block", ram_style = "block" *) logic [WW-1:0] wmem[WDEPTH];
        logic [WW-1:0] w_q;
        initial $readmemh(WEIGHT_FILE, wmem, 0, WMEM - 1);
        always_ff @(posedge clk) w_q <= wmem[waddr];
        assign w_cur = w_q;
    end

    // ---- control word travelling with the data: valid, first step, last step, padded word, fold index ----
    localparam int CTLW = 4 + NFW;
    logic [CTLW-1:0] ctl[POP_LAT + 1];
    always_ff @(posedge clk) begin
        if (!rst_n) begin
            for (int k = 0; k <= POP_LAT; k++) ctl[k] <= '0;
        end else begin
            ctl[0] <= {issue, sf == '0, is_last, pad_word, nf};
            for (int k = 1; k <= POP_LAT; k++) ctl[k] <= ctl[k - 1];
        end
    end
    logic p_valid, p_first, p_last, p_pad;
    logic [NFW-1:0] p_nf;
    assign {p_valid, p_first, p_last, p_pad, p_nf} = ctl[POP_LAT];

    // ---- per-PE dot products, accumulators and activations ----
    for (genvar p = 0; p < PE; p++) begin : g_pe
        /* verilator lint_off UNUSEDSIGNAL */
        logic [AW-1:0] step;    // the accumulator's step (unused by a k-bit unit with N_THRESH = 1)
        logic [DW-1:0] step_t;  // the step in the N_THRESH = 1 datapath's width (unused otherwise)
        /* verilator lint_on UNUSEDSIGNAL */
        if (BINARY_XNOR != 0) begin : g_xnor
            localparam int PW = $clog2(SIMD + 1);
            /* verilator lint_off UNUSEDSIGNAL */
            logic [PW-1:0] cnt;  // see below
            /* verilator lint_on UNUSEDSIGNAL */
            mvu_xnor_popcount #(.SIMD(SIMD), .REG_EVERY(POP_REG_EVERY)) u_pop (
                .clk(clk), .x(x_q), .w(w_cur[p*SIMD +: SIMD]), .cnt(cnt));
            // A one-step count wider than the accumulator only happens with a mis-sized ACC_BITS; the upper
            // bits are then dropped on purpose (modulo arithmetic, as in the integer mode).
            if (BORDER != 0) begin : g_zero_pad
                // 2*count inside the image, SIMD for a padded word: acc = z + MW with padded taps counting 0
                assign step = p_pad ? AW'(SIMD) : AW'({cnt, 1'b0});
            end else begin : g_plain
                assign step = AW'(cnt);
            end
        end else if (WB > 1) begin : g_kbit
            // k-bit weights: the PE's dot product as one bit heap of partial products (mvu_kbit_dot)
            localparam int KW = $clog2(kd_max(SIMD, IN_BITS, WB, IN_BIPOLAR, TERNARY) + 1);
            /* verilator lint_off UNUSEDSIGNAL */
            logic [KW-1:0] dot;  // upper bits unused when ACC_BITS is tighter than the heap's width
            /* verilator lint_on UNUSEDSIGNAL */
            logic [KW-1:0] dot_d[POP_LAT - TERN_LAT + 1];
            mvu_kbit_dot #(.SIMD(SIMD), .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED), .IN_BIPOLAR(IN_BIPOLAR), .WB(WB),
                           .WS(WEIGHT_SIGNED), .REG_EVERY(POP_REG_EVERY), .TERN(TERNARY)) u_dot (
                .clk(clk), .x(x_q), .w(w_cur[p*SIMD*WB +: SIMD*WB]), .sum(dot_d[0]));
            for (genvar d = 1; d <= POP_LAT - TERN_LAT; d++) begin : g_delay
                always_ff @(posedge clk) dot_d[d] <= dot_d[d - 1];
            end
            assign dot = dot_d[POP_LAT - TERN_LAT];
            // The step is the heap sum without its constant (ACC_INIT = SF * KB_CONST starts the accumulator);
            // arithmetic modulo 2^AW is exact: the final accumulator fits ACC_BITS+1 signed bits.
            assign step = AW'(dot);
            // zero-extended: the heap sum is non-negative and may not fit AW signed bits (only the whole
            // accumulator does), so the DW-bit datapath must not sign-extend its AW-bit residue
            assign step_t = DW'(dot);
        end else begin : g_int
            // x * (+-1) per lane (TW = IN_BITS + 1 bits) summed by a balanced adder tree
            localparam int TW = IN_BITS + 1;
            localparam int NP2 = 1 << $clog2(SIMD);
            localparam int PW = TW + $clog2(NP2);
            logic [NP2*TW-1:0] terms;
            /* verilator lint_off UNUSEDSIGNAL */
            logic [PW-1:0] sum;  // upper bits unused when ACC_BITS is tighter than the tree's width
            /* verilator lint_on UNUSEDSIGNAL */
            for (genvar s = 0; s < NP2; s++) begin : g_term
                if (s < SIMD) begin : g_lane
                    logic [IN_BITS-1:0] xs;
                    logic [TW-1:0] ext;
                    assign xs = x_q[s*IN_BITS +: IN_BITS];
                    assign ext = IN_SIGNED != 0 ? {xs[IN_BITS-1], xs} : {1'b0, xs};
                    assign terms[s*TW +: TW] = w_cur[p*SIMD + s] ? ext : -ext;
                end else begin : g_pad
                    assign terms[s*TW +: TW] = '0;
                end
            end
            mvu_add_tree #(.N(NP2), .W(TW)) u_sum (.clk(clk), .terms(terms), .sum(sum));
            // Two's complement arithmetic modulo 2^AW is exact: the final sum fits ACC_BITS+1 signed bits.
            assign step = AW'($signed(sum));
        end
        if (!(BINARY_XNOR == 0 && WB > 1)) begin : g_step_t
            assign step_t = DW'($signed(step));  // a per-step value within the accumulator's signed range
        end
        if (N_THRESH == 1 || TERNARY != 0) begin : g_t1
            // The accumulator starts at -T_0, so its sign is [acc >= T_0]: no comparator for the first threshold.
            // TERNARY: the memory holds the start value ACC_INIT - T_0 itself, loaded without a subtraction (a
            // carry chain per PE where the threshold ROM is too deep to fold it into its read LUTs), and T_i - T_0
            // for i > 0 (compile/mvu_map.py ternary_spec), compared with acc - T_0; one comparator fewer per PE for
            // one accumulator bit more.
            logic [DW-1:0] acc_t, t_ext, start;
            logic [THRESH_BITS-1:0] t;
            assign t = TERNARY != 0 ? t_start[p*N_THRESH*THRESH_BITS +: THRESH_BITS]
                                    : t_cur[p*N_THRESH*THRESH_BITS +: THRESH_BITS];
            assign t_ext = THRESH_SIGNED != 0 ? DW'($signed(t)) : DW'(t);
            // otherwise the heap's constant of the whole vector (k-bit weights) joins -T here
            assign start = TERNARY != 0 ? t_ext : DW'(ACC_INIT) - t_ext;
            always_ff @(posedge clk) begin
                if (p_valid) acc_t <= (p_first ? start : acc_t) + step_t;
            end
            if (N_THRESH == 1) begin : g_sign
                assign out_word[p] = !acc_t[DW-1];
            end else begin : g_diff
                assign out_word[p*OUT_BITS +: OUT_BITS] =
                    thresh_count(acc_t, thr_q[p*N_THRESH*THRESH_BITS +: N_THRESH*THRESH_BITS], 1'b1);
            end
        end else begin : g_acc
            logic [AW-1:0] acc;
            always_ff @(posedge clk) begin
                if (p_valid) acc <= ACC_INIT != 0 ? (p_first ? AW'(ACC_INIT) : acc) + step
                                                  : (p_first ? step : acc + step);
            end
            if (N_THRESH == 0) begin : g_raw
                assign out_word[p*OUT_BITS +: OUT_BITS] = acc[OUT_BITS-1:0];
                wire unused_msb = acc[AW-1];  // the extra bit only serves the comparisons
            end else begin : g_cmp
                assign out_word[p*OUT_BITS +: OUT_BITS] =
                    thresh_count(CW'($signed(acc)), thr_q[p*N_THRESH*THRESH_BITS +: N_THRESH*THRESH_BITS], 1'b0);
            end
        end
    end

    // ---- thresholds and the output word ----
    // N_THRESH = 1 reads fold nf's thresholds while its steps arrive (asynchronous ROM read, which synthesis
    // folds into the accumulator LUTs for small NF); N_THRESH > 1 registers them with the fold's last step.
    logic fin_q;
    logic [TWW-1:0] t_cur, thr_q, t_start;
    logic [PE*OUT_BITS-1:0] out_word;
    always_ff @(posedge clk) begin
        if (!rst_n) fin_q <= 1'b0;
        else fin_q <= p_valid && p_last;
    end
    if (N_THRESH > 0) begin : g_tmem
        if (TERNARY != 0) begin : g_start
            // the fold's word, read into a register one cycle before its first step reaches the accumulator (one
            // registered ROM read port: no asynchronous read in front of the accumulator's adder, and a deep ROM
            // may go to block RAM); the comparisons take it over with the fold's last step
            logic q_valid, q_first;
            logic [NFW-1:0] q_nf;
            /* verilator lint_off UNUSEDSIGNAL */
            logic [1:0] q_unused;
            /* verilator lint_on UNUSEDSIGNAL */
            assign {q_valid, q_first, q_unused, q_nf} = ctl[POP_LAT - 1];
            // the style is explicit: Yosys' own choice for a registered ROM port kept deep ROMs in LUTs
            /* verilator lint_off WIDTHEXPAND */
            if (THRESH_STYLE == "block") begin : g_tbram
            /* verilator lint_on WIDTHEXPAND */
                (* rom_style = "block", ram_style = "block" *) logic [TWW-1:0] tmem[TDEPTH];
                initial $readmemh(THRESH_FILE, tmem, 0, NF - 1);
                always_ff @(posedge clk) if (q_valid && q_first) t_start <= tmem[q_nf];
            end else begin : g_tlut
                (* rom_style = "distributed", ram_style = "distributed" *) logic [TWW-1:0] tmem[TDEPTH];
                initial $readmemh(THRESH_FILE, tmem, 0, NF - 1);
                always_ff @(posedge clk) if (q_valid && q_first) t_start <= tmem[q_nf];
            end
            always_ff @(posedge clk) if (p_valid && p_last) thr_q <= t_start;
            assign t_cur = '0;
        end else begin : g_no_start
            logic [TWW-1:0] tmem[TDEPTH];
            initial $readmemh(THRESH_FILE, tmem, 0, NF - 1);
            assign t_cur = tmem[p_nf];
            always_ff @(posedge clk) if (p_valid && p_last) thr_q <= t_cur;
            assign t_start = '0;
        end
    end else begin : g_no_tmem
        assign t_cur = '0;
        assign thr_q = '0;
        assign t_start = '0;
    end
    logic unused_thr;  // only one of t_cur / thr_q is used, per N_THRESH
    assign unused_thr = &{1'b0, t_cur, thr_q, t_start, p_nf, p_pad};

    mvu_out_fifo #(.W(PE*OUT_BITS), .DEPTH(ODEPTH)) u_out (
        .clk(clk), .rst_n(rst_n), .reserve(issue && is_last), .can_reserve(credit),
        .wr_en(fin_q), .wr_data(out_word), .m_tdata(m_tdata), .m_tvalid(m_tvalid), .m_tready(m_tready));

    // NUM_VECTORS only documents the frame (cycles per frame = NUM_VECTORS*SF*NF): vectors are independent.
    localparam int CYCLES_PER_FRAME = NUM_VECTORS * SF * NF;
    logic unused_doc;
    assign unused_doc = &{1'b0, CYCLES_PER_FRAME[0]};
endmodule
