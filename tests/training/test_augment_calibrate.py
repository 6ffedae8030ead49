import numpy as np
import pytest
import torch

from candle_hw.training.augment import ViewBank, crop_flip, pad_images
from candle_hw.training.calibrate import (CalibratedHead, SizeInterpConcat, class_balanced_indices,
                                          label_aware_smoothing, las_loss)


def test_crop_flip_matches_a_per_image_reference():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (6, 3, 8, 8), generator=g, dtype=torch.uint8)
    padded = pad_images(images, 2)
    idx = torch.tensor([5, 0, 3, 3])
    dy, dx = torch.tensor([0, 4, 2, 1]), torch.tensor([3, 0, 2, 4])
    flip = torch.tensor([True, False, True, False])
    out = crop_flip(padded, idx, dy, dx, flip, (8, 8))
    for b in range(4):
        ref = padded[idx[b], :, dy[b]:dy[b] + 8, dx[b]:dx[b] + 8]
        ref = ref.flip(-1) if flip[b] else ref
        assert torch.equal(out[b], ref)
    bank = ViewBank.make(6, 3, 2, seed=0)
    assert torch.equal(bank.batch(padded, torch.arange(6), torch.zeros(6, dtype=torch.long), (8, 8)), images)


def test_label_aware_smoothing_follows_the_mislas_concave_rule():
    counts = np.array([100, 60, 30, 10])
    eps = label_aware_smoothing(counts, 0.3, 0.0)
    assert eps[0] == pytest.approx(0.3) and eps[-1] == pytest.approx(0.0)
    assert eps[1] == pytest.approx(0.3 * np.sin(np.pi / 2 * 50 / 90))
    assert np.all(np.diff(eps) < 0)
    logits = torch.tensor([[2.0, 0.0, -1.0, 0.5], [0.1, 0.2, 0.3, 0.4]])
    target = torch.tensor([0, 3])
    e = torch.tensor(eps, dtype=torch.float32)
    logp = torch.log_softmax(logits, 1)
    manual = [-(1 - e[t]) * logp[i, t] - e[t] * logp[i].mean() for i, t in enumerate(target)]
    assert las_loss(logits, target, e).item() == pytest.approx(torch.stack(manual).mean().item(), rel=1e-6)


def test_class_balanced_sampler_is_balanced_on_long_tailed_labels():
    labels = torch.from_numpy(np.repeat(np.arange(4), [500, 100, 20, 2]))
    g = torch.Generator().manual_seed(0)
    idx = class_balanced_indices(labels, 40000, 4, g)
    freq = torch.bincount(labels[idx], minlength=4).float() / len(idx)
    assert torch.all((freq - 0.25).abs() < 0.01), freq
    assert set(idx[labels[idx] == 3].tolist()) == {620, 621}


def test_size_interp_concat_and_pooled_head_agree_with_full_maps():
    torch.manual_seed(0)
    sic = SizeInterpConcat(5, 3, 3, identity_index=1)
    maps = [torch.randn(2, 5, 2, 2), torch.randn(2, 5, 4, 4), torch.randn(2, 5, 8, 8)]
    out = sic(maps)
    assert out.shape == (2, 9, 4, 4)
    up = torch.nn.functional.interpolate(sic.proj[0](maps[0]), size=(4, 4), mode="nearest")
    torch.testing.assert_close(out[:, :3], up)
    head = CalibratedHead(5, 3, 3, 1, num_classes=7)
    const = [m.mean(dim=(2, 3), keepdim=True).expand_as(m) for m in maps]  # spatially constant maps
    pooled = torch.stack([m.mean(dim=(2, 3)) for m in maps], dim=1)
    torch.testing.assert_close(head(const), head(pooled))
    torch.testing.assert_close(head.identity_feature(const), head.identity_feature(pooled))
