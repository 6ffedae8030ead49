"""The co-design search: its YAML config, the student variants it expands to, and their hashes.

A config names the training recipe every candidate shares (``train_config``: a ``candle-hw train`` YAML, then
``train``: overrides in the same nested format), the one ``method`` whose student each candidate is, the
``search`` groups (a base arch from the zoo and lists of values per dimension; the candidates are the union of
each group's grid) and the ``targets`` (device and FPS, or "max") every candidate is compiled and folded for.

Dimensions: ``width`` (multiplies every hidden layer / conv and FC width, rounded as the zoo rounds CNV widths),
``depth`` (MLP: hidden layers; CNV: convolutions per stage between pools), ``padding`` (CNV), ``weight_bits``,
``act_bits`` and ``residual``. The last three reach the arch only when they differ from today's binary chain
(1, 1, false), and every candidate must be one the zoo builds: the search is limited to what
candle_hw.models can express, and a config asking for more is refused before anything runs.
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from candle_hw.errors import UserError

DIMENSIONS = ("width", "depth", "padding", "weight_bits", "act_bits", "residual")
# Values that leave the zoo's binary chain as it is: such a value is not written into the arch.
CHAIN_DEFAULTS = {"weight_bits": 1, "act_bits": 1, "residual": False}
TOP_KEYS = ("name", "train_config", "train", "method", "search", "targets", "synth", "synth_timeout_s",
            "n_workers")
POOL = "M"
# what one run of the search does: everything, or training alone (a GPU machine without the compiler)
STAGES = ("all", "train")
# distill options that change when or how fast a run stops or reports, not the student it trains
# (fit_minutes shortens a schedule to what fits a call: the record states the epochs a candidate got)
TIME_BOXING = ("max_minutes", "fit_minutes", "stop_after", "checkpoint_every", "eval_every", "compile")


@dataclass(frozen=True)
class Target:
    device: str
    fps: float | str  # frames/s, or "max": the fastest folding that fits
    synth: bool = True  # Yosys on this target's front (the search's ``synth`` must be on too)


def target_key(device: str, fps: float | str) -> str:
    """DEVICE@FPS: names the target in records and its folder under each candidate."""
    return f"{device}@{fps if fps == 'max' else format(float(fps), 'g')}"


@dataclass(frozen=True)
class Candidate:
    name: str  # readable: family and the dimension values
    arch: dict
    values: dict  # the dimension values that made it
    train_hash: str  # what its trained student depends on

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class CodesignConfig:
    name: str
    train: Any  # candle_hw.training.config.TrainConfig (every candidate's recipe)
    method: str
    candidates: list[Candidate]
    targets: list[Target]
    synth: bool = True
    synth_timeout_s: float = 1800.0
    n_workers: int = 2
    raw: dict = field(default_factory=dict)


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _flatten(mapping: dict, prefix: str = "") -> dict:
    """{"distill": {"epochs": 3}} -> {"distill.epochs": 3}; lists and scalars are leaves."""
    out = {}
    for key, value in mapping.items():
        if isinstance(value, dict) and key != "student":
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _base_arch(base: Any, where: str) -> dict:
    from candle_hw.models import PRESETS
    if isinstance(base, str):
        if base not in PRESETS:
            raise UserError(f"{where}.base={base!r}: not a zoo preset (known: {', '.join(sorted(PRESETS))})")
        return copy.deepcopy(PRESETS[base])
    if isinstance(base, dict) and base.get("family") in ("mlp", "cnv"):
        return copy.deepcopy(base)
    raise UserError(f"{where}.base={base!r}: expected a preset name or an arch mapping with family mlp|cnv")


def _stages(channels: list) -> list[list]:
    """CNV channel spec split at pools: [[64, 64], [128, 128], [256, 256]] (pools kept as their own items)."""
    out: list[list] = [[]]
    for c in channels:
        if c == POOL:
            out.append([POOL])
            out.append([])
        else:
            out[-1].append(c)
    return [s for s in out if s]


def variant(base: dict, values: dict) -> dict:
    """The arch of ``base`` with the dimension ``values`` applied."""
    from candle_hw.models.cnv import scale_channels
    arch = copy.deepcopy(base)
    width, depth = values.get("width"), values.get("depth")
    if arch["family"] == "mlp":
        hidden = list(arch.get("hidden", [64, 64, 64]))
        if depth is not None:
            hidden = (hidden + [hidden[-1]] * int(depth))[:int(depth)]
        if width is not None:
            hidden = [scale_channels(h, float(width)) for h in hidden]
        arch["hidden"] = hidden
    else:
        if depth is not None:
            arch["channels"] = [c for s in _stages(list(arch["channels"]))
                                for c in (s if s == [POOL] else [s[0]] * int(depth))]
        if width is not None:
            arch["width"] = float(arch.get("width", 1.0)) * float(width)
            arch["fc"] = [scale_channels(f, float(width)) for f in arch.get("fc", [512, 512])]
        if values.get("padding") is not None:
            arch["padding"] = int(values["padding"])
    for dim, default in CHAIN_DEFAULTS.items():
        if values.get(dim) is not None and values[dim] != default:
            arch[dim] = values[dim]
    return arch


def _check_dimension(dim: str, vals: list, family: str, where: str) -> None:
    for v in vals:
        if dim == "width" and not (isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0):
            raise UserError(f"{where}.width={v!r}: expected a positive number")
        if dim in ("depth", "weight_bits", "act_bits") and not (isinstance(v, int) and not isinstance(v, bool)
                                                                 and v >= 1):
            raise UserError(f"{where}.{dim}={v!r}: expected an integer >= 1")
        if dim == "padding" and not (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
            raise UserError(f"{where}.padding={v!r}: expected an integer >= 0")
        if dim == "residual" and not isinstance(v, bool):
            raise UserError(f"{where}.residual={v!r}: expected true or false")
    if dim == "padding" and family != "cnv":
        raise UserError(f"{where}.padding: the {family} family has no convolutions to pad")


def _group_candidates(group: Any, where: str) -> list[tuple[dict, dict]]:
    if not isinstance(group, dict) or "base" not in group:
        raise UserError(f"{where}: expected a mapping with 'base' and dimension lists ({', '.join(DIMENSIONS)})")
    unknown = sorted(set(group) - {"base", *DIMENSIONS})
    if unknown:
        raise UserError(f"{where}.{unknown[0]}: unknown dimension (known: {', '.join(DIMENSIONS)})")
    base = _base_arch(group["base"], where)
    dims = [d for d in DIMENSIONS if d in group]
    grids = []
    for d in dims:
        vals = _as_list(group[d])
        if not vals:
            raise UserError(f"{where}.{d}: empty list")
        _check_dimension(d, vals, base["family"], where)
        grids.append(vals)
    return [(variant(base, dict(zip(dims, combo))), dict(zip(dims, combo))) for combo in itertools.product(*grids)]


def _probe(arch: dict, values: dict, where: str) -> None:
    """Refuse a candidate the zoo cannot build, naming the dimension values that asked for it."""
    from candle_hw.models import build_model
    try:
        build_model(arch)
    except (TypeError, ValueError) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        named = ", ".join(f"{k}={v}" for k, v in values.items())
        raise UserError(f"{where} ({named}): the zoo cannot build this student: {text}") from None


ABBREV = {"width": "w", "depth": "d", "padding": "p", "weight_bits": "W", "act_bits": "A", "residual": "res"}


def _name(arch: dict, values: dict) -> str:
    """mlp-w0.5-d2, cnv-w1-p1-W2-A2-res1 ..."""
    parts = [arch["family"]] + [f"{ABBREV[k]}{int(v) if isinstance(v, bool) else format(v, 'g')}"
                                for k, v in values.items()]
    return "-".join(parts)


def train_hash(arch: dict, method: str, train_cfg: Any) -> str:
    """Everything the trained student depends on: arch, method, data, teacher and schedule (not where it runs,
    nor where its files go)."""
    cfg = train_cfg.to_dict()
    for key in ("name", "out_dir", "progress", "device", "student", "methods"):
        cfg.pop(key, None)
    for key in TIME_BOXING:  # a time-boxed call must resume the same candidate, not start another
        cfg["distill"].pop(key, None)
    blob = json.dumps({"arch": arch, "method": method, "train": cfg}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _targets(raw: Any) -> list[Target]:
    from candle_hw.devices import get_device
    if not isinstance(raw, list) or not raw:
        raise UserError("targets: expected a non-empty list of {device: NAME, fps: N | max}")
    out = []
    for i, t in enumerate(raw):
        if not isinstance(t, dict) or set(t) - {"device", "fps", "synth"} or "device" not in t:
            raise UserError(f"targets[{i}]={t!r}: expected {{device: NAME, fps: N | max[, synth: BOOL]}}")
        dev = get_device(t["device"]).name
        fps = t.get("fps", "max")
        if fps != "max" and not (isinstance(fps, (int, float)) and not isinstance(fps, bool) and fps > 0):
            raise UserError(f"targets[{i}].fps={fps!r}: expected a positive number or 'max'")
        if not isinstance(t.get("synth", True), bool):
            raise UserError(f"targets[{i}].synth={t['synth']!r}: expected true or false")
        out.append(Target(dev, fps if fps == "max" else float(fps), t.get("synth", True)))
    return out


def load_codesign_config(path: str | Path) -> CodesignConfig:
    from candle_hw.training.config import load_config, read_config_file
    from candle_hw.training.distill import METHOD_SPECS
    p = Path(path)
    raw = read_config_file(p)
    unknown = sorted(set(raw) - set(TOP_KEYS))
    if unknown:
        raise UserError(f"config {p.name}: unknown key '{unknown[0]}' (known: {', '.join(TOP_KEYS)})")
    method = raw.get("method", "candle")
    if method not in METHOD_SPECS:
        raise UserError(f"method={method!r}: unknown; choose from {sorted(METHOD_SPECS)}")
    train_path = raw.get("train_config")
    if train_path is not None:
        train_path = (p.parent / train_path) if not Path(train_path).is_absolute() else Path(train_path)
    overrides = _flatten(raw.get("train") or {})
    overrides.update({"methods": [method], "progress": False})
    train = load_config(train_path, overrides, label="train_config")
    groups = raw.get("search")
    if not isinstance(groups, list) or not groups:
        raise UserError("search: expected a non-empty list of {base: ARCH, width: [...], depth: [...], ...}")
    candidates: dict[str, Candidate] = {}
    for gi, group in enumerate(groups):
        for arch, values in _group_candidates(group, f"search[{gi}]"):
            _probe(arch, values, f"search[{gi}]")
            h = train_hash(arch, method, train)
            candidates.setdefault(h, Candidate(f"{_name(arch, values)}-{h[:6]}", arch, values, h))
    n_workers = raw.get("n_workers", 2)
    if not (isinstance(n_workers, int) and not isinstance(n_workers, bool) and 1 <= n_workers <= 1024):
        raise UserError(f"n_workers={n_workers!r}: expected an integer in [1, 1024]")
    synth = raw.get("synth", True)
    if not isinstance(synth, bool):
        raise UserError(f"synth={synth!r}: expected true or false")
    timeout = raw.get("synth_timeout_s", 1800.0)
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise UserError(f"synth_timeout_s={timeout!r}: expected a positive number of seconds")
    return CodesignConfig(str(raw.get("name", p.stem)), train, method, list(candidates.values()),
                          _targets(raw.get("targets")), synth, float(timeout), int(n_workers), raw)

