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
// Structure: hw_templates/window_pool with the sum as its reduction (SUM = 1; the row buffer holds PE partial
// sums of OUT_BITS per word), which gives its timing and latency: one input word per cycle, refused only when
// it completes a window and the 2-word output queue is full; the output word is offered in the cycle after
// the handshake of the input word completing its window.
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
    if (BIPOLAR != 0 && IN_BITS != 1) begin : g_check_bipolar
        $error("acc_pool: BIPOLAR needs IN_BITS = 1");
    end

    // A ±1 element's bit is summed as 0/1 (the count of +1s), never sign-extended.
    window_pool #(.IFM_H(IFM_H), .IFM_W(IFM_W), .CHANNELS(CHANNELS), .PE(PE), .KERNEL(KERNEL), .STRIDE(STRIDE),
                  .IN_BITS(IN_BITS), .IN_SIGNED(BIPOLAR == 0 && IN_SIGNED != 0 ? 1 : 0), .OUT_BITS(OUT_BITS),
                  .SUM(1)) u_pool (
        .clk, .rst_n, .s_tdata, .s_tvalid, .s_tready, .m_tdata, .m_tvalid, .m_tready
    );
endmodule
