// Streaming max-pool (FINN: StreamingMaxPool): (IFM_H, IFM_W, CHANNELS) -> (OH, OW, CHANNELS) with
// OH = (IFM_H - KERNEL) / STRIDE + 1 (likewise OW), max over KERNEL x KERNEL windows, no padding, PE channels per
// word. Needs STRIDE >= KERNEL (non-overlapping windows: FINN's kernel == stride case, plus skipped rows and
// columns when STRIDE > KERNEL); pixels outside every window are read and dropped. Elements are ELEM_BITS wide,
// two's complement when SIGNED; BIPOLAR maps use ELEM_BITS = 1, SIGNED = 0, where max is the OR of the bits.
// Overlapping pools use this block too, after a sliding window (compile/passes/pool_windows.py): the window
// stream read as an (OH*OW*K, K) image with KERNEL = STRIDE = K reduces each window's taps.
//
// Structure: hw_templates/window_pool with the max as its reduction (SUM = 0), which gives its timing and
// latency: one input word per cycle, refused only when it completes a window and the 2-word output queue is
// full; the output word is offered in the cycle after the handshake of the input word completing its window.
module maxpool #(
    parameter int IFM_H = 4,
    parameter int IFM_W = 4,
    parameter int CHANNELS = 2,
    parameter int PE = 1,
    parameter int KERNEL = 2,
    parameter int STRIDE = 2,
    parameter int ELEM_BITS = 1,
    parameter int SIGNED = 0
) (
    input  logic                     clk,
    input  logic                     rst_n,
    input  logic [PE*ELEM_BITS-1:0]  s_tdata,
    input  logic                     s_tvalid,
    output logic                     s_tready,
    output logic [PE*ELEM_BITS-1:0]  m_tdata,
    output logic                     m_tvalid,
    input  logic                     m_tready
);
    window_pool #(.IFM_H(IFM_H), .IFM_W(IFM_W), .CHANNELS(CHANNELS), .PE(PE), .KERNEL(KERNEL), .STRIDE(STRIDE),
                  .IN_BITS(ELEM_BITS), .IN_SIGNED(SIGNED), .OUT_BITS(ELEM_BITS), .SUM(0)) u_pool (
        .clk, .rst_n, .s_tdata, .s_tvalid, .s_tready, .m_tdata, .m_tvalid, .m_tready
    );
endmodule
