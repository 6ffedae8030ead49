"""`candle-hw demo`: the whole flow on built-in data (scikit-learn's 1,797 real 8x8 digits), in minutes.

train a binary MLP (Brevitas, 1-bit weights and activations, 8-bit input) -> export QONNX -> compile (with
per-step verification) -> functional simulation of the whole test split -> compare, as integers, with QONNX
execution and the Brevitas forward -> RTL co-simulation, synthesis and an iCE40 bitstream where the hardware
tools are installed.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from candle_hw import cli_types as T

FOLDING = [{"pe": 8, "simd": 16}, {"pe": 8, "simd": 8}, {"pe": 10, "simd": 8}]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo", help="output directory (replaced only if it is a candle-hw output)")
    p.add_argument("--force", action="store_true", help="replace --out even if it is not a candle-hw output")
    p.add_argument("--epochs", type=T.int_range(1, 10_000), default=25, help="training epochs")
    p.add_argument("--seed", type=T.seed, default=0, help="seed of the data split and the training")
    p.add_argument("--rtl-frames", type=T.int_range(0, 360), default=100,
                   help="test images through RTL co-simulation, 0..360 (0: skip)")
    p.add_argument("--skip-hw", action="store_true", help="skip RTL co-simulation, synthesis and bitstream")


class _Step:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.n = 0

    def __call__(self, msg: str) -> None:
        self.n += 1
        print(f"[demo {time.perf_counter() - self.t0:6.1f} s] {msg}", flush=True)


def load_digits_split(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits as 8-bit pixel values (0..16 scaled to 0..255, integers), NCHW, stratified 80/20 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = np.rint(d.images * (255.0 / 16.0)).astype(np.float32)[:, None]
    return train_test_split(x, d.target, test_size=0.2, random_state=seed, stratify=d.target)


def train_student(x: np.ndarray, y: np.ndarray, epochs: int, seed: int, log: _Step):
    """Plain cross-entropy training of the zoo's digits MLP (the CANDLE recipe needs a teacher: `candle-hw train`)."""
    import torch

    from candle_hw.models import build_model

    torch.manual_seed(seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = build_model("mlp_digits")
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(xt), 128):
            idx = perm[i : i + 128]
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        if (epoch + 1) % max(1, epochs // 6) == 0 or epoch == epochs - 1:
            log(f"train epoch {epoch + 1}/{epochs}: loss {total / len(xt):.3f}")
    return model.eval()


def run(args: argparse.Namespace) -> int:
    from candle_hw.outdir import check_output_dir, output_dir

    check_output_dir(args.out, args.force, "--out")  # before minutes of training
    with output_dir(args.out, "demo", args.force, "--out") as tmp:
        rc = _run_in(args, tmp, Path(args.out))
    return rc


def _run_in(args: argparse.Namespace, out: Path, final: Path) -> int:
    """The demo, written into ``out`` (a temporary folder renamed to ``final`` at the end; logs name ``final``)."""
    import torch

    from candle_hw.compile.export import export_qonnx_model
    from candle_hw.compile.pipeline import CompileOptions, compile_model
    from candle_hw.compile.report import write_report
    from candle_hw.compile.verify import oracle_model, qonnx_forward
    from candle_hw.models import save_checkpoint
    from candle_hw.sim.functional import run_model

    log = _Step()
    x_tr, x_te, y_tr, y_te = load_digits_split(args.seed)
    log(f"data: sklearn digits, {len(x_tr)} train / {len(x_te)} test images (8x8, 8-bit)")
    model = train_student(x_tr, y_tr, args.epochs, args.seed, log)
    with torch.no_grad():
        brevitas_out = model(torch.from_numpy(x_te)).numpy()
    save_checkpoint(model, out / "checkpoint.pt")
    onnx_path = export_qonnx_model(model, out / "model.onnx")
    log(f"export: {final / 'model.onnx'}")
    build = out / "build"
    graph = compile_model(onnx_path, build, CompileOptions(folding=FOLDING, verify=True),
                          log=lambda s: log(f"compile: {s}"))
    write_report(build)
    log(f"report: {final / 'build' / 'reports' / 'report.html'} (estimates, cycle-level prediction; open in a browser)")
    sim_out = run_model(graph, x_te)
    qonnx_out = qonnx_forward(oracle_model(onnx_path), x_te)
    mism_q = int(np.sum(sim_out.reshape(qonnx_out.shape) != qonnx_out))
    mism_b = int(np.sum(qonnx_out != brevitas_out))
    acc = float((sim_out.reshape(len(y_te), -1).argmax(1) == y_te).mean())
    log(f"simulate: {len(x_te)} test images, mismatching elements simulator vs QONNX {mism_q}, QONNX vs Brevitas {mism_b}")
    log(f"accuracy on the test split: {100 * acc:.2f} % (simulator = QONNX = Brevitas)")
    summary = {"test_images": int(len(x_te)), "accuracy": acc, "mismatches_sim_vs_qonnx": mism_q,
               "mismatches_qonnx_vs_brevitas": mism_b, "folding": FOLDING}
    if not args.skip_hw:
        summary.update(_hardware(graph, build, x_te[: args.rtl_frames], log))
    (out / "demo_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    log(f"summary: {final / 'demo_summary.json'}")
    return 0 if mism_q == 0 and mism_b == 0 and summary.get("rtl_mismatches", 0) == 0 else 1


def _foldings(build: Path) -> str:
    f = json.loads((build / "folding.json").read_text())
    return ", ".join(f"{k} (PE {v['pe']}, SIMD {v['simd']})" for k, v in f.items() if "simd" in v and "pe" in v)


def _hardware(graph, build: Path, x: np.ndarray, log: _Step) -> dict:
    """RTL co-simulation, synthesis and iCE40 bitstream (needs the `hw` extra)."""
    out: dict = {}
    if len(x):
        from candle_hw.sim.cosim.rtlsim import simulate_rtl
        from candle_hw.sim.functional import run_dataflow
        from candle_hw.sim.host import run_prologue

        frames = run_prologue(graph, x)
        res = simulate_rtl(build, frames)
        ref = run_dataflow(graph, frames)
        mism = int(np.sum(np.asarray(res.outputs).reshape(ref.shape) != ref))
        out.update(rtl_frames=int(len(x)), rtl_mismatches=mism, rtl_interval_cycles=res.interval_cycles,
                   rtl_latency_cycles=res.latency_cycles)
        log(f"rtl: Verilator co-simulation of {len(x)} images: {mism} mismatches, "
            f"interval {res.interval_cycles} cycles, latency {res.latency_cycles} cycles")
    from candle_hw.compile.bitstream import make_bitstream
    from candle_hw.compile.synth import synthesize

    syn = synthesize(build, "xc7z020")
    tot = syn["total"]
    out["synth_xc7z020"] = tot
    log(f"synth: xc7z020 (Yosys synth_xilinx): {tot.get('LUT', 0):,} LUT, {tot.get('FF', 0):,} FF, "
        f"{tot.get('BRAM_18K', 0)} BRAM_18K, {tot.get('DSP', 0)} DSP")
    # the demo's folding is sized for throughput, not for the 5,280-LUT UP5K: compile the fastest folding
    # that fits the UP5K for the bitstream
    from candle_hw.compile.pipeline import CompileOptions, compile_model

    onnx_path = build.parent / "model.onnx"
    ice = build.parent / "build_ice40"
    compile_model(onnx_path, ice, CompileOptions(target="ice40-up5k", fps="max"))
    log(f"compile: {ice.name}: fastest folding that fits the iCE40 UP5K: {_foldings(ice)}")
    bit = make_bitstream(ice, "ice40-up5k")
    out["bitstream_ice40_up5k"] = {k: bit[k] for k in bit if not isinstance(bit[k], (dict, list))}
    log(f"bitstream: iCE40 UP5K {bit.get('bitstream')} ({bit['size_bytes']:,} bytes), "
        f"Fmax {bit['fmax_mhz']} MHz")
    return out
