// crc16_ccitt: CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, bits MSB first, no final XOR; the
// same CRC as Python's binascii.crc_hqx(data, 0xFFFF)) advanced by one byte. Combinational: an XOR network of
// about two LUT4 levels per output bit, enough at UART byte rates.
module crc16_ccitt (
    input  logic [15:0] crc,
    input  logic [7:0]  data,
    output logic [15:0] next
);
    function automatic logic [15:0] step(input logic [15:0] c, input logic [7:0] d);
        logic [15:0] r;
        r = c;
        for (int i = 7; i >= 0; i--) r = (r[15] ^ d[i]) ? ((r << 1) ^ 16'h1021) : (r << 1);
        step = r;
    endfunction
    assign next = step(crc, data);
endmodule
