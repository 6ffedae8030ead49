"""FINN's trained network-intrusion MLP (the UNSW-NB15 "cybersecurity" example of FINN's end-to-end notebooks,
W2A2: 2-bit weights, 2-bit ReLU activations, biases and BatchNorm, 600-64-64-64-1) rebuilt in Brevitas from the
layer list, loaded with FINN's trained weights (tests/data/finn/cybsec_mlp_w2a2.npz), exported to QONNX the way
FINN's notebook does it (a BIPOLAR input mapped to {0, 1} by (x + 1) / 2, a binary quantizer on the output,
qonnx cleanup, the input annotated BIPOLAR), compiled with ``candle-hw compile --verify``, and compared as
integers on random bipolar inputs: Brevitas == qonnx execute_onnx == the functional, cycle and RTL (Verilator)
simulations of the build.

    python scripts/finn_cybsec_check.py [--n 64] [--rtl 4] [--fps 100000 --target xc7z020] [--out DIR]

The UNSW-NB15 data is not used (no accuracy is claimed): inputs are random ±1 vectors of a few densities.
Exit code 1 on any mismatch.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

WEIGHTS = Path(__file__).resolve().parents[1] / "tests" / "data" / "finn" / "cybsec_mlp_w2a2.npz"
FEATURES, PADDED, HIDDEN = 593, 600, 64


def build(weights: Path = WEIGHTS) -> nn.Module:
    """The trained MLP (eval mode) with its first layer's 593 inputs zero-padded to 600, as FINN exports it."""
    from brevitas.nn import QuantLinear, QuantReLU

    layers: list[nn.Module] = []
    width = FEATURES
    for _ in range(3):
        layers += [QuantLinear(width, HIDDEN, bias=True, weight_bit_width=2), nn.BatchNorm1d(HIDDEN),
                   nn.Dropout(0.5), QuantReLU(bit_width=2)]
        width = HIDDEN
    layers.append(QuantLinear(HIDDEN, 1, bias=True, weight_bit_width=2))
    net = nn.Sequential(*layers)
    with np.load(weights) as z:
        state = {k: torch.from_numpy(z[k]) for k in z.files}
    missing, unexpected = net.load_state_dict(state, strict=False)
    # BatchNorm's num_batches_tracked counters are not stored (they do not change the eval-mode function)
    if unexpected or any(not k.endswith("num_batches_tracked") for k in missing):
        raise ValueError(f"{weights}: state does not match the network (missing {missing}, unexpected {unexpected})")
    with torch.no_grad():
        net[0].weight.data = nn.functional.pad(net[0].weight.data, (0, PADDED - FEATURES))
    return net.eval()


class ForExport(nn.Module):
    """FINN's export wrapper: bipolar input x in {-1, 1} -> (x + 1) / 2 in {0, 1} (the training input range), and
    a binary quantizer (constant scale 1) on the single output logit."""

    def __init__(self, net: nn.Module):
        super().__init__()
        from brevitas.nn import QuantIdentity

        self.net = net
        self.out = QuantIdentity(quant_type="binary", scaling_impl_type="const", bit_width=1, min_val=-1.0,
                                 max_val=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.net((x + torch.tensor([1.0])) / 2.0))


def export(path: Path) -> nn.Module:
    """Export as FINN's notebook does; returns the exported (eval-mode) Brevitas model."""
    from brevitas.export import export_qonnx
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup

    model = ForExport(build()).eval()
    with torch.no_grad():
        export_qonnx(model, torch.ones(1, PADDED), str(path))
    cleanup(str(path), out_file=str(path))
    m = ModelWrapper(str(path))
    m.set_tensor_datatype(m.graph.input[0].name, DataType["BIPOLAR"])
    m.save(str(path))
    return model


def bipolar_inputs(n: int, seed: int = 0) -> np.ndarray:
    """Random ±1 vectors, the probability of +1 spread over [0.02, 0.98] so both outputs occur."""
    rng = np.random.default_rng(seed)
    p = np.linspace(0.02, 0.98, n)[:, None]
    return np.where(rng.random((n, PADDED)) < p, 1.0, -1.0).astype(np.float32)


def brevitas_forward(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=64, help="random bipolar inputs (functional and cycle levels)")
    p.add_argument("--rtl", type=int, default=4, help="of which the first N also through Verilator (0: none)")
    p.add_argument("--fps", default=None, help="target frames/s for the folding (with --target)")
    p.add_argument("--target", default=None)
    p.add_argument("--synth", action="store_true", help="also run Yosys (candle-hw synth) on the build")
    p.add_argument("--out", default=None, help="keep the model, build and arrays here")
    a = p.parse_args(argv)

    from candle_hw.cli import main as cli
    from candle_hw.compile.verify import oracle_model, qonnx_forward

    out = Path(a.out or tempfile.mkdtemp(prefix="finn_cybsec_"))
    out.mkdir(parents=True, exist_ok=True)
    onnx_path, build = out / "cybsec_mlp_w2a2.onnx", out / "build"
    model = export(onnx_path)
    opts = (["--fps", str(a.fps)] if a.fps else []) + (["--target", a.target] if a.target else [])
    if cli(["compile", str(onnx_path), "-o", str(build), "--force", "--verify", "-q", *opts]) != 0:
        print("compile failed")
        return 1
    x = bipolar_inputs(a.n)
    np.save(out / "x.npy", x)
    ref = qonnx_forward(oracle_model(onnx_path), x).reshape(a.n, -1)
    brev = brevitas_forward(model, x).reshape(a.n, -1)
    results = {"brevitas": brev}
    levels = ["functional", "cycle"] + (["rtl"] if a.rtl else [])
    for level in levels:
        xin = x[: a.rtl] if level == "rtl" else x
        np.save(out / f"x_{level}.npy", xin)
        rc = cli(["simulate", str(build), "--input", str(out / f"x_{level}.npy"), "--output",
                  str(out / f"y_{level}.npy"), "--level", level, "--force"])
        if rc != 0:
            print(f"simulate --level {level} failed")
            return 1
        results[level] = np.load(out / f"y_{level}.npy").reshape(len(xin), -1)
    bad = 0
    outputs = {int(v): int((ref == v).sum()) for v in np.unique(ref)}
    print(f"qonnx outputs on {a.n} inputs: {outputs}")
    for name, y in results.items():
        k = len(y)
        diff = int((y.astype(np.float64) != ref[:k].astype(np.float64)).any(axis=1).sum())
        bad += diff
        print(f"{name:10s} vs qonnx: {diff} of {k} samples differ")
    if a.synth:
        cli(["synth", str(build)])
    print(f"build: {build}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
