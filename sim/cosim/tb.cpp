// Generic stream testbench for any candle-hw block or stitched top (Verilator --cc --exe, class Vdut).
//
// The design has the contract ports clk, rst_n, s_tdata/s_tvalid/s_tready, m_tdata/m_tvalid/m_tready of any
// width: the port types (CData/SData/IData/QData/VlWide<N>) are chosen by Verilator from the widths, and the
// overloads below read and write each of them, so this one file serves every design. A block with several
// input or output streams (add_streams, duplicate_streams) packs them: stream k's valid/ready is bit k of
// s_tvalid/s_tready (m_*), its data a slice of s_tdata (m_tdata), stream 0 at the LSBs.
//
// Usage: sim IN_FILE OUT_FILE P_IN P_OUT SEED N_OUT MAX_CYCLES [VCD_FILE]
//   IN_FILE: one input word per line in hex. A design with several streams starts the file with the lines
//     "LANES_IN <w0> <w1> ..." and "LANES_OUT <w0> ..." (each stream's data width, stream 0 first; a side with
//     one stream may be omitted) and gives every input word as "<stream> <hex>".
//   P_IN / P_OUT: one probability for every stream, or one per stream separated by commas ("1,0.3").
//   N_OUT: output words expected on each output stream. OUT_FILE gets
//     "I <cycle>"            for every input handshake,
//     "O <cycle> <hex>"      for every output handshake,
//     (both followed by " <stream>" when that side has several streams),
//     "T <cycle> <fire_hex> <data_hex>" (taps build only) for every cycle with a handshake on a tap stream,
//     "END <status> <cycles> <n_in> <n_out> <loop_ns>" last, status = ok | timeout; loop_ns = wall time of the
//     simulation loop alone (no process start, $readmemh or input parsing), for honest speed figures.
// Cycle 0 is the first rising edge after reset. Inputs are applied while clk is low, the design is evaluated,
// the handshakes are sampled (so ready may depend combinationally on valid), then the rising edge happens.
// s_tvalid follows AXI rules: once raised it stays high until the word is taken. Every stream has its own random
// sequence, so the valid gaps of the inputs and the back-pressure of the outputs are independent.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
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

// Bit slices of multi-stream ports: stream words placed into / taken out of the packed data port.
static void put_bits(Word& dst, size_t off, const Word& src, size_t width) {
    for (size_t b = 0; b < width; ++b) {
        const uint32_t bit = (chunk(src, b / 32) >> (b % 32)) & 1u;
        const size_t d = off + b;
        if (d / 32 >= dst.size()) dst.resize(d / 32 + 1, 0u);
        dst[d / 32] = (dst[d / 32] & ~(1u << (d % 32))) | (bit << (d % 32));
    }
}

static Word get_bits(const Word& src, size_t off, size_t width) {
    Word w((width + 31) / 32, 0u);
    for (size_t b = 0; b < width; ++b) w[b / 32] |= ((chunk(src, (off + b) / 32) >> ((off + b) % 32)) & 1u) << (b % 32);
    return w;
}

// valid/ready ports: one bit per stream (at most 64 streams), whatever integer type Verilator chose.
template <class T>
static void set_mask(T& p, uint64_t m) { p = (T)m; }
template <class T>
static uint64_t get_mask(const T& p) { return (uint64_t)p; }

static std::vector<double> parse_probs(const char* s, size_t lanes) {
    std::vector<double> p;
    for (const char* c = s; *c;) {
        char* end;
        p.push_back(strtod(c, &end));
        c = *end == ',' ? end + 1 : end;
        if (end == c && *c) break;
    }
    if (p.size() == 1) p.resize(lanes, p[0]);
    return p;
}

struct Stream {
    size_t width = 0, offset = 0;
    std::vector<Word> words;   // inputs only
    size_t idx = 0;            // inputs: words taken; outputs: words seen
    bool holding = false;
    double prob = 1.0;
    Rng rng{0};
};

static std::vector<Stream> lanes_from(const std::vector<size_t>& widths, uint64_t seed, uint64_t salt) {
    std::vector<Stream> v(widths.size());
    size_t off = 0;
    for (size_t i = 0; i < v.size(); ++i) {
        v[i].width = widths[i];
        v[i].offset = off;
        off += widths[i];
        // stream 0 keeps the single-stream bench's sequence (seed*2+1 inputs, seed*2+2 outputs)
        v[i].rng = Rng(seed * 2 + salt + ((uint64_t)i << 32));
    }
    return v;
}

int main(int argc, char** argv) {
    if (argc < 8) {
        fprintf(stderr, "usage: %s IN_FILE OUT_FILE P_IN P_OUT SEED N_OUT MAX_CYCLES [VCD_FILE]\n", argv[0]);
        return 2;
    }
    const uint64_t seed = strtoull(argv[5], nullptr, 10);
    const uint64_t n_out = strtoull(argv[6], nullptr, 10), max_cycles = strtoull(argv[7], nullptr, 10);

    std::vector<size_t> in_widths{0}, out_widths{0};  // 0: the whole port (one stream)
    std::vector<std::pair<size_t, Word>> in_lines;
    FILE* fin = fopen(argv[1], "r");
    if (!fin) {
        fprintf(stderr, "cannot open %s\n", argv[1]);
        return 2;
    }
    static char line[1 << 16];
    while (fgets(line, sizeof line, fin)) {
        if (line[0] == '\n' || line[0] == '\0') continue;
        if (!strncmp(line, "LANES_", 6)) {
            std::vector<size_t>& w = !strncmp(line, "LANES_IN ", 9) ? in_widths : out_widths;
            w.clear();
            for (char* c = strchr(line, ' '); c && *c && *c != '\n';) {
                char* end;
                const unsigned long v = strtoul(c, &end, 10);
                if (end == c) break;
                w.push_back(v);
                c = end;
            }
            continue;
        }
        const char* sp = strchr(line, ' ');
        if (sp) in_lines.emplace_back(strtoul(line, nullptr, 10), parse_hex(sp + 1));
        else in_lines.emplace_back(0, parse_hex(line));
    }
    fclose(fin);
    std::vector<Stream> ins = lanes_from(in_widths, seed, 1), outs_ = lanes_from(out_widths, seed, 2);
    for (auto& [lane, w] : in_lines) {
        if (lane >= ins.size()) {
            fprintf(stderr, "input word for stream %zu, but the design has %zu\n", lane, ins.size());
            return 2;
        }
        ins[lane].words.push_back(w);
    }
    const std::vector<double> p_in = parse_probs(argv[3], ins.size()), p_out = parse_probs(argv[4], outs_.size());
    if (p_in.size() != ins.size() || p_out.size() != outs_.size()) {
        fprintf(stderr, "P_IN / P_OUT: one probability or one per stream (%zu in, %zu out)\n", ins.size(), outs_.size());
        return 2;
    }
    for (size_t i = 0; i < ins.size(); ++i) ins[i].prob = p_in[i];
    for (size_t i = 0; i < outs_.size(); ++i) outs_[i].prob = p_out[i];
    const bool multi_in = ins.size() > 1, multi_out = outs_.size() > 1;
    if (ins.size() > 64 || outs_.size() > 64) {
        fprintf(stderr, "at most 64 streams per side\n");
        return 2;
    }
    size_t in_bits = 0;
    for (const Stream& i : ins) in_bits += i.width;
    Word data((in_bits + 31) / 32, 0u);  // the packed s_tdata of a multi-stream design, reused every cycle
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
    // Separate random streams for valid and ready, so that the valid pattern does not change when only the
    // ready probability does.

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

    uint64_t cycle = 0, n_in_taken = 0, n_out_seen = 0;
    auto unfinished = [&]() {
        for (const Stream& o : outs_)
            if (o.idx < n_out) return true;
        for (const Stream& i : ins)
            if (i.idx < i.words.size()) return true;
        return false;
    };
    const auto loop_start = std::chrono::steady_clock::now();
    // Run until n_out words came out of every output and every input word was taken (trailing words that produce
    // no output, e.g. dropped border pixels, must still be consumed), or until max_cycles.
    while (unfinished() && cycle < max_cycles && !ctx->gotFinish()) {
        uint64_t valid = 0, ready = 0;
        if (multi_in) std::fill(data.begin(), data.end(), 0u);
        for (size_t i = 0; i < ins.size(); ++i) {
            Stream& s = ins[i];
            if (!s.holding) s.holding = s.idx < s.words.size() && s.rng.chance(s.prob);
            if (s.idx < s.words.size()) {
                if (multi_in) put_bits(data, s.offset, s.words[s.idx], s.width);
                else set_port(dut->s_tdata, s.words[s.idx]);
            }
            if (s.holding) valid |= 1ull << i;
        }
        for (size_t j = 0; j < outs_.size(); ++j)
            if (outs_[j].rng.chance(outs_[j].prob)) ready |= 1ull << j;
        if (multi_in) set_port(dut->s_tdata, data);
        set_mask(dut->s_tvalid, valid);
        set_mask(dut->m_tready, ready);
        dut->eval();
        DUMP();
        const uint64_t s_ready = get_mask(dut->s_tready), out_fire = get_mask(dut->m_tvalid) & ready;
        for (size_t j = 0; out_fire && j < outs_.size(); ++j) {
            if (!((out_fire >> j) & 1u)) continue;
            fprintf(fout, "O %llu ", (unsigned long long)cycle);
            const Word m_data = get_port(dut->m_tdata);
            print_hex(fout, multi_out ? get_bits(m_data, outs_[j].offset, outs_[j].width) : m_data);
            if (multi_out) fprintf(fout, " %zu", j);
            fputc('\n', fout);
            ++outs_[j].idx;
            ++n_out_seen;
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
        for (size_t i = 0; i < ins.size(); ++i) {
            if (!(ins[i].holding && ((s_ready >> i) & 1u))) continue;
            fprintf(fout, "I %llu", (unsigned long long)cycle);
            if (multi_in) fprintf(fout, " %zu", i);
            fputc('\n', fout);
            ++ins[i].idx;
            ++n_in_taken;
            ins[i].holding = false;
        }
        dut->clk = 1;
        dut->eval();
        DUMP();
        dut->clk = 0;
        ++cycle;
    }
    const long long loop_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::steady_clock::now() - loop_start).count();
    const bool timeout = unfinished();
    fprintf(fout, "END %s %llu %llu %llu %lld\n", timeout ? "timeout" : "ok", (unsigned long long)cycle,
            (unsigned long long)n_in_taken, (unsigned long long)n_out_seen, loop_ns);
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
