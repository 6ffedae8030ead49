"""What a student costs in hardware terms: multiply-accumulates per frame and weight bits, per layer and total."""
from __future__ import annotations

import torch
from torch import nn

from candle_hw.models.quant import is_binary_layer, weight_bits
from candle_hw.models.registry import sample_input


def student_cost(model: nn.Module) -> dict:
    """{"macs", "weight_bits", "layers": [{"name", "macs", "weights", "weight_bits"}], "act_bits"} for one frame,
    measured by running one sample input through the model (so pads, pools and residual blocks count as built)."""
    layers: list[dict] = []
    hooks = []
    for name, module in model.named_modules():
        if is_binary_layer(module):
            hooks.append(module.register_forward_hook(_recorder(name, layers)))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(sample_input(model, 1))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return {"macs": sum(layer["macs"] for layer in layers),
            "weight_bits": sum(layer["weights"] * layer["weight_bits"] for layer in layers),
            "act_bits": int(getattr(model, "arch", {}).get("act_bits", 1)), "layers": layers}


def _recorder(name: str, layers: list[dict]):
    def hook(module: nn.Module, _inputs, output: torch.Tensor) -> None:
        weights = int(module.weight.numel())
        # Every output element of a conv/linear layer costs one MAC per weight of its output channel.
        per_output = weights // int(module.weight.shape[0])
        layers.append({"name": name, "macs": int(output[0].numel()) * per_output, "weights": weights,
                       "weight_bits": weight_bits(module)})
    return hook
