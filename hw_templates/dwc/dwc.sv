// Data-width converter (FINN: StreamingDataWidthConverter): regroups a stream of ELEM_BITS-bit elements from
// IN_ELEMS to OUT_ELEMS elements per word, identity on the element sequence (element 0 of a word at the LSB).
// Any IN_ELEMS/OUT_ELEMS pair works; the frame's innermost dimension is a multiple of both, so frames stay
// aligned to word boundaries.
//
// Structure: an element buffer of BUF = IN_ELEMS + 2*OUT_ELEMS + min(IN_ELEMS, OUT_ELEMS) - G elements
// (G = gcd(IN_ELEMS, OUT_ELEMS); the min - G term is 0 when one count divides the other), holding `count`
// elements (oldest at the LSB), counted in units of G elements so that the input word's insertion shifter has
// only (BUF - IN_ELEMS)/G + 1 positions. An input word is taken when count <= BUF - IN_ELEMS (so up to two
// complete output words can wait un-taken while an input word is still accepted: the slack that absorbs a
// consumer's bursts, e.g. an MVU taking its whole input vector in one fold); an output word (the OUT_ELEMS
// oldest elements) is offered when count >= OUT_ELEMS; both conditions read registers only. Input and output
// move in the same cycle.
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

    localparam int G = gcd(IN_ELEMS, OUT_ELEMS);
    localparam int MIN_ELEMS = IN_ELEMS < OUT_ELEMS ? IN_ELEMS : OUT_ELEMS;
    localparam int BUF = IN_ELEMS + 2 * OUT_ELEMS + MIN_ELEMS - G;
    localparam int BW = BUF * ELEM_BITS;
    localparam int UB = G * ELEM_BITS;  // bits per unit of G elements
    localparam int IN_U = IN_ELEMS / G, OUT_U = OUT_ELEMS / G, BUF_U = BUF / G;
    localparam int CW = $clog2(BUF_U + 1);

    logic [BW-1:0] buf_q, shifted, incoming;
    logic [CW-1:0] count, base;
    logic          in_fire, out_fire;

    assign s_tready = count <= CW'(BUF_U - IN_U);
    assign m_tvalid = count >= CW'(OUT_U);
    assign m_tdata  = buf_q[OUT_ELEMS*ELEM_BITS-1:0];
    assign in_fire  = s_tvalid && s_tready;
    assign out_fire = m_tvalid && m_tready;

    // Elements above `count` are kept zero (reset clears them, shifts fill with zeros), so the new word can be
    // ORed in at its position.
    always_comb begin
        shifted  = out_fire ? buf_q >> (OUT_ELEMS * ELEM_BITS) : buf_q;
        base     = out_fire ? count - CW'(OUT_U) : count;
        incoming = in_fire ? BW'(s_tdata) << (32'(base) * UB) : '0;
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            buf_q <= '0;
            count <= '0;
        end else begin
            buf_q <= shifted | incoming;
            count <= base + (in_fire ? CW'(IN_U) : '0);
        end
    end
endmodule
