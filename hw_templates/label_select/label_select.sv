// Top-K label select (FINN: LabelSelect): per frame of LABELS values (PE per input word, IN_BITS each, two's
// complement if IN_SIGNED; BIPOLAR inputs use IN_BITS = 1, IN_SIGNED = 0 so that bit 1 (+1) > bit 0 (-1)),
// emit the indices of the K largest values, largest first, one index per output word (OUT_BITS wide).
// Ties: the lower index comes first (= sim/golden.py label_select).
//
// Structure: a running sorted list of K (value, index) registers. Each input word is merged in one cycle: its
// PE elements are inserted one after another (element e before e+1, each after the entries it only equals),
// so the list stays sorted by value, then by index. The last word of a frame moves the merged list into an
// output buffer of K indices and clears the running list.
// Timing: an input word is taken every cycle except that the frame's last word waits until the output buffer
// is empty (s_tready reads registers only). Cycles per frame, never stalled: max(LABELS/PE, K+1).
// Latency: the first index is offered on m_* in the cycle after the handshake of the frame's last word; the K
// indices follow on consecutive cycles.
module label_select #(
    parameter int LABELS = 10,
    parameter int K = 1,
    parameter int PE = 1,
    parameter int IN_BITS = 8,
    parameter int IN_SIGNED = 0,
    parameter int OUT_BITS = 4
) (
    input  logic                   clk,
    input  logic                   rst_n,
    input  logic [PE*IN_BITS-1:0]  s_tdata,
    input  logic                   s_tvalid,
    output logic                   s_tready,
    output logic [OUT_BITS-1:0]    m_tdata,
    output logic                   m_tvalid,
    input  logic                   m_tready
);
    localparam int WORDS = LABELS / PE;
    localparam int WCW = WORDS > 1 ? $clog2(WORDS) : 1;
    localparam int KW = $clog2(K + 1);
    localparam int PW = K > 1 ? $clog2(K) : 1;

    // Values are kept as IN_BITS+1-bit signed numbers so that one signed compare serves both signednesses.
    logic signed [IN_BITS:0] l_val[K], n_val[K];
    logic [OUT_BITS-1:0]     l_idx[K], n_idx[K], o_idx[K];
    logic [K-1:0]            l_vld, n_vld;
    logic [WCW-1:0]          wc;
    logic [KW-1:0]           o_cnt;
    logic [PW-1:0]           o_ptr;
    logic                    last_word, in_fire, out_fire;

    assign last_word = wc == WCW'(WORDS - 1);
    assign s_tready  = !last_word || o_cnt == '0;
    assign in_fire   = s_tvalid && s_tready;
    assign m_tvalid  = o_cnt != '0;
    assign m_tdata   = o_idx[o_ptr];
    assign out_fire  = m_tvalid && m_tready;

    always_comb begin
        logic signed [IN_BITS:0] v;
        logic [IN_BITS-1:0]      raw;
        int                      pos;
        n_val = l_val;
        n_idx = l_idx;
        n_vld = l_vld;
        for (int e = 0; e < PE; e++) begin
            raw = s_tdata[e*IN_BITS +: IN_BITS];
            v = {IN_SIGNED != 0 ? raw[IN_BITS-1] : 1'b0, raw};
            pos = K;
            for (int j = K - 1; j >= 0; j--) if (!n_vld[j] || v > n_val[j]) pos = j;
            for (int j = K - 1; j >= 1; j--) begin
                if (j > pos) begin
                    n_val[j] = n_val[j-1];
                    n_idx[j] = n_idx[j-1];
                    n_vld[j] = n_vld[j-1];
                end
            end
            for (int j = 0; j < K; j++) begin
                if (j == pos) begin
                    n_val[j] = v;
                    n_idx[j] = OUT_BITS'(32'(wc) * PE + e);
                    n_vld[j] = 1'b1;
                end
            end
        end
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            wc    <= '0;
            l_vld <= '0;
            o_cnt <= '0;
            o_ptr <= '0;
        end else begin
            if (in_fire) begin
                wc    <= last_word ? '0 : wc + WCW'(1);
                l_vld <= last_word ? '0 : n_vld;
            end
            if (in_fire && last_word) begin
                o_cnt <= KW'(K);
                o_ptr <= '0;
            end else if (out_fire) begin
                o_cnt <= o_cnt - KW'(1);
                o_ptr <= o_ptr + PW'(1);
            end
        end
    end

    always_ff @(posedge clk) begin
        if (in_fire) begin
            l_val <= n_val;
            l_idx <= n_idx;
        end
        if (in_fire && last_word) o_idx <= n_idx;
    end
endmodule
