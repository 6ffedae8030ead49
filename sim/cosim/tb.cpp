// Generic stream testbench for any candle-hw block or stitched top (Verilator --cc --exe, class Vdut).
//
// The design has the contract ports clk, rst_n, s_tdata/s_tvalid/s_tready, m_tdata/m_tvalid/m_tready of any
// width: the port types (CData/SData/IData/QData/VlWide<N>) are chosen by Verilator from the widths, and the
// overloads below read and write each of them, so this one file serves every design.
//
// Usage: sim IN_FILE OUT_FILE P_IN P_OUT SEED N_OUT MAX_CYCLES [VCD_FILE]
//   IN_FILE: one input word per line in hex. OUT_FILE gets
//     "I <cycle>"            for every input handshake,
//     "O <cycle> <hex>"      for every output handshake,
//     "T <cycle> <fire_hex> <data_hex>" (taps build only) for every cycle with a handshake on a tap stream,
//     "END <status> <cycles> <n_in> <n_out> <loop_ns>" last, status = ok | timeout; loop_ns = wall time of the
//     simulation loop alone (no process start, $readmemh or input parsing), for honest speed figures.
// Cycle 0 is the first rising edge after reset. Inputs are applied while clk is low, the design is evaluated,
// the handshakes are sampled (so ready may depend combinationally on valid), then the rising edge happens.
// s_tvalid follows AXI rules: once raised it stays high until the word is taken.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "Vdut.h"
#include "verilated.h"
#if VM_TRACE
#include "verilated_vcd_c.h"
#endif

typedef std::vector<uint32_t> Word;  // little-endian 32-bit chunks

static Word parse_hex(const char* s) {
    Word w;
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ')) --n;
    for (size_t end = n; end > 0;) {
        size_t begin = end >= 8 ? end - 8 : 0;
        w.push_back((uint32_t)strtoul(std::string(s + begin, end - begin).c_str(), nullptr, 16));
        end = begin;
    }
    return w;
}

static uint32_t chunk(const Word& w, size_t i) { return i < w.size() ? w[i] : 0u; }

static void set_port(CData& p, const Word& w) { p = (CData)chunk(w, 0); }
static void set_port(SData& p, const Word& w) { p = (SData)chunk(w, 0); }
static void set_port(IData& p, const Word& w) { p = chunk(w, 0); }
static void set_port(QData& p, const Word& w) { p = (QData)chunk(w, 0) | ((QData)chunk(w, 1) << 32); }
template <std::size_t N>
static void set_port(VlWide<N>& p, const Word& w) {
    for (std::size_t i = 0; i < N; ++i) p[i] = chunk(w, i);
}

static Word get_port(CData p) { return Word{p}; }
static Word get_port(SData p) { return Word{p}; }
static Word get_port(IData p) { return Word{p}; }
static Word get_port(QData p) { return Word{(uint32_t)p, (uint32_t)(p >> 32)}; }
template <std::size_t N>
static Word get_port(const VlWide<N>& p) {
    Word w(N);
    for (std::size_t i = 0; i < N; ++i) w[i] = p[i];
    return w;
}

static void print_hex(FILE* f, const Word& w) {
    size_t i = w.size();
    while (i > 1 && w[i - 1] == 0) --i;
    fprintf(f, "%x", w[i - 1]);
    while (i-- > 1) fprintf(f, "%08x", w[i - 1]);
}

static bool any_set(const Word& w) {
    for (uint32_t c : w)
        if (c) return true;
    return false;
}

// splitmix64: small, seedable, identical on every platform.
struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed) {}
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    bool chance(double p) { return p >= 1.0 || (double)(next() >> 11) * (1.0 / 9007199254740992.0) < p; }
};

int main(int argc, char** argv) {
    if (argc < 8) {
        fprintf(stderr, "usage: %s IN_FILE OUT_FILE P_IN P_OUT SEED N_OUT MAX_CYCLES [VCD_FILE]\n", argv[0]);
        return 2;
    }
    const double p_in = atof(argv[3]), p_out = atof(argv[4]);
    const uint64_t seed = strtoull(argv[5], nullptr, 10);
    const uint64_t n_out = strtoull(argv[6], nullptr, 10), max_cycles = strtoull(argv[7], nullptr, 10);

    std::vector<Word> in_words;
    FILE* fin = fopen(argv[1], "r");
    if (!fin) {
        fprintf(stderr, "cannot open %s\n", argv[1]);
        return 2;
    }
    static char line[1 << 16];
    while (fgets(line, sizeof line, fin))
        if (line[0] != '\n' && line[0] != '\0') in_words.push_back(parse_hex(line));
    fclose(fin);
    FILE* fout = fopen(argv[2], "w");
    if (!fout) {
        fprintf(stderr, "cannot open %s\n", argv[2]);
        return 2;
    }

    VerilatedContext* ctx = new VerilatedContext;
    ctx->commandArgs(argc, argv);
    Vdut* dut = new Vdut{ctx};
#if VM_TRACE
    VerilatedVcdC* vcd = nullptr;
    uint64_t t = 0;
    if (argc > 8) {
        ctx->traceEverOn(true);
        vcd = new VerilatedVcdC;
        dut->trace(vcd, 99);
        vcd->open(argv[8]);
    }
#define DUMP() \
    if (vcd) vcd->dump(t++)
#else
#define DUMP()
#endif
    // Two streams so that the valid pattern does not change when only the ready probability does.
    Rng rng_in(seed * 2 + 1), rng_out(seed * 2 + 2);

    dut->clk = 0;
    dut->rst_n = 0;
    dut->s_tvalid = 0;
    dut->m_tready = 0;
    for (int i = 0; i < 4; ++i) {
        dut->clk = 0;
        dut->eval();
        DUMP();
        dut->clk = 1;
        dut->eval();
        DUMP();
    }
    dut->clk = 0;
    dut->rst_n = 1;

    uint64_t cycle = 0, idx = 0, outs = 0;
    bool holding = false;
    const auto loop_start = std::chrono::steady_clock::now();
    // Run until n_out words came out and every input word was taken (trailing words that produce no output,
    // e.g. dropped border pixels, must still be consumed), or until max_cycles.
    while ((outs < n_out || idx < in_words.size()) && cycle < max_cycles && !ctx->gotFinish()) {
        if (!holding) holding = idx < in_words.size() && rng_in.chance(p_in);
        if (idx < in_words.size()) set_port(dut->s_tdata, in_words[idx]);
        dut->s_tvalid = holding;
        dut->m_tready = rng_out.chance(p_out);
        dut->eval();
        DUMP();
        const bool in_fire = dut->s_tvalid && dut->s_tready;
        if (dut->m_tvalid && dut->m_tready) {
            fprintf(fout, "O %llu ", (unsigned long long)cycle);
            print_hex(fout, get_port(dut->m_tdata));
            fputc('\n', fout);
            ++outs;
        }
#ifdef TB_TAPS
        {
            Word fire = get_port(dut->tap_tvalid), rdy = get_port(dut->tap_tready);
            for (size_t i = 0; i < fire.size(); ++i) fire[i] &= rdy[i];
            if (any_set(fire)) {
                fprintf(fout, "T %llu ", (unsigned long long)cycle);
                print_hex(fout, fire);
                fputc(' ', fout);
                print_hex(fout, get_port(dut->tap_tdata));
                fputc('\n', fout);
            }
        }
#endif
        if (in_fire) {
            fprintf(fout, "I %llu\n", (unsigned long long)cycle);
            ++idx;
            holding = false;
        }
        dut->clk = 1;
        dut->eval();
        DUMP();
        dut->clk = 0;
        ++cycle;
    }
    const long long loop_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::steady_clock::now() - loop_start).count();
    const bool timeout = outs < n_out || idx < in_words.size();
    fprintf(fout, "END %s %llu %llu %llu %lld\n", timeout ? "timeout" : "ok", (unsigned long long)cycle,
            (unsigned long long)idx, (unsigned long long)outs, loop_ns);
    fclose(fout);
#if VM_TRACE
    if (vcd) {
        dut->clk = 0;
        dut->eval();
        DUMP();
        vcd->close();
    }
#endif
    dut->final();
    delete dut;
    delete ctx;
    (void)any_set;
    return 0;
}
