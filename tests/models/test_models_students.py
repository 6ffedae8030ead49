"""Issue-10 students: padded VGG (±1 and zero padding), multi-bit (W1A2/W2A2) and integer-shortcut residual
variants export to QONNX that qonnx executes exactly as Brevitas computes; their cost figures add up."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from brevitas.nn import QuantConv2d

from candle_hw.models import PRESETS, build_model, randomize_bn, sample_input
from candle_hw.models.cost import student_cost

TINY = {  # the presets' block structure on 8x8 inputs with few channels
    "zero_pad": {"channels": [6, 6, "M", 8, "M"], "fc": [], "padding": 1, "pad_value": 0},
    "w1a2": {"channels": [6, "M", 8], "fc": [12], "act_bits": 2},
    "w2a2": {"channels": [6, "M", 8], "fc": [12], "weight_bits": 2, "act_bits": 2},
    "residual": {"channels": [6, "R", "M", 8, "R", "M"], "fc": [], "padding": 1, "res_bits": 4},
    "residual_a2": {"channels": [6, "R", "M"], "fc": [], "padding": 1, "res_bits": 3, "act_bits": 2},
    "residual_down": {"channels": [6, "R", "D", "R"], "fc": [], "padding": 1, "res_bits": 4},
}


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("seed", [3])
def test_tiny_students_brevitas_equals_qonnx(name: str, seed: int, export_and_run) -> None:
    torch.manual_seed(seed)
    model = build_model({"family": "cnv", "num_classes": 5, "in_ch": 3, "img": 8, **TINY[name]})
    calib = sample_input(model, 16, seed + 1)
    randomize_bn(model, seed, x=calib)
    x = torch.cat([sample_input(model, 4, seed + 2), calib[:4]])
    expected, got = export_and_run(model, x, name)
    assert got.shape == expected.shape == (8, 5)
    np.testing.assert_array_equal(got, expected)


def test_residual_block_adds_an_integer_shortcut() -> None:
    model = build_model({"family": "cnv", "channels": [4, "R"], "fc": [], "img": 6, "padding": 1,
                         "num_classes": 3}).eval()
    x = sample_input(model, 2, 0)
    stem, block = model.encoder[1], model.encoder[2]
    with torch.no_grad():
        a = stem(model.encoder[0](x))
        branch = block.branch_quant(block.bn(block.layer(block.pad(a))))
        pre = block.pre_act(a)
    assert torch.equal(pre, branch + a)
    assert torch.equal(branch, branch.round()) and branch.abs().max() <= 7  # 4-bit narrow integers
    assert set(torch.unique(a).tolist()) <= {-1.0, 1.0}


def test_multibit_levels_and_zero_padding_layout() -> None:
    w2a2 = build_model("cnv_w2a2")
    convs = [m for m in w2a2.modules() if isinstance(m, QuantConv2d)]
    assert all(set(torch.unique(c.quant_weight().value).tolist()) <= {-1.0, 0.0, 1.0} for c in convs)
    zp, pm = build_model("vgg_small_w1a1_zp"), build_model("vgg_small_w1a1")
    zp_convs = [m for m in zp.modules() if isinstance(m, QuantConv2d)]
    assert all(c.padding == (1, 1) for c in zp_convs)  # the conv's own zero padding
    assert [c.padding for c in pm.modules() if isinstance(c, QuantConv2d)][1:] == [(0, 0)] * 5  # explicit Pad(-1)


def test_cost_counts_cnv_by_hand() -> None:
    # (output pixels x output channels x fan-in) per layer of FINN's CNV-W1A1, written out.
    by_hand = (30 * 30 * 64 * 27 + 28 * 28 * 64 * 576 + 12 * 12 * 128 * 576 + 10 * 10 * 128 * 1152
               + 3 * 3 * 256 * 1152 + 1 * 1 * 256 * 2304 + 256 * 512 + 512 * 512 + 512 * 10)
    weights = 64 * 27 + 64 * 576 + 128 * 576 + 128 * 1152 + 256 * 1152 + 256 * 2304 + 256 * 512 + 512 * 512 + 5120
    cost = student_cost(build_model("cnv_w1a1"))
    assert (cost["macs"], cost["weight_bits"], cost["act_bits"]) == (by_hand, weights, 1)
    w2a2 = student_cost(build_model("cnv_w2a2"))
    assert (w2a2["macs"], w2a2["weight_bits"], w2a2["act_bits"]) == (by_hand, 2 * weights, 2)


def test_every_preset_has_a_cost() -> None:
    for name in PRESETS:
        cost = student_cost(build_model(name))
        assert cost["macs"] > 0 and cost["weight_bits"] >= sum(layer["weights"] for layer in cost["layers"])
