// Elementwise sum of two streams (FINN: AddStreams_Batch): PE elements per word on each input and on the output,
// out[p] = value(in0[p]) + value(in1[p]). An input with INk_BIPOLAR = 1 carries 1-bit elements whose value is
// +1 (bit 1) or -1 (bit 0); otherwise INk_BITS-bit integers, two's complement when INk_SIGNED. OUT_BITS must hold
// every sum (the IR node's out_type; two's complement when it is signed, which the caller decides): the sum
// is computed modulo 2^OUT_BITS, which is exact for every sum the type holds.
//
// Ports: the two inputs are packed side by side, input k in slice k (input 0 at the LSBs:
// s_tdata = {in1, in0}, s_tvalid[k], s_tready[k]), so the stitched top connects one wire per graph edge.
// Handshake: a word is taken from both inputs in the same cycle, when both are valid and the output register
// is free (s_tready[k] is raised only while the other input is valid, so neither input is taken alone).
// Timing: one word per cycle when both inputs are valid and the consumer is ready; latency 1 (a pair taken at
// cycle c is offered at c + 1). The output is registered: the carry chain of the adders then ends in a register
// instead of running on into the consumer's logic (typically the requantising comparators of a Thresholding),
// and m_tvalid is a register, so the two producers' valid -> ready paths (one through the other input's
// s_tready) stop here and never chain with the consumer's ready.
module add_streams #(
    parameter int PE = 1,
    parameter int IN0_BITS = 1,
    parameter int IN0_SIGNED = 0,
    parameter int IN0_BIPOLAR = 1,
    parameter int IN1_BITS = 1,
    parameter int IN1_SIGNED = 0,
    parameter int IN1_BIPOLAR = 1,
    parameter int OUT_BITS = 2
) (
    input  logic                             clk,
    input  logic                             rst_n,
    input  logic [PE*(IN0_BITS+IN1_BITS)-1:0] s_tdata,
    input  logic [1:0]                       s_tvalid,
    output logic [1:0]                       s_tready,
    output logic [PE*OUT_BITS-1:0]           m_tdata,
    output logic                             m_tvalid,
    input  logic                             m_tready
);
    localparam int W0 = PE * IN0_BITS;

    if ((IN0_BIPOLAR != 0 && IN0_BITS != 1) || (IN1_BIPOLAR != 0 && IN1_BITS != 1)) begin : g_check
        $error("add_streams: a BIPOLAR input needs INk_BITS = 1");
    end

    logic [PE*OUT_BITS-1:0] sum;
    logic                   out_free, fire;

    always_comb begin
        logic [IN0_BITS-1:0] a;
        logic [IN1_BITS-1:0] b;
        logic [OUT_BITS-1:0] va, vb;
        for (int p = 0; p < PE; p++) begin
            a = s_tdata[p*IN0_BITS +: IN0_BITS];
            b = s_tdata[W0 + p*IN1_BITS +: IN1_BITS];
            if (IN0_BIPOLAR != 0) va = a[0] ? OUT_BITS'(1) : '1;
            else if (IN0_SIGNED != 0) va = OUT_BITS'($signed(a));
            else va = OUT_BITS'(a);
            if (IN1_BIPOLAR != 0) vb = b[0] ? OUT_BITS'(1) : '1;
            else if (IN1_SIGNED != 0) vb = OUT_BITS'($signed(b));
            else vb = OUT_BITS'(b);
            sum[p*OUT_BITS +: OUT_BITS] = va + vb;
        end
    end

    assign out_free = !m_tvalid || m_tready;
    assign s_tready = {s_tvalid[0], s_tvalid[1]} & {2{out_free}};
    assign fire     = s_tvalid[0] && s_tvalid[1] && out_free;

    always_ff @(posedge clk) begin
        if (!rst_n) m_tvalid <= 1'b0;
        else if (fire) m_tvalid <= 1'b1;
        else if (m_tready) m_tvalid <= 1'b0;
    end
    always_ff @(posedge clk) if (fire) m_tdata <= sum;
endmodule
