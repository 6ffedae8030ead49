"""The prologue's step form (a few-level input quantizer as compares on the raw input) against the prologue's float
chain itself, on random chains of scalar ops and random quantizers, at the step edges (each step's value and the
float32 just below it), rounding ties, signed zeros, infinities and the float32 extremes."""
from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings, strategies as st

from candle_hw.compile.host_ir import HostOp, InputQuant, Prologue
from candle_hw.sim import host
from candle_hw.types import IntType

SHAPE = (1, 2, 3)


def _graph(ops, consts, quant, layout="nc"):
    params = {f"p.{i}": np.array(c, dtype=np.float32) for i, c in enumerate(consts)}
    pro = Prologue(tuple(HostOp(op, f"p.{i}") for i, op in enumerate(ops)), quant, layout)
    return SimpleNamespace(prologue=pro, params=params, model_input_shape=(1, *SHAPE))


def _inputs(rng, u, n=400) -> np.ndarray:
    f32 = np.finfo(np.float32)
    edges = [0.0, -0.0, np.inf, -np.inf, f32.max, -f32.max, f32.tiny, -f32.tiny, 0.5, -0.5, 1.5, 2.5]
    for v in u[np.isfinite(u)]:
        edges += [v, np.nextafter(v, np.float32(-np.inf)), np.nextafter(v, np.float32(np.inf))]
    x = np.concatenate([np.array(edges, dtype=np.float32), rng.normal(0, 3, n).astype(np.float32),
                        rng.uniform(-1, 1, n).astype(np.float32), (rng.integers(-8, 9, n) / 4).astype(np.float32)])
    x = np.concatenate([x, np.zeros(-len(x) % int(np.prod(SHAPE)), dtype=np.float32)])
    return x.reshape(-1, *SHAPE)


QUANTS = [(IntType(2, True), True), (IntType(2, True), False), (IntType(2, False), False), (IntType(1, False), False),
          (IntType(1, True), False), (IntType(2, False), True)]
MODES = ["ROUND", "FLOOR", "CEIL", "HALF_UP", "HALF_DOWN"]


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(st.sampled_from(["mul", "add", "sub", "div"]), max_size=3), q=st.sampled_from(QUANTS),
       mode=st.sampled_from(MODES), scale=st.sampled_from([1.0, 0.5, 0.37, 3.0]), seed=st.integers(0, 2**31))
def test_step_form_equals_the_float_chain(ops, q, mode, scale, seed):
    rng = np.random.default_rng(seed)
    consts = [float(np.float32(rng.uniform(0.1, 4.0) if op in ("mul", "div") else rng.normal(0, 1))) for op in ops]
    g = _graph(ops, consts, InputQuant("int", q[0], scale, q[1], mode))
    steps = host.input_steps(g)
    assert steps is not None
    lo, u = steps
    x = _inputs(rng, u)
    with np.errstate(over="ignore"):  # the extremes overflow to infinity in the chain, as in qonnx
        want = host._quantized(g, x).reshape(len(x), -1)
    got = host.count_steps(x.reshape(len(x), -1), lo, u)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == want.dtype == np.float32


def test_non_monotone_or_wide_quantizers_take_the_float_chain():
    q2 = InputQuant("int", IntType(2, True), 1.0, True)
    assert host.input_steps(_graph(["mul"], [-2.0], q2)) is None  # a negative multiplier reverses the order
    assert host.input_steps(_graph(["div"], [0.0], q2)) is None
    assert host.input_steps(_graph(["add"], [np.inf], q2)) is None
    assert host.input_steps(_graph([], [], InputQuant("int", IntType(3, False)))) is None  # 7 steps: too many
    assert host.input_steps(_graph([], [], InputQuant("bipolar", IntType(1, True)))) is None
    assert host.input_steps(_graph([], [], InputQuant("int", IntType(1, False), 1.0, True))) is None  # {0} only
    g = _graph(["mul", "sub"], [2.0, 1.0], q2)
    g.params["p.0"] = np.array([1.0, 2.0], dtype=np.float32)  # per-element constants
    assert host.input_steps(g) is None


def test_steps_of_a_tfc_style_input():
    """x * 2 - 1 quantized to narrow INT2 (bnn_pynq TFC's input): -1 below 0.25, 1 from 0.75 (as rounded in
    float32), ties to even at the half-way points."""
    g = _graph(["mul", "sub"], [2.0, 1.0], InputQuant("int", IntType(2, True), 1.0, True))
    lo, u = host.input_steps(g)
    assert lo == -1
    x = np.array([0.25, np.nextafter(np.float32(0.25), np.float32(0)), 0.75, np.nextafter(np.float32(0.75), np.float32(1))],
                 dtype=np.float32)
    np.testing.assert_array_equal(host.count_steps(x[None], lo, u)[0], np.round(np.clip(x * 2 - 1, -1, 1)))
