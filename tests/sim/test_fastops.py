"""The functional simulator's fast ops against the golden formulas they replace, on random data with the edge
cases drawn on purpose: accumulators exactly at a threshold (ties, >= counts them), thresholds far outside the
accumulator range (int64 extremes included), inputs at their type's bounds, products at the float32 limit."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from candle_hw.sim import fastops, golden
from candle_hw.types import BIPOLAR, IntType

SETTINGS = settings(max_examples=60, deadline=None)
I64 = np.iinfo(np.int64)


def _thresholds(rng, acc: np.ndarray, c: int, n: int, bound: int) -> np.ndarray:
    """(c, n) sorted thresholds: a third at values the accumulator takes (ties), the rest around and far
    beyond its range, int64 extremes included."""
    pool = np.concatenate([acc.reshape(-1).astype(np.int64), [-bound - 1, -bound, bound, bound + 1, bound + 2],
                           [I64.min, I64.max, -(1 << 40), 1 << 40]])
    ties = rng.choice(pool, size=(c, n))
    wide = rng.integers(-2 * bound - 3, 2 * bound + 4, size=(c, n))
    return np.sort(np.where(rng.random((c, n)) < 0.4, ties, wide), axis=1)


def _golden_count(acc, t):
    out = golden.multithreshold(np.asarray(acc, dtype=np.int64), t)
    return golden.to_bipolar(out) if t.shape[1] == 1 else out


@SETTINGS
@given(c=st.integers(1, 9), n=st.sampled_from([1, 2, 3, 7, 15, 16, 17, 40]), rows=st.integers(1, 30),
       bound=st.sampled_from([1, 5, 127, 3456, (1 << 24) - 1]), seed=st.integers(0, 2**31))
def test_threshold_count_equals_multithreshold(c, n, rows, bound, seed):
    rng = np.random.default_rng(seed)
    acc = rng.integers(-bound, bound + 1, size=(rows, c))
    acc[0, :] = bound  # the accumulator's own extremes
    acc[-1, :] = -bound
    t = _thresholds(rng, acc, c, n, bound)
    got = fastops.threshold_count(acc.astype(np.float32), t, bound)
    np.testing.assert_array_equal(got, _golden_count(acc, t))
    assert got.dtype == (np.int8 if n == 1 else np.uint8)


def test_threshold_count_wide_counts_and_refusal():
    rng = np.random.default_rng(1)
    acc = rng.integers(-400, 401, size=(50, 3))
    t = np.sort(rng.integers(-420, 421, size=(3, 300)), axis=1)  # 300 thresholds: a uint16 count
    got = fastops.threshold_count(acc.astype(np.float32), t, 400)
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got, golden.multithreshold(acc, t))
    with pytest.raises(ValueError, match="2\\*\\*24"):
        fastops.threshold_count(acc.astype(np.float32), t, 1 << 24)


TYPES = [BIPOLAR, IntType(2, False), IntType(2, True), IntType(3, False), IntType(4, True), IntType(8, True),
         IntType(8, False), IntType(16, True), IntType(24, True)]
WEIGHTS = [BIPOLAR, IntType(2, True), IntType(3, True), IntType(4, True)]


def _values(rng, t: IntType, shape) -> np.ndarray:
    if t.bipolar:
        return rng.choice(np.array([-1, 1], dtype=np.int8), size=shape)
    v = rng.integers(t.min, t.max + 1, size=shape)
    v[0, :] = t.min  # the type's bounds
    v[-1, :] = t.max
    return v


@SETTINGS
@given(it=st.sampled_from(TYPES), wt=st.sampled_from(WEIGHTS), mw=st.integers(1, 80), mh=st.integers(1, 9),
       n=st.sampled_from([0, 1, 2, 3, 15, 20]), rows=st.integers(2, 20), dtype=st.sampled_from(["int64", "f32", "narrow"]),
       seed=st.integers(0, 2**31))
def test_integer_mvu_equals_golden_mvu(it, wt, mw, mh, n, rows, dtype, seed):
    rng = np.random.default_rng(seed)
    x = _values(rng, it, (rows, mw))
    w = _values(rng, wt, (mw, mh))
    w[:, 0] = wt.min if not wt.bipolar else -1  # one column at the weight type's bound: the largest |acc|
    acc = x.astype(np.int64) @ w.astype(np.int64)
    bound = fastops.product_bound(it, w)
    t = _thresholds(rng, acc, mh, n, min(bound, 1 << 40)) if n else None
    # the containers the simulator passes: int64, float32 (a window), the narrow count/±1 dtypes
    xs = {"int64": x.astype(np.int64), "f32": x.astype(np.float32) if bound < golden.F32_EXACT else x,
          "narrow": x.astype(np.int8 if it.bipolar else np.result_type(np.min_scalar_type(it.min), np.min_scalar_type(it.max)))}[dtype]
    got = fastops.integer_mvu(xs, w, t, it)
    want = golden.mvu(x.astype(np.int64), w, t, False)
    np.testing.assert_array_equal(got, want)
    if n == 0:
        assert got.dtype == np.int64
    elif bound < golden.F32_EXACT:
        assert got.dtype == (np.int8 if n == 1 else np.uint8)


def test_integer_mvu_past_float32_exactness_stays_exact():
    rng = np.random.default_rng(2)
    it = IntType(24, True)
    x = _values(rng, it, (4, 40))
    w = _values(rng, IntType(4, True), (40, 3))
    assert fastops.product_bound(it, w) >= golden.F32_EXACT
    t = np.sort(rng.integers(-(1 << 30), 1 << 30, size=(3, 3)), axis=1)
    t[0, 1] = int((x.astype(np.int64) @ w.astype(np.int64))[1, 0])  # a tie beyond float32's integers
    np.testing.assert_array_equal(fastops.integer_mvu(x, w, t, it), golden.mvu(x, w, t, False))


@SETTINGS
@given(h=st.integers(1, 9), w=st.integers(1, 9), c=st.integers(1, 4), k=st.integers(1, 3), s=st.integers(1, 3),
       dtype=st.sampled_from([np.uint8, np.int8, np.int64, np.float32]), seed=st.integers(0, 2**31))
def test_maxpool_equals_golden(h, w, c, k, s, dtype, seed):
    assume(k <= min(h, w))
    rng = np.random.default_rng(seed)
    lo, hi = (-1, 2) if dtype is np.int8 else (0, 4) if dtype is np.uint8 else (-(1 << 20), 1 << 20)
    x = rng.integers(lo, hi, size=(2, h, w, c)).astype(dtype)
    got = fastops.maxpool(x, k, s)
    np.testing.assert_array_equal(got, golden.maxpool(x, k, s))
    assert got.dtype == x.dtype
