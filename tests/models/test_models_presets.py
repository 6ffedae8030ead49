"""The model API training relies on, the presets and CNV-W1A1's exact topology."""
from __future__ import annotations

import json

import pytest
import torch
from brevitas.nn import QuantConv2d, QuantLinear
from torch import nn

from candle_hw.models import CNV, MLP, PRESETS, build_model, randomize_bn, sample_input


def _binary_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (QuantConv2d, QuantLinear))]


def test_cnv_w1a1_layer_shapes() -> None:
    model = build_model("cnv_w1a1")
    shapes = [tuple(m.weight.shape) for m in _binary_layers(model)]
    assert shapes == [(64, 3, 3, 3), (64, 64, 3, 3), (128, 64, 3, 3), (128, 128, 3, 3), (256, 128, 3, 3),
                      (256, 256, 3, 3), (512, 256), (512, 512), (10, 512)]
    assert all(m.padding == (0, 0) for m in _binary_layers(model) if isinstance(m, QuantConv2d))
    sizes: list[tuple[int, ...]] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: sizes.append(tuple(out.shape[1:])))
             for m in model.modules() if isinstance(m, (QuantConv2d, nn.MaxPool2d))]
    model.eval()(sample_input(model, 1))
    for h in hooks:
        h.remove()
    assert sizes == [(64, 30, 30), (64, 28, 28), (64, 14, 14), (128, 12, 12), (128, 10, 10), (128, 5, 5),
                     (256, 3, 3), (256, 1, 1)]
    assert (model.feature_channels, model.feature_hw, model.input_shape) == (256, (1, 1), (3, 32, 32))


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_api(preset: str) -> None:
    torch.manual_seed(0)
    model = randomize_bn(build_model(preset), 1).eval()
    x = sample_input(model, 3, 2)
    with torch.no_grad():
        enc = model.encoder(x)
        feat, logits = model.forward_features(x)
        np_logits = model.classifier(enc)
    hw = () if model.feature_hw is None else model.feature_hw
    assert enc.shape == feat.shape == (3, model.feature_channels, *hw)
    assert logits.shape == (3, model.num_classes)
    torch.testing.assert_close(logits, np_logits, rtol=0, atol=0)
    torch.testing.assert_close(logits, model(x), rtol=0, atol=0)
    # feat is the pre-quantisation value: the encoder output is its sign with 0 -> +1 (1-bit activations) or
    # its rounding to the narrow signed grid (multi-bit).
    bits = model.arch.get("act_bits", 1)
    levels = 2 ** (bits - 1) - 1
    quantized = torch.where(feat >= 0, 1.0, -1.0) if bits == 1 else torch.clamp(torch.round(feat), -levels, levels)
    torch.testing.assert_close(enc, quantized, rtol=0, atol=0)
    assert json.loads(json.dumps(model.arch)) == model.arch
    assert build_model(model.arch).arch == model.arch


def test_presets_match_bnn_pynq() -> None:
    assert [m.weight.shape[0] for m in _binary_layers(build_model("tfc"))] == [64, 64, 64, 10]
    assert [m.weight.shape[0] for m in _binary_layers(build_model("sfc"))] == [256, 256, 256, 10]
    assert [m.weight.shape[0] for m in _binary_layers(build_model("lfc"))] == [1024, 1024, 1024, 10]
    assert build_model("tfc").input_bits == 1 and build_model("cnv_w1a1").input_bits == 8
    digits = build_model("mlp_digits")
    assert (digits.input_shape, [m.weight.shape for m in _binary_layers(digits)][0]) == ((1, 8, 8), (64, 64))


def test_width_scaling_rounds_to_multiples_of_eight() -> None:
    half = CNV(width=0.5)
    assert [m.weight.shape[0] for m in _binary_layers(half) if isinstance(m, QuantConv2d)] == [32, 32, 64, 64,
                                                                                              128, 128]
    tiny = CNV(channels=[64, "M", 20], fc=[], img=8, width=0.1)
    assert [m.weight.shape[0] for m in _binary_layers(tiny) if isinstance(m, QuantConv2d)] == [8, 8]
    exact = CNV(channels=[5, 7], fc=[], img=6)
    assert [m.weight.shape[0] for m in _binary_layers(exact) if isinstance(m, QuantConv2d)] == [5, 7]


def test_trailing_pool_belongs_to_classifier() -> None:
    model = CNV(channels=[8, 8, "M"], fc=[], img=10)
    assert model.feature_hw == (6, 6)
    assert isinstance(model.classifier[0], nn.MaxPool2d)
    assert model.classifier[-2].in_features == 8 * 3 * 3


def test_mlp_input_binarisation_threshold() -> None:
    model = MLP(in_features=4, hidden=[2], num_classes=2, input_bits=1, in_shape=[4]).eval()
    bits = model.encoder[0](torch.tensor([[0.0, 0.49999997, 0.5, 1.0]]))
    torch.testing.assert_close(bits, torch.tensor([[-1.0, -1.0, 1.0, 1.0]]), rtol=0, atol=0)


@pytest.mark.parametrize("arch, match", [
    ({"family": "resnet"}, "family='resnet'"),
    ({"family": "mlp", "in_features": 10, "in_shape": [3, 3]}, "in_shape=\\[3, 3\\] has 9"),
    ({"family": "mlp", "hidden": []}, "at least one"),
    ({"family": "mlp", "input_bits": 4}, "input_bits=4"),
    ({"family": "cnv", "channels": ["M", 8]}, "must start with a conv"),
    ({"family": "cnv", "channels": [8, 8, 8], "img": 5}, "conv #2 gets a 1x1 map"),
    ({"family": "cnv", "channels": [8, "M", "M"], "img": 5}, "pool #2 gets a 1x1 map"),
    ({"family": "cnv", "padding": -1}, "padding=-1"),
    ({"family": "cnv", "shortcut": "pool"}, "shortcut='pool' must be one of"),
    ({"family": "cnv", "channels": [8, "D"], "img": 5, "padding": 1, "shortcut": "avgpool"},
     "entry #1 \\(D\\) gets a 5x5 map; an avgpool shortcut needs an even map"),
])
def test_bad_arch_names_the_value(arch: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_model(arch)


@pytest.mark.parametrize("preset", ["tfc", "mlp_digits", "cnv_small"])
def test_gradients_reach_every_parameter(preset: str) -> None:
    """Straight-through estimators: a training step updates latent weights, BN affine and the logit scale."""
    torch.manual_seed(0)
    model = build_model(preset).train()
    x = sample_input(model, 8, 1)
    feat, logits = model.forward_features(x)
    (nn.functional.cross_entropy(logits, torch.arange(8) % model.num_classes) + feat.pow(2).mean()).backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert missing == []
