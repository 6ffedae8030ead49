// Whole-system testbench of board_shell (shell + network): the host's bytes go in through the uart_rx pin and
// the board's bytes come out of uart_tx, bit by bit at CLKS_PER_BIT clock cycles per bit, as on the board.
//
// Lock-step with the host (candle_hw/runtime/simport.py) over stdin/stdout, one command per line:
//   W <hex>         queue bytes for the line (sent back to back, GAP idle cycles between bytes)
//   R <n> <cycles>  run until n received bytes are waiting or <cycles> cycles passed; answers
//                   "D <cycle> <hex>" with up to n bytes (removed from the buffer)
//   X <cycles>      hold the reset button for <cycles> cycles (the line keeps sending meanwhile)
//   G <cycles>      idle cycles between the host's bytes from now on (a slow host)
//   Q               quit
// Simulated time advances only inside R and X, so the host is infinitely fast unless it asks for gaps: the
// frames/s measured here are the board's, against the line rate.
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>
#include <iostream>
#include "Vboard.h"
#include "verilated.h"

static Vboard* dut;
static uint64_t cycle_n = 0;
static int cpb = 12;
static int rst_active_low = 1;
static bool in_reset = false;

// host -> board line driver
static std::deque<uint8_t> txq;
static uint64_t gap = 0;
static int tx_bit = -1;        // -1 idle, 0 start, 1..8 data, 9 stop
static int tx_tick = 0;
static uint64_t tx_idle = 0;
static uint8_t tx_byte = 0;

// board -> host line receiver
static std::vector<uint8_t> rxbuf;
static int rx_bit = -1;
static int rx_tick = 0;
static uint8_t rx_byte = 0;

static int line_level() {
    if (tx_bit < 0) return 1;
    if (tx_bit == 0) return 0;
    if (tx_bit <= 8) return (tx_byte >> (tx_bit - 1)) & 1;
    return 1;
}

static void drive_line() {
    if (tx_bit < 0) {
        if (!txq.empty() && tx_idle >= gap) {
            tx_byte = txq.front();
            txq.pop_front();
            tx_bit = 0;
            tx_tick = 0;
        } else {
            tx_idle++;
        }
    } else if (++tx_tick == cpb) {
        tx_tick = 0;
        if (++tx_bit == 10) {
            tx_bit = -1;
            tx_idle = 0;
            if (!txq.empty() && gap == 0) {  // back to back
                tx_byte = txq.front();
                txq.pop_front();
                tx_bit = 0;
            }
        }
    }
}

static void sample_line(int level) {
    if (rx_bit < 0) {
        if (!level) { rx_bit = 0; rx_tick = cpb / 2; }
        return;
    }
    if (--rx_tick > 0) return;
    rx_tick = cpb;
    if (rx_bit == 0) {
        if (level) { rx_bit = -1; return; }
        rx_byte = 0;
    } else if (rx_bit <= 8) {
        rx_byte |= level << (rx_bit - 1);
    } else {
        if (level) rxbuf.push_back(rx_byte);
        rx_bit = -1;
        return;
    }
    rx_bit++;
}

static void step() {
    dut->uart_rx = line_level();
    dut->rst_in = in_reset ? !rst_active_low : rst_active_low;
    dut->clk = 0;
    dut->eval();
    dut->clk = 1;
    dut->eval();
    sample_line(dut->uart_tx);
    drive_line();
    cycle_n++;
}

int main(int argc, char** argv) {
    if (argc < 3) { std::fprintf(stderr, "usage: %s CLKS_PER_BIT RST_ACTIVE_LOW\n", argv[0]); return 2; }
    cpb = std::atoi(argv[1]);
    rst_active_low = std::atoi(argv[2]);
    Verilated::commandArgs(1, argv);
    dut = new Vboard;
    dut->uart_rx = 1;
    in_reset = true;
    for (int i = 0; i < 8; i++) step();
    in_reset = false;
    std::string line;
    while (std::getline(std::cin, line)) {
        if (line.empty()) continue;
        char cmd = line[0];
        const char* rest = line.c_str() + 1;
        if (cmd == 'W') {
            while (*rest == ' ') rest++;
            for (size_t i = 0; rest[i] && rest[i + 1]; i += 2) {
                char hx[3] = {rest[i], rest[i + 1], 0};
                txq.push_back((uint8_t)std::strtoul(hx, nullptr, 16));
            }
        } else if (cmd == 'R') {
            unsigned long long n = 0, limit = 0;
            std::sscanf(rest, "%llu %llu", &n, &limit);
            uint64_t end = cycle_n + limit;
            while (rxbuf.size() < n && cycle_n < end) step();
            size_t k = rxbuf.size() < n ? rxbuf.size() : n;
            std::printf("D %llu ", (unsigned long long)cycle_n);
            for (size_t i = 0; i < k; i++) std::printf("%02x", rxbuf[i]);
            std::printf("\n");
            std::fflush(stdout);
            rxbuf.erase(rxbuf.begin(), rxbuf.begin() + k);
        } else if (cmd == 'X') {
            unsigned long long c = std::strtoull(rest, nullptr, 10);
            in_reset = true;
            for (unsigned long long i = 0; i < c; i++) step();
            in_reset = false;
            std::printf("D %llu \n", (unsigned long long)cycle_n);
            std::fflush(stdout);
        } else if (cmd == 'G') {
            gap = std::strtoull(rest, nullptr, 10);
        } else if (cmd == 'Q') {
            break;
        }
    }
    dut->final();
    delete dut;
    return 0;
}
