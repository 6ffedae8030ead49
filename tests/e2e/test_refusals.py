"""Models `candle-hw compile` refuses: one table of (model writer, ONNX op the message names first, what it
says), each checked the same way: exit 2, one line naming the node and the offending value, nothing written.
Joins outside the residual class: different scales on the two branches, a float sum that is not a function of
the integer sum, an unquantized branch, Concat, Mul / Sub of two activations, an unquantized AveragePool
shortcut, a sum that is not requantized, a requantisation that falls with the sum, a join met by an average
pool's unquantized output. Average pools outside AccPool + Thresholding (or the host epilogue): padding (explicit
or auto_pad), ceil_mode, a float32 sum that could round, a tail that falls with the average, several output
pixels ending the graph unquantized."""
import re
from collections.abc import Callable
from pathlib import Path

import onnx
import pytest
import torch
from brevitas.nn import QuantIdentity
from onnx import helper
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


class PoolNet(nn.Module):
    """1-bit input (2, 5, 5) -> conv 2x2 -> BN -> act -> ``pool`` -> [BN] -> sign -> FC, per refusal kind."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.input_shape, self.input_bits = (2, 5, 5), 1
        act = _int_quant(4, 0.7) if kind == "rounding" else binary_act()  # scale 0.1: sums of 4 round in float32
        pool = {"padding": nn.AvgPool2d(2, 2, padding=1), "ceil_mode": nn.AvgPool2d(2, 2, ceil_mode=True)}
        self.bn = nn.BatchNorm2d(4, eps=BN_EPS)
        mods = [input_quant(1), binary_conv(2, 4, 2), nn.BatchNorm2d(4, eps=BN_EPS), act,
                pool.get(kind, nn.AvgPool2d(2, 1))]
        if kind == "unquantized":
            mods += [self.bn, nn.Flatten()]
        else:
            mods += [self.bn, binary_act(), nn.Flatten(), binary_linear(4 * (4 if kind == "ceil_mode" else 9), 3)]
        self.net = nn.Sequential(*mods)

    def forward(self, x):
        return self.net(x)


Writer = Callable[[Path], Path]


def join(kind: str) -> Writer:
    def write(path: Path) -> Path:
        torch.manual_seed(0)
        net = JoinNet(kind)
        randomize_bn(net, 0)
        return export_qonnx_model(net.eval(), path)
    return write


def pool(kind: str) -> Writer:
    def write(path: Path) -> Path:
        torch.manual_seed(0)
        net = PoolNet(kind)
        randomize_bn(net, 0)
        with torch.no_grad():  # the BN after the pool decides whether the tail rises or falls with the average
            net.bn.weight.copy_(-net.bn.weight.abs() if kind == "falling" else net.bn.weight.abs())
        return export_qonnx_model(net.eval(), path)
    return write


def auto_pad(path: Path) -> Path:
    """An implicit padding (auto_pad=SAME_UPPER, which no Brevitas export writes but a third-party model may) on
    an otherwise accepted pool: refused like explicit pads."""
    pool("ok")(path)
    m = onnx.load(str(path))
    node = next(n for n in m.graph.node if n.op_type == "AveragePool")
    keep = [a for a in node.attribute if a.name not in ("pads", "auto_pad")]
    del node.attribute[:]
    node.attribute.extend(keep + [helper.make_attribute("auto_pad", "SAME_UPPER")])
    onnx.save(m, str(path))
    return path


# case -> (model writer, ONNX op of the node the message names first, what the message says)
CASES: dict[str, tuple[Writer, str, str]] = {
    "join_scales": (join("scales"), "Add",
                    r"operands \S+ \(scale 0\.14285\d*\) and \S+ \(scale 1\.0\) have different scales"),
    "join_inexact": (join("inexact"), "Add",
                     r"with scale 0\.1\d* the float32 sum is not a function of the integer sum"),
    "join_float": (join("float"), "Add",
                   r"joins the unquantized output of BatchNormalization_\d+ with \S+; a residual Add needs both"),
    "join_concat": (join("concat"), "Concat",
                    r"joins 2 activations .*only an Add of two quantized tensors is supported"),
    "join_mul": (join("mul"), "Mul", r"joins 2 activations"),
    "join_sub": (join("sub"), "Sub", r"joins 2 activations"),
    "join_avgpool": (join("avgpool"), "Add",
                     r"joins the unquantized output of AveragePool_\d+ with \S+; a residual Add needs both"),
    "join_unrequantized": (join("unrequantized"), "Add", r"the sum must be requantized .* got Flatten_\d+ \(Flatten\)"),
    "join_pooled": (join("pooled"), "Add",
                    r"joins the unquantized output of GlobalAveragePool_\d+ with \S+; a residual Add needs both"),
    "join_falling": (join("falling"), "BipolarQuant",
                     r"channel 0: the ops between Add_\d+ and the quantizer fall with the sum"),
    "avgpool_padding": (pool("padding"), "AveragePool", r"pads=\[1, 1, 1, 1\] are not supported"),
    "avgpool_auto_pad": (auto_pad, "AveragePool",
                         r"^error: AveragePool_\d+ \(AveragePool\): auto_pad=SAME_UPPER is not supported"),
    "avgpool_ceil_mode": (pool("ceil_mode"), "AveragePool", r"ceil_mode=1 is not supported"),
    "avgpool_rounding": (pool("rounding"), "AveragePool", r"scale 0\.1\d* over 4 pixels: the float32 sum would round"),
    "avgpool_falling": (pool("falling"), "BipolarQuant",
                        r"channel \d+: the ops between AveragePool_\d+ and the quantizer fall with the average"),
    "avgpool_unquantized": (pool("unquantized"), "AveragePool", r"3x3 output pixels end the graph unquantized"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_refused_in_one_line(case, tmp_path, capsys):
    write, op, pattern = CASES[case]
    path = write(tmp_path / f"{case}.onnx")
    out = tmp_path / "build"
    rc = main(["compile", str(path), "-o", str(out), "--no-rtl", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith(f"error: {op}_"), err[0]
    assert re.search(pattern, err[0]), err[0]
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".build")] == []
