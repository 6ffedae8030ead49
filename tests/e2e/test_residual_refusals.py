"""Joins outside the residual class are refused by `candle-hw compile` in one line naming the node, exit 2,
nothing written: different scales on the two branches, a float sum that is not a function of the integer sum,
an unquantized branch, Concat, Mul / Sub of two activations, an unquantized AveragePool shortcut, a sum that is
not requantized, a requantisation that falls with the sum, a join met by an average pool's unquantized output."""
import re

import pytest
import torch
from brevitas.nn import QuantIdentity
from torch import nn

from candle_hw.cli import main
from candle_hw.compile.export import export_qonnx_model
from candle_hw.models import randomize_bn
from candle_hw.models.quant import BN_EPS, IntActQuant, binary_act, binary_conv, binary_linear, input_quant


def _int_quant(bits: int, top: float) -> QuantIdentity:
    """A signed narrow ``bits``-bit quantizer whose scale is top / (2^(bits-1) - 1)."""
    return QuantIdentity(act_quant=IntActQuant, bit_width=bits, min_val=-top, max_val=top, return_quant_tensor=False)


class JoinNet(nn.Module):
    """1-bit input (2, 4, 4) -> conv 3x3 (zero padded) -> BN -> sign = x; y = branch(x) (conv -> BN, quantized
    per ``kind``); then ``kind``'s join of y and x, flatten, FC 3."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.input_shape, self.input_bits = (2, 4, 4), 1
        self.inp = input_quant(1)
        self.stem = nn.Sequential(binary_conv(2, 4, 3, padding=1), nn.BatchNorm2d(4, eps=BN_EPS), binary_act())
        stride = 2 if kind == "avgpool" else 1
        self.conv = binary_conv(4, 4, 3, padding=1)
        self.conv.stride = (stride, stride)
        self.bn = nn.BatchNorm2d(4, eps=BN_EPS)
        quant = {"scales": _int_quant(4, 1.0), "inexact": _int_quant(4, 0.7), "float": nn.Identity()}
        self.branch_quant = quant.get(kind, binary_act())
        self.shortcut = nn.AvgPool2d(2) if kind == "avgpool" else nn.Identity()
        if kind == "inexact":  # a 1x1 conv shortcut: both branches 4-bit integers at scale 0.1
            self.shortcut = nn.Sequential(binary_conv(4, 4, 1), nn.BatchNorm2d(4, eps=BN_EPS), _int_quant(4, 0.7))
        self.act = nn.Identity() if kind == "unrequantized" else binary_act()
        self.pool = nn.AdaptiveAvgPool2d(1) if kind == "pooled" else nn.Identity()
        hw = 2 if kind == "avgpool" else 1 if kind == "pooled" else 4
        self.fc = binary_linear((8 if kind == "concat" else 4) * hw * hw, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(self.inp(x))
        y, s = self.branch_quant(self.bn(self.conv(x))), self.shortcut(x)
        y, s = self.pool(y), self.pool(s)  # "pooled": the Add meets two float averages
        if self.kind == "concat":
            z = torch.cat([y, s], 1)
        elif self.kind == "mul":
            z = y * s
        elif self.kind == "sub":
            z = y - s
        elif self.kind == "falling":
            z = (y + s) * -0.5
        else:
            z = y + s
        return self.fc(torch.flatten(self.act(z), 1))


# kind -> (ONNX op named first in the message, what the message says)
CASES = {
    "scales": ("Add", r"operands \S+ \(scale 0\.14285\d*\) and \S+ \(scale 1\.0\) have different scales"),
    "inexact": ("Add", r"with scale 0\.1\d* the float32 sum is not a function of the integer sum"),
    "float": ("Add", r"joins the unquantized output of BatchNormalization_\d+ with \S+; a residual Add needs both"),
    "concat": ("Concat", r"joins 2 activations .*only an Add of two quantized tensors is supported"),
    "mul": ("Mul", r"joins 2 activations"),
    "sub": ("Sub", r"joins 2 activations"),
    "avgpool": ("Add", r"joins the unquantized output of AveragePool_\d+ with \S+; a residual Add needs both"),
    "unrequantized": ("Add", r"the sum must be requantized .* got Flatten_\d+ \(Flatten\)"),
    "pooled": ("Add", r"joins the unquantized output of GlobalAveragePool_\d+ with \S+; a residual Add needs both"),
    "falling": ("BipolarQuant", r"channel 0: the ops between Add_\d+ and the quantizer fall with the sum"),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_join_refused_in_one_line(kind, tmp_path, capsys):
    torch.manual_seed(0)
    net = JoinNet(kind)
    randomize_bn(net, 0)
    path = export_qonnx_model(net.eval(), tmp_path / f"{kind}.onnx")
    out = tmp_path / "build"
    rc = main(["compile", str(path), "-o", str(out), "--no-rtl", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    op, pattern = CASES[kind]
    assert err[0].startswith(f"error: {op}_"), err[0]
    assert re.search(pattern, err[0]), err[0]
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".build")] == []
