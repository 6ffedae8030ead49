"""CANDLE training (calibrate and distill) of binary students on long-tailed data.

Modules, in data-flow order: ``data`` (real data sets, LT construction, head/medium/tail rule), ``augment``
(crop/flip views), ``teachers`` (offline EfficientNet-Lite registry, pooled multi-resolution features),
``calibrate`` (size-interp & concat head, class-balanced sampling, label-aware smoothing), ``finetune``
(extension: fine-tuned teacher blocks), ``teacher_stage`` (cached targets per teacher kind), ``distill`` (KL, FS,
AB_phi, the gradient rule of each ladder method), ``loop`` (student training, resume, DDP), ``evaluate``,
``plots``, ``pipeline`` (one run), ``cli`` (``candle-hw train``), ``profile`` (per-step costs), ``devlaunch``
(import mapping for source checkouts on device machines).

    candle-hw train --config configs/cifar10_lt100.yaml [--epochs N] [--methods scratch,candle] [--jobs 4]
    candle-hw train --dataset digits --rho 10 --student mlp_digits --pad 1 --methods scratch --epochs 20
    torchrun --nproc_per_node 2 -m candle_hw.cli train --config ...      # data parallel (NCCL / gloo)
    candle-hw export runs/NAME/checkpoint.pt -o model.onnx

Only the CLI imports this package (torch and brevitas stay out of compile/ and sim/).
"""
