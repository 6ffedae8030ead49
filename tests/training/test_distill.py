import pytest
import torch

from candle_hw.training.distill import AdversarialBalancer, compute_gradients, fs_loss, kl_loss


def _setup(seed=0):
    torch.manual_seed(seed)
    enc = torch.nn.Linear(6, 4)
    cls = torch.nn.Linear(4, 3)
    x = torch.randn(8, 6)
    feat = enc(x)
    logits = cls(torch.tanh(feat))
    t_logits, t_feat = torch.randn(8, 3), torch.randn(8, 4)
    return enc, cls, feat, logits, t_logits, t_feat


def test_losses_vanish_when_student_matches_teacher():
    t = torch.randn(5, 10)
    assert kl_loss(t, t).item() == pytest.approx(0.0, abs=1e-6)
    assert kl_loss(t, t.flip(1)).item() > 0
    f = torch.randn(5, 8)
    assert fs_loss(f, 3.0 * f[:, :, None, None]).item() == pytest.approx(0.0, abs=1e-6)
    assert fs_loss(f, -f).item() == pytest.approx(2.0)


def test_alg1_classifier_sees_no_fs_gradient_and_encoder_uses_lambda():
    enc, cls, feat, logits, t_logits, t_feat = _setup()
    ab = AdversarialBalancer()
    enc_p, cls_p = list(enc.parameters()), list(cls.parameters())
    kl, fs = kl_loss(t_logits, logits), fs_loss(t_feat, feat)
    lam = ab(kl.detach(), fs.detach()).detach()
    ref_cls = torch.autograd.grad(kl, cls_p, retain_graph=True)
    ref_enc = torch.autograd.grad((1 - lam) * kl + lam * fs, enc_p, retain_graph=True)
    # FS alone would not move the classifier: theta_c is not on FS's path at all.
    assert all(g is None for g in torch.autograd.grad(fs, cls_p, retain_graph=True, allow_unused=True))
    g_enc, g_cls, g_ab, losses = compute_gradients("alg1", enc_p, cls_p, ab, feat, logits, None, t_logits,
                                                   t_feat, 0.5, 1.0, 0.0, None)
    for a, b in zip(g_cls, ref_cls):
        torch.testing.assert_close(a, b)
    for a, b in zip(g_enc, ref_enc):
        torch.testing.assert_close(a, b)
    assert losses["lam"].item() == pytest.approx(lam.item())
    # The max player's gradient is d/dphi of lambda * (FS - KL): its sign follows FS - KL.
    assert len(g_ab) == len(list(ab.parameters())) and any(g.abs().sum() > 0 for g in g_ab)


def test_balancer_ascends_the_encoder_loss():
    ab = AdversarialBalancer()
    opt = torch.optim.Adam(ab.parameters(), lr=1e-2, maximize=True)
    kl, fs = torch.tensor(0.3), torch.tensor(0.9)  # FS larger: the max player must push lambda up
    objective = lambda: (1 - ab(kl, fs)) * kl + ab(kl, fs) * fs
    before = objective().item()
    for _ in range(20):
        lam = ab(kl, fs)
        grads = torch.autograd.grad((1 - lam) * kl + lam * fs, list(ab.parameters()))
        for p, g in zip(ab.parameters(), grads):
            p.grad = g
        opt.step()
    assert objective().item() > before
    assert 0.0 < ab(kl, fs).item() < 1.0


def test_eq1_and_ce_rules_update_every_parameter_from_one_loss():
    enc, cls, feat, logits, t_logits, t_feat = _setup(1)
    enc_p, cls_p = list(enc.parameters()), list(cls.parameters())
    ref = torch.autograd.grad(0.75 * kl_loss(t_logits, logits) + 0.25 * fs_loss(t_feat, feat), enc_p + cls_p,
                              retain_graph=True)
    with pytest.raises(ValueError, match="unknown distillation rule"):
        compute_gradients("nope", enc_p, cls_p, None, feat, logits, None, t_logits, t_feat, 0.5, 1.0, 0.0, None)
    g_enc, g_cls, g_ab, _ = compute_gradients("eq1", enc_p, cls_p, None, feat, logits, None, t_logits, t_feat,
                                              0.25, 1.0, 0.0, None)
    for a, b in zip(g_enc + g_cls, ref):
        torch.testing.assert_close(a, b)
    assert g_ab == []
