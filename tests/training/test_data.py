from pathlib import Path

import numpy as np
import pytest

from candle_hw.errors import UserError
from candle_hw.training.data import (CIFAR10_DEFAULT, class_groups, load_fashion_mnist, load_lt_dataset,
                                     lt_counts, make_long_tailed)


def test_cifar_lt_sizes_match_the_literature():
    assert lt_counts(5000, 10, 100).sum() == 12406
    assert lt_counts(5000, 10, 10).sum() == 20431
    np.testing.assert_array_equal(lt_counts(5000, 10, 100), [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50])
    assert lt_counts(6000, 10, 100).sum() == 14886 and lt_counts(500, 10, 10).sum() == 2040


def test_digits_lt_is_deterministic_and_hashed(digits_lt):
    again = load_lt_dataset("digits", rho=10, seed=0)
    other = load_lt_dataset("digits", rho=10, seed=1)
    np.testing.assert_array_equal(digits_lt.train_indices, again.train_indices)
    assert digits_lt.construction_hash == again.construction_hash != other.construction_hash
    np.testing.assert_array_equal(digits_lt.class_counts, lt_counts(digits_lt.class_counts[0], 10, 10))
    test_counts = np.bincount(digits_lt.test.labels)
    assert (test_counts == test_counts[0]).all(), "test split must stay balanced"
    assert digits_lt.train.images.dtype == np.uint8 and digits_lt.train.images.max() == 255


def test_lt_rejects_impossible_requests():
    labels = np.repeat(np.arange(3), 5)
    with pytest.raises(UserError, match="class 0: needs 6"):
        make_long_tailed(labels, 3, 10, 0, n_max=6)
    with pytest.raises(UserError, match="leaves no image"):
        make_long_tailed(labels, 3, 1000, 0)
    with pytest.raises(UserError, match="unknown"):
        load_lt_dataset("cifar100", 10)


def test_group_rule_thirds_and_shots():
    counts = np.array([5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50])
    g = class_groups(counts)
    assert (g["head"], g["medium"], g["tail"]) == ([0, 1, 2, 3], [4, 5, 6], [7, 8, 9])
    g = class_groups(np.array([10, 200, 50, 100, 19, 20]))
    assert g["head"] == [1, 3] and g["tail"] == [4, 0]
    assert (g["many_shot"], g["medium_shot"], g["few_shot"]) == ([1], [2, 3, 5], [0, 4])


def test_fashion_mnist_absent_is_a_clean_error(tmp_path):
    with pytest.raises(UserError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(not Path(CIFAR10_DEFAULT).is_file(), reason="CIFAR-10 archive not on this machine")
def test_cifar10_lt100_from_the_real_archive(tmp_path, monkeypatch):
    monkeypatch.setenv("CANDLE_HW_CACHE", str(tmp_path))
    ds = load_lt_dataset("cifar10", rho=100)
    assert ds.train.images.shape == (12406, 3, 32, 32) and ds.test.images.shape == (10000, 3, 32, 32)
    np.testing.assert_array_equal(ds.class_counts, lt_counts(5000, 10, 100))
    assert list(tmp_path.glob("cifar10_jpg_*.npz")), "decoded arrays must be cached"


def test_mnist5k_lt_uses_the_training_part_as_n_max():
    ds = load_lt_dataset("mnist5k", rho=10, seed=0)
    np.testing.assert_array_equal(ds.class_counts, lt_counts(400, 10, 10))  # 500 per class minus a 20 % test part
    assert ds.test.images.shape == (1000, 1, 28, 28) and (np.bincount(ds.test.labels) == 100).all()
