// The multi-threshold rule (FINN: MultiThreshold; compile/ir.py Thresholding, sim/golden.py multithreshold)
// as one function, count = sum_i [x >= T_i] over the N_THRESH thresholds of one lane, written once for every
// block that thresholds a value (hw_templates/thresholding, mvu.sv's fused comparators).
// Included inside a module body: it takes that module's N_THRESH, THRESH_BITS, THRESH_SIGNED, OUT_BITS and
// THRESH_CW (the comparison width: x and every threshold fit THRESH_CW signed bits, so the comparison is
// exact). x is two's complement; threshold i sits at bits [i*THRESH_BITS, (i+1)*THRESH_BITS) of t, two's
// complement when THRESH_SIGNED, else unsigned. Unsorted thresholds are fine: the count is a sum of comparisons.
// sign_first (a constant at every call): x already holds value - T_0, so the first comparison is x's sign bit
// and t's first slot is not read (mvu.sv TERNARY, whose memory holds T_i - T_0 for i > 0).
// t keeps one slot when N_THRESH = 0 (an MVU without thresholds includes the file but never calls it).
// A function, not a module: synth_xilinx keeps the hierarchy, and behind a module boundary the comparators no
// longer see which threshold bits the ROM holds constant (thresholding.sv, 64 channels, PE 8, one threshold on
// UINT3: 86 LUT instead of 60).
function automatic logic [OUT_BITS-1:0] thresh_count(input logic [THRESH_CW-1:0] x,
                                                     input logic [(N_THRESH > 0 ? N_THRESH : 1)*THRESH_BITS-1:0] t,
                                                     input logic sign_first);
    logic [THRESH_BITS-1:0] ti;
    logic [THRESH_CW-1:0] t_ext;
    logic ge;
    begin
        thresh_count = '0;
        for (int i = 0; i < N_THRESH; i++) begin
            ti = t[i*THRESH_BITS +: THRESH_BITS];
            t_ext = THRESH_SIGNED != 0 ? THRESH_CW'($signed(ti)) : THRESH_CW'(ti);
            ge = sign_first && i == 0 ? !x[THRESH_CW-1] : $signed(x) >= $signed(t_ext);
            thresh_count = thresh_count + OUT_BITS'(ge);
        end
    end
endfunction
