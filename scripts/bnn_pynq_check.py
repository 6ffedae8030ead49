"""Brevitas' own bnn_pynq example networks (brevitas_examples.bnn_pynq: TFC/SFC/LFC/CNV at 1w1a, 1w2a, 2w2a and
resnet18_4w4a) built from their cfg with Brevitas' model factory, given seeded non-trivial parameters (no
pretrained weights offline), exported with Brevitas' export_qonnx as bnn_pynq's trainer does, compiled, and
compared against qonnx execute_onnx at the functional and cycle levels.

    python scripts/bnn_pynq_check.py [--n 8] [--cfg tfc_1w2a ...] [--out DIR]

Prints one line per cfg: compiled / refused (reason), mismatching samples per level out of N.
Exit code 1 if any compiled model mismatches.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

CFGS = ["tfc_1w1a", "tfc_1w2a", "tfc_2w2a", "sfc_1w1a", "sfc_1w2a", "sfc_2w2a", "lfc_1w1a", "lfc_1w2a",
        "cnv_1w1a", "cnv_1w2a", "cnv_2w2a", "resnet18_4w4a"]


def build(name: str, seed: int = 0) -> torch.nn.Module:
    """The cfg's network with seeded weights, BatchNorm (negative gammas included) and TensorNorm parameters."""
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    torch.manual_seed(seed)
    model, _ = model_with_cfg(name, pretrained=False)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in model.modules():
            if hasattr(mod, "running_mean") and mod.running_mean is not None:
                n = mod.running_mean.numel()
                mod.running_mean.copy_(torch.randn(n, generator=g) * 2.0)
                mod.running_var.copy_(torch.rand(n, generator=g) * 4.0 + 0.25)
                if getattr(mod, "weight", None) is not None:
                    sign = torch.where(torch.rand(n, generator=g) < 0.3, -1.0, 1.0)
                    mod.weight.copy_(sign * (torch.rand(n, generator=g) + 0.2))
                if getattr(mod, "bias", None) is not None:
                    mod.bias.copy_(torch.randn(n, generator=g))
            elif isinstance(mod, (torch.nn.Linear, torch.nn.Conv2d)):
                # uniform in [-1, 1], the range bnn_pynq's trainer clips weights to: the 2-bit weight quantizer has
                # a constant scale 1 (grid {-1, 0, 1}), so weights of std 0.1 all rounded to 0
                mod.weight.copy_(torch.rand(mod.weight.shape, generator=g) * 2.0 - 1.0)
    return model.eval()


def input_shape(name: str) -> tuple[int, ...]:
    return (1, 3, 32, 32) if name.startswith(("cnv", "resnet")) else (1, 1, 28, 28)


def export(make, shape: tuple[int, ...], path: Path) -> str:
    """Brevitas' export_qonnx as bnn_pynq's trainer calls it (no candle-hw rewriting of the model); the TorchScript
    exporter where torch.export's fails (resnet18_4w4a: Brevitas asserts on QuantTensor add under torch.export).
    ``make()`` builds the model; a fresh one for the retry, since a failed export leaves the model in export mode.
    Returns the exporter used."""
    from brevitas.export import export_qonnx

    with torch.no_grad():
        try:
            export_qonnx(make(), torch.rand(shape), str(path))
            return "dynamo"
        except Exception:  # noqa: BLE001 -- any failure of the default exporter: retry with the other one
            export_qonnx(make(), torch.rand(shape), str(path), dynamo=False)
            return "torchscript"


def check(onnx: Path, n: int, seed: int = 0) -> dict:
    """Compile (no RTL) and count the samples whose output differs from execute_onnx, per level."""
    from candle_hw.compile.frontend import qonnx_to_dataflow
    from candle_hw.compile.passes.stitch import Stitch
    from candle_hw.compile.verify import oracle_model, qonnx_forward
    from candle_hw.errors import UserError
    from candle_hw.sim.cycle import simulate_cycle
    from candle_hw.sim.functional import run_dataflow, run_model
    from candle_hw.sim.host import run_prologue

    try:
        graph = qonnx_to_dataflow(onnx)
    except UserError as exc:
        return {"status": "refused", "reason": str(exc).splitlines()[0]}
    oracle = oracle_model(onnx)
    shape = graph.model_input_shape[1:]
    x = np.random.default_rng(seed).uniform(0.0, 1.0, size=(n, *shape)).astype(np.float32)
    ref = qonnx_forward(oracle, x)
    ref = ref.reshape(n, -1)
    fun = run_model(graph, x).astype(ref.dtype).reshape(n, -1)
    frames = run_prologue(graph, x)
    res = simulate_cycle(Stitch()(graph), frames)
    ours = run_dataflow(graph, frames)
    cyc_ok = res.mismatch is None and np.array_equal(np.asarray(res.outputs), np.asarray(ours))
    return {"status": "compiled", "n": n,
            "functional": int((fun.view(np.uint32) != ref.view(np.uint32)).any(axis=1).sum())
            if ref.dtype == np.float32 else int((fun != ref).any(axis=1).sum()),
            "cycle_vs_functional": 0 if cyc_ok else (str(res.mismatch) if res.mismatch else "outputs differ")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=8, help="random inputs per model")
    p.add_argument("--cfg", nargs="*", default=CFGS)
    p.add_argument("--out", default=None, help="keep the exported .onnx files here")
    a = p.parse_args(argv)
    out = Path(a.out or tempfile.mkdtemp(prefix="bnn_pynq_"))
    out.mkdir(parents=True, exist_ok=True)
    bad = 0
    for name in a.cfg:
        path = out / f"{name}.onnx"
        exporter = export(lambda: build(name), input_shape(name), path)
        r = {"export": exporter, **check(path, a.n)}
        bad += r["status"] == "compiled" and (r["functional"] != 0 or r["cycle_vs_functional"] != 0)
        print(f"{name:14s} {r}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
