// Constant functions describing a bit heap (columns of bits; column c has weight 2^c) and one compression level
// of mvu_heap.sv. Heights are packed 16 bits per column, 32 columns (bits [16c, 16c+16) = height of column c).
// Shared by mvu_heap.sv (structure) and mvu.sv (latency), so both always agree.
// One level: in every column, each full group of 6 bits goes through a 6:3 counter; a remainder r of 4 or 5 bits
// through an r:3 counter, of 3 bits through a 3:2 counter (full adder); 1 or 2 bits pass. A counter's outputs
// land in columns c, c+1 (and c+2 for 4..6 inputs). Columns >= OW are dropped: the heap's total is below 2^OW
// and every bit is non-negative, so a bit of weight >= 2^OW is always 0. Levels repeat while a column holds
// more than 3 bits; then one 3-row carry-propagate addition ends the tree.
// The functions return through their names (Verilog-2005 style) because Yosys cannot evaluate `return` in a
// constant function; Verilator sees that name as a variable hiding the function, hence the waiver.
/* verilator lint_off VARHIDDEN */

function automatic integer heap_h(input logic [511:0] hs, input integer c);
    heap_h = (c >= 0 && c < 32) ? integer'(hs[c*16 +: 16]) : 0;
endfunction

// bits of columns 0 .. c-1 (= offset of column c in the packed bit vector)
function automatic integer heap_off(input logic [511:0] hs, input integer c);
    integer j, s;
    begin
        s = 0;
        for (j = 0; j < c && j < 32; j = j + 1) s = s + heap_h(hs, j);
        heap_off = s;
    end
endfunction

// counters fed by column c (each has an output of weight 2^c and one of weight 2^(c+1))
function automatic integer heap_ncnt(input logic [511:0] hs, input integer c);
    heap_ncnt = heap_h(hs, c) / 6 + ((heap_h(hs, c) % 6) >= 3 ? 1 : 0);
endfunction

// those of them with an output of weight 2^(c+2) (4 to 6 inputs)
function automatic integer heap_n3(input logic [511:0] hs, input integer c);
    heap_n3 = heap_h(hs, c) / 6 + ((heap_h(hs, c) % 6) >= 4 ? 1 : 0);
endfunction

// bits of column c that pass a level unchanged
function automatic integer heap_pass(input logic [511:0] hs, input integer c);
    heap_pass = (heap_h(hs, c) % 6) < 3 ? heap_h(hs, c) % 6 : 0;
endfunction

// Column c of the next level holds, in this order: the weight-1 outputs of column c's counters, the weight-2
// outputs of column c-1's counters, the weight-4 outputs of column c-2's counters, column c's passing bits.
function automatic logic [511:0] heap_next(input logic [511:0] hs, input integer ow);
    logic [511:0] r;
    integer c;
    begin
        r = '0;
        for (c = 0; c < ow && c < 32; c = c + 1)
            r[c*16 +: 16] = 16'(heap_ncnt(hs, c) + heap_ncnt(hs, c - 1) + heap_n3(hs, c - 2) + heap_pass(hs, c));
        heap_next = r;
    end
endfunction

function automatic integer heap_maxh(input logic [511:0] hs);
    integer c, m;
    begin
        m = 0;
        for (c = 0; c < 32; c = c + 1) if (heap_h(hs, c) > m) m = heap_h(hs, c);
        heap_maxh = m;
    end
endfunction

// compression levels before the final addition
function automatic integer heap_levels(input logic [511:0] hs, input integer ow);
    logic [511:0] h;
    integer n;
    begin
        h = hs;
        n = 0;
        while (heap_maxh(h) > 3 && n < 64) begin
            h = heap_next(h, ow);
            n = n + 1;
        end
        heap_levels = n;
    end
endfunction

// popcount of every 6-bit value, 3 bits each: counters index this constant table, so synthesis sees a pure
// 6-input function per output bit (one LUT6) instead of an adder chain that it would map to carry logic
function automatic logic [191:0] heap_pop6_table();
    logic [191:0] t;
    integer v, b, n;
    begin
        for (v = 0; v < 64; v = v + 1) begin
            n = 0;
            for (b = 0; b < 6; b = b + 1) n = n + ((v >> b) & 1);
            t[3*v +: 3] = 3'(n);
        end
        heap_pop6_table = t;
    end
endfunction

// heap after the fused XNOR stage of SIMD lanes: column 0 = ceil(SIMD/3) bits, column 1 = groups of >= 2 lanes
function automatic logic [511:0] heap_xnor3(input integer simd);
    logic [511:0] r;
    begin
        r = '0;
        r[15:0] = 16'((simd + 2) / 3);
        r[31:16] = 16'(simd / 3 + (simd % 3 == 2 ? 1 : 0));
        heap_xnor3 = r;
    end
endfunction
// k-bit weight dot products (mvu_kbit_dot.sv): partial-product kinds per lane. Integer x (ib bits): kind
// k = i*wb + j is x_i & w_j at column i + j. +-1 x (bip): kind j < wb is x_0 & w_j at column j + 1, kind wb + j
// is w_j at column j (x*w = 2*x_0*w - w).
function automatic integer kb_kinds(input integer ib, input integer wb, input integer bip);
    kb_kinds = bip != 0 ? 2 * wb : ib * wb;
endfunction

function automatic integer kb_col(input integer k, input integer wb, input integer bip);
    if (bip != 0) kb_col = k < wb ? k + 1 : k - wb;
    else kb_col = k / wb + k % wb;
endfunction

// 1 when the kind's partial bit counts negatively: exactly one factor is a sign bit (weight -2^(n-1)); for +-1 x
// the -w term is negative unless w_j is the sign bit of a signed w
function automatic integer kb_neg(input integer k, input integer ib, input integer xs, input integer wb,
                                  input integer ws, input integer bip);
    integer wsign;
    begin
        wsign = (ws != 0 && (bip != 0 ? (k < wb ? k : k - wb) : k % wb) == wb - 1) ? 1 : 0;
        if (bip != 0) kb_neg = k < wb ? wsign : 1 - wsign;
        else kb_neg = ((xs != 0 && k / wb == ib - 1) ? 1 : 0) ^ wsign;
    end
endfunction

// heap bits kind k puts into column c: ceil(simd/3) counts of weight 2^col, the groups of >= 2 lanes one of 2^(col+1)
function automatic integer kb_contrib(input integer k, input integer c, input integer simd, input integer wb,
                                      input integer bip);
    kb_contrib = (kb_col(k, wb, bip) == c ? (simd + 2) / 3 : 0)
               + (kb_col(k, wb, bip) + 1 == c ? simd / 3 + (simd % 3 == 2 ? 1 : 0) : 0);
endfunction

// position of kind k's first bit within column c (kinds in order)
function automatic integer kb_pos(input integer k, input integer c, input integer simd, input integer wb,
                                  input integer bip);
    integer j, s;
    begin
        s = 0;
        for (j = 0; j < k; j = j + 1) s = s + kb_contrib(j, c, simd, wb, bip);
        kb_pos = s;
    end
endfunction

function automatic logic [511:0] kb_heights(input integer simd, input integer ib, input integer wb, input integer bip);
    logic [511:0] r;
    integer c;
    begin
        r = '0;
        for (c = 0; c < 32; c = c + 1) r[c*16 +: 16] = 16'(kb_pos(kb_kinds(ib, wb, bip), c, simd, wb, bip));
        kb_heights = r;
    end
endfunction

// largest heap sum (every bit 1): simd * sum over kinds of 2^col
function automatic integer kb_max(input integer simd, input integer ib, input integer wb, input integer bip);
    integer k, s;
    begin
        s = 0;
        for (k = 0; k < kb_kinds(ib, wb, bip); k = k + 1) s = s + (1 << kb_col(k, wb, bip));
        kb_max = simd * s;
    end
endfunction

// the constant that turns the heap of complemented negative bits into the dot product: -simd * sum_neg 2^col
function automatic integer kb_const(input integer simd, input integer ib, input integer xs, input integer wb,
                                    input integer ws, input integer bip);
    integer k, s;
    begin
        s = 0;
        for (k = 0; k < kb_kinds(ib, wb, bip); k = k + 1)
            if (kb_neg(k, ib, xs, wb, ws, bip) != 0) s = s + (1 << kb_col(k, wb, bip));
        kb_const = -simd * s;
    end
endfunction
// Ternary weights (mvu_kbit_dot TERN = 1: 2-bit weights in {-1, 0, 1}, bit 1 = sign s, bit 0 = nonzero n): per lane
// x*w = n*V + (weight-only term), V the value of x ^ s (every bit of x flipped by s). Kind k of an integer x is the
// bit n & (x_k ^ s) at column k, negative for the sign bit of a signed x; a +-1 x has one kind, n & (x_0 ^ s) at
// column 1 (x*w = 2*n*(x_0 ^ s) - n). The weight-only terms are summed per output channel by the compiler and
// taken out of the thresholds (compile/mvu_map.py ternary_spec), so the heap holds IN_BITS bits per lane (one for
// +-1) instead of the IN_BITS*WB partial products.
function automatic integer kt_kinds(input integer ib, input integer bip);
    kt_kinds = bip != 0 ? 1 : ib;
endfunction

function automatic integer kt_col(input integer k, input integer bip);
    kt_col = bip != 0 ? 1 : k;
endfunction

function automatic integer kt_neg(input integer k, input integer ib, input integer xs, input integer bip);
    kt_neg = (bip == 0 && xs != 0 && k == ib - 1) ? 1 : 0;
endfunction

// one bit per lane and kind, every kind in its own column
function automatic logic [511:0] kt_heights(input integer simd, input integer ib, input integer bip);
    logic [511:0] r;
    integer k;
    begin
        r = '0;
        for (k = 0; k < kt_kinds(ib, bip); k = k + 1) r = r | (512'(simd) << (kt_col(k, bip) * 16));
        kt_heights = r;
    end
endfunction

function automatic integer kt_max(input integer simd, input integer ib, input integer bip);
    integer k, s;
    begin
        s = 0;
        for (k = 0; k < kt_kinds(ib, bip); k = k + 1) s = s + (1 << kt_col(k, bip));
        kt_max = simd * s;
    end
endfunction

function automatic integer kt_const(input integer simd, input integer ib, input integer xs, input integer bip);
    integer k, s;
    begin
        s = 0;
        for (k = 0; k < kt_kinds(ib, bip); k = k + 1)
            if (kt_neg(k, ib, xs, bip) != 0) s = s + (1 << kt_col(k, bip));
        kt_const = -simd * s;
    end
endfunction

// the heap of either datapath (tern = 1: ternary weights, else the partial products of kb_*)
function automatic logic [511:0] kd_heights(input integer simd, input integer ib, input integer wb, input integer bip,
                                            input integer tern);
    kd_heights = tern != 0 ? kt_heights(simd, ib, bip) : kb_heights(simd, ib, wb, bip);
endfunction

function automatic integer kd_max(input integer simd, input integer ib, input integer wb, input integer bip,
                                  input integer tern);
    kd_max = tern != 0 ? kt_max(simd, ib, bip) : kb_max(simd, ib, wb, bip);
endfunction

function automatic integer kd_const(input integer simd, input integer ib, input integer xs, input integer wb,
                                    input integer ws, input integer bip, input integer tern);
    kd_const = tern != 0 ? kt_const(simd, ib, xs, bip) : kb_const(simd, ib, xs, wb, ws, bip);
endfunction
/* verilator lint_on VARHIDDEN */
