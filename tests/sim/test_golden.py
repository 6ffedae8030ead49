"""Golden ops against their definitions (naive loops), and the bit layouts against their documented formulas."""
import numpy as np
from hypothesis import given, settings, strategies as st

from candle_hw.sim import golden, packing
from candle_hw.types import BIPOLAR, IntType, sint, uint

SETTINGS = settings(max_examples=40, deadline=None)


def _pm1(rng, shape):
    return rng.choice(np.array([-1, 1], dtype=np.int8), size=shape)


@SETTINGS
@given(n=st.integers(1, 5), k=st.integers(1, 70), m=st.integers(1, 9), seed=st.integers(0, 2**31))
def test_xnor_popcount_is_number_of_agreements(n, k, m, seed):
    rng = np.random.default_rng(seed)
    x, w = _pm1(rng, (n, k)), _pm1(rng, (k, m))
    p = golden.xnor_popcount(x, w)
    np.testing.assert_array_equal(p, golden.xnor_popcount_bits(x > 0, w > 0))
    np.testing.assert_array_equal(2 * p - k, x.astype(np.int64) @ w.astype(np.int64))


def test_integer_matmul_switches_to_int64_beyond_float32_exactness():
    rng = np.random.default_rng(0)
    x = rng.integers(-(2**20), 2**20, size=(3, 40))
    w = _pm1(rng, (40, 5))
    np.testing.assert_array_equal(golden.integer_matmul(x, w), x @ w.astype(np.int64))


@SETTINGS
@given(c=st.integers(1, 6), n=st.integers(1, 4), seed=st.integers(0, 2**31))
def test_multithreshold_counts_thresholds_at_or_below(c, n, seed):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(-5, 6, size=(c, n)), axis=1)
    acc = rng.integers(-7, 8, size=(11, c))
    want = np.array([[sum(int(a[j] >= t[j, i]) for i in range(n)) for j in range(c)] for a in acc])
    np.testing.assert_array_equal(golden.multithreshold(acc, t), want)


@SETTINGS
@given(h=st.integers(3, 7), w=st.integers(3, 7), c=st.integers(1, 3), k=st.integers(1, 3), s=st.integers(1, 2),
       pad=st.integers(0, 1), seed=st.integers(0, 2**31))
def test_sliding_window_order_is_ky_kx_c(h, w, c, k, s, pad, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 9, size=(2, h, w, c))
    y = golden.sliding_window(x, k, s, pad, pad_value=-1)
    oh, ow = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    assert y.shape == (2, oh, ow, k * k * c)
    for b in range(2):
        for oy in range(oh):
            for ox in range(ow):
                want = []
                for ky in range(k):
                    for kx in range(k):
                        iy, ix = oy * s + ky - pad, ox * s + kx - pad
                        for ch in range(c):
                            inside = 0 <= iy < h and 0 <= ix < w
                            want.append(x[b, iy, ix, ch] if inside else -1)
                np.testing.assert_array_equal(y[b, oy, ox], want)


def test_maxpool_on_bipolar_is_or_of_bits():
    rng = np.random.default_rng(1)
    x = _pm1(rng, (3, 6, 6, 4))
    y = golden.maxpool(x, 2, 2)
    bits = (x > 0).reshape(3, 3, 2, 3, 2, 4)
    np.testing.assert_array_equal(y > 0, bits.any(axis=(2, 4)))


def test_label_select_lowest_index_wins_ties():
    x = np.array([[3, 7, 7, 1], [5, 5, 5, 5], [0, 0, 0, 9]])
    np.testing.assert_array_equal(golden.label_select(x, 1)[:, 0], [1, 0, 3])
    np.testing.assert_array_equal(golden.label_select(x, 3), [[1, 2, 0], [0, 1, 2], [3, 0, 1]])


@SETTINGS
@given(bits=st.integers(1, 12), signed=st.booleans(), per=st.integers(1, 9), words=st.integers(1, 6), seed=st.integers(0, 2**31))
def test_stream_pack_roundtrip_and_lsb_first(bits, signed, per, words, seed):
    t = IntType(bits, signed) if bits > 1 or not signed else BIPOLAR
    rng = np.random.default_rng(seed)
    vals = rng.integers(t.min, t.max + 1, size=words * per)
    if t.bipolar:
        vals = np.where(vals >= 0, 1, -1)
    ws = packing.pack_stream(vals, t, per)
    assert len(ws) == words
    np.testing.assert_array_equal(packing.unpack_stream(ws, t, per, (words * per,)), vals)
    first = int(ws[0]) & ((1 << t.bits) - 1)
    np.testing.assert_array_equal(packing.decode(np.array([first]), t), vals[:1])


@SETTINGS
@given(sf=st.integers(1, 4), simd=st.integers(1, 5), nf=st.integers(1, 4), pe=st.integers(1, 4), seed=st.integers(0, 2**31))
def test_weight_words_layout(sf, simd, nf, pe, seed):
    rng = np.random.default_rng(seed)
    w = _pm1(rng, (sf * simd, nf * pe))
    words = packing.weight_words(w, pe, simd)
    assert len(words) == sf * nf
    for f in range(nf):
        for s in range(sf):
            word = words[f * sf + s]
            for p in range(pe):
                for j in range(simd):
                    assert (word >> (p * simd + j)) & 1 == int(w[s * simd + j, f * pe + p] > 0)
    per_pe = packing.weight_words_per_pe(w, pe, simd)
    for p in range(pe):
        assert per_pe[p] == [(wd >> (p * simd)) & ((1 << simd) - 1) for wd in words]


def test_threshold_words_twos_complement(tmp_path):
    t = np.array([[-3, 2], [0, 5], [1, -1], [7, -8]])
    words = packing.threshold_words(t, pe=2, ttype=sint(4))
    assert words == [(0xD | 2 << 4 | 0 << 8 | 5 << 12), (1 | 0xF << 4 | 7 << 8 | 0x8 << 12)]
    packing.write_memh(tmp_path / "t.mem", words, 16)
    assert packing.read_memh(tmp_path / "t.mem") == words
    assert (tmp_path / "t.mem").read_text().splitlines()[0] == f"{words[0]:04x}"


def test_encode_rejects_out_of_range_values():
    import pytest

    with pytest.raises(ValueError, match="do not fit UINT3"):
        packing.encode(np.array([8]), uint(3))
    with pytest.raises(ValueError, match="not a BIPOLAR value"):
        packing.encode(np.array([0, 1]), BIPOLAR)
