// Data-width converter (FINN: StreamingDataWidthConverter): regroups a stream of ELEM_BITS-bit elements from
// IN_ELEMS to OUT_ELEMS elements per word, identity on the element sequence (element 0 of a word at the LSB).
// Any IN_ELEMS/OUT_ELEMS pair works; the frame's innermost dimension is a multiple of both, so frames stay
// aligned to word boundaries.
//
// Occupancy: a buffer of BUF elements holding `count` elements; an input word is taken when
// count <= BUF - IN_ELEMS, an output word (the OUT_ELEMS oldest elements) is offered when count >= OUT_ELEMS; both
// conditions read registers only, except g_down's below. Input and output move in the same cycle. BUF is hw_templates dwc_buffer_elems,
// which the cycle model and FIFO sizing use. Two datapaths:
// - OUT_ELEMS a whole multiple of IN_ELEMS (g_up): BUF = 2*OUT_ELEMS - IN_ELEMS, the output register and the
//   RATIO-1 input words of the next output word, which shift in (each register loads its neighbour) so that the
//   data costs flip-flops only; the last input word of an output word goes straight into the output register,
//   taken only once the previous output word has left (an output handshake frees room from the next cycle).
// - IN_ELEMS a whole multiple of OUT_ELEMS (g_down): BUF = IN_ELEMS, the one held input word, read out a group of
//   OUT_ELEMS per output word; the next input word is taken when the buffer is empty or in the cycle its last
//   group leaves (s_tready reads m_tready: freed room is used in the same cycle), so words follow back to back.
// - Otherwise (g_ring): BUF = IN_ELEMS + 2*OUT_ELEMS + min(IN_ELEMS, OUT_ELEMS) - G (G = gcd(IN_ELEMS,
//   OUT_ELEMS); the min - G term is 0 when one count divides the other), `count` in units of G elements: up to
//   two complete output words can wait un-taken while an input word is still accepted. Data: a ring of slots
//   with a write and a read pointer (see SLOTS_U below); nothing is shifted.
// Timing (never stalled): the slower side runs at one word per cycle, so cycles per frame =
// max(words in, words out) per frame (+ at most one cycle); latency: the output word completed by an input
// handshake at cycle c is offered at cycle c+1.
module dwc #(
    parameter int IN_ELEMS = 4,
    parameter int OUT_ELEMS = 2,
    parameter int ELEM_BITS = 1
) (
    input  logic                          clk,
    input  logic                          rst_n,
    input  logic [IN_ELEMS*ELEM_BITS-1:0] s_tdata,
    input  logic                          s_tvalid,
    output logic                          s_tready,
    output logic [OUT_ELEMS*ELEM_BITS-1:0] m_tdata,
    output logic                          m_tvalid,
    input  logic                          m_tready
);
    // Verilog-2005 style so that Yosys evaluates it as a constant function.
    function automatic integer gcd(input integer a, input integer b);
        integer x, y, t;
        begin
            x = a;
            y = b;
            while (y != 0) begin
                t = x % y;
                x = y;
                y = t;
            end
            gcd = x;
        end
    endfunction

    localparam int IB = IN_ELEMS * ELEM_BITS, OB = OUT_ELEMS * ELEM_BITS;
    localparam int RATIO = OUT_ELEMS / IN_ELEMS;

    if (OUT_ELEMS > IN_ELEMS && OUT_ELEMS % IN_ELEMS == 0) begin : g_up
        // Whole multiple up: the first RATIO-1 words of an output word shift into `acc` (each flip-flop loads
        // its neighbour: no LUTs), the last one goes straight into the output register beside them.
        logic [(RATIO-1)*IB-1:0] acc;
        localparam int NW = $clog2(RATIO);
        logic [NW-1:0] n_in;  // words of the next output word already taken
        logic last, in_fire;

        assign last     = n_in == NW'(RATIO - 1);
        assign s_tready = !(last && m_tvalid);
        assign in_fire  = s_tvalid && s_tready;

        always_ff @(posedge clk) begin
            if (!rst_n) begin
                n_in     <= '0;
                m_tvalid <= 1'b0;
            end else begin
                if (in_fire) n_in <= last ? '0 : n_in + 1'b1;
                if (in_fire && last) m_tvalid <= 1'b1;
                else if (m_tready) m_tvalid <= 1'b0;
            end
        end
        // Data registers carry no reset: m_tdata is read only while m_tvalid, acc only after RATIO-1 words.
        if (RATIO > 2) begin : g_shift
            always_ff @(posedge clk) if (in_fire) acc <= {s_tdata, acc[(RATIO-1)*IB-1:IB]};
        end else begin : g_hold
            always_ff @(posedge clk) if (in_fire) acc <= s_tdata;
        end
        always_ff @(posedge clk) if (in_fire && last) m_tdata <= {s_tdata, acc};
    end else if (IN_ELEMS > OUT_ELEMS && IN_ELEMS % OUT_ELEMS == 0) begin : g_down
        // Whole multiple down: the input word is held in `sr` (loaded whole: flip-flop enables, no LUTs) and
        // its DR groups are read out through one DR:1 mux per output bit, which costs about half the LUTs of
        // shifting the held word down by a group per output word.
        localparam int DR = IN_ELEMS / OUT_ELEMS;
        localparam int NG = $clog2(DR);
        logic [IB-1:0] sr;
        logic [NG-1:0] n_out;  // groups of the held word already sent
        logic last, in_fire, out_fire;

        assign last     = n_out == NG'(DR - 1);
        assign s_tready = !m_tvalid || (last && m_tready);
        assign in_fire  = s_tvalid && s_tready;
        assign out_fire = m_tvalid && m_tready;

        always_ff @(posedge clk) begin
            if (!rst_n) begin
                n_out    <= '0;
                m_tvalid <= 1'b0;
            end else begin
                if (in_fire) n_out <= '0;
                else if (out_fire) n_out <= n_out + 1'b1;
                if (in_fire) m_tvalid <= 1'b1;
                else if (out_fire && last) m_tvalid <= 1'b0;
            end
        end
        // Data registers carry no reset: sr is read only while m_tvalid.
        always_ff @(posedge clk) if (in_fire) sr <= s_tdata;
        assign m_tdata = sr[32'(n_out) * OB +: OB];
    end else begin : g_ring
        localparam int G = gcd(IN_ELEMS, OUT_ELEMS);
        localparam int MIN_ELEMS = IN_ELEMS < OUT_ELEMS ? IN_ELEMS : OUT_ELEMS;
        localparam int BUF = IN_ELEMS + 2 * OUT_ELEMS + MIN_ELEMS - G;
        localparam int IN_U = IN_ELEMS / G, OUT_U = OUT_ELEMS / G, BUF_U = BUF / G;
        localparam int CW = $clog2(BUF_U + 1);
        // Storage: a ring of SLOTS_U >= BUF_U units, SLOTS_U a multiple of IN_U * OUT_U (= lcm, the two are
        // coprime), so every input word lands on a fixed IN_ELEMS slot (register enables, no insertion shifter)
        // and every output word is one of SLOTS_U / OUT_U aligned OUT_ELEMS slots (one narrow read mux instead of
        // a shift of the whole buffer). The extra slots are never occupied: `count` alone decides the handshakes.
        localparam int L_U = IN_U * OUT_U;
        localparam int SLOTS_U = (BUF_U + L_U - 1) / L_U * L_U;
        localparam int N_IN = SLOTS_U / IN_U, N_OUT = SLOTS_U / OUT_U;
        localparam int OW = $clog2(N_OUT);

        logic [SLOTS_U*G*ELEM_BITS-1:0] mem;
        logic [CW-1:0] count;
        logic [N_IN-1:0] wsel;  // next input slot, one-hot: its rotation and the write enables cost no LUTs
        logic [OW-1:0] rp;  // oldest output slot
        logic          in_fire, out_fire;

        assign s_tready = count <= CW'(BUF_U - IN_U);
        assign m_tvalid = count >= CW'(OUT_U);
        assign m_tdata  = mem[32'(rp) * OB +: OB];
        assign in_fire  = s_tvalid && s_tready;
        assign out_fire = m_tvalid && m_tready;

        always_ff @(posedge clk) begin
            if (!rst_n) begin
                count <= '0;
                wsel  <= N_IN'(1);
                rp    <= '0;
            end else begin
                count <= count - (out_fire ? CW'(OUT_U) : '0) + (in_fire ? CW'(IN_U) : '0);
                if (in_fire) wsel <= {wsel[N_IN-2:0], wsel[N_IN-1]};
                if (out_fire) rp <= rp == OW'(N_OUT - 1) ? '0 : rp + 1'b1;
            end
        end

        // Data registers carry no reset: a slot is read only after an input word has filled it.
        always_ff @(posedge clk)
            for (int w = 0; w < N_IN; w++)
                if (in_fire && wsel[w]) mem[w*IB +: IB] <= s_tdata;
    end
endmodule
