"""Training configuration: one dataclass tree, loaded from YAML and overridden by command-line flags."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from candle_hw.errors import UserError
from candle_hw.training.calibrate import CalibrationConfig
from candle_hw.training.distill import METHOD_SPECS, METHODS
from candle_hw.training.finetune import BLEND, FOLDS, FinetuneConfig
from candle_hw.training.loop import DistillConfig
from candle_hw.training.online import FunctionMatchingConfig


@dataclass
class DataConfig:
    dataset: str = "cifar10"
    rho: float = 100.0
    seed: int = 0
    n_max: int | None = None
    cifar_archive: str | None = None
    pad: int = 4  # random-crop padding (pixels)
    flip: bool = True  # random horizontal flips in the views (off for digits: a mirrored 2 is no 2)
    # Extension: > 0 adjusts every trained student post hoc (training/posthoc.py), tau chosen on up to this many
    # left-out training images per class; metrics.json gets `posthoc`, the method folder student_adjusted.pt.
    holdout: int = 0


@dataclass
class TeacherConfig:
    name: str = "efficientnet_lite0"
    resolutions: list[int] = field(default_factory=lambda: [128, 224, 480])  # down, identity, up (paper)
    identity_index: int = 1
    views: int = 10  # fixed augmented views whose teacher outputs are cached
    batch: int = 256
    amp: bool = True
    # Extension (kind `ensemble`, method cd_ens): two or more registry encoders, each calibrated as the `single`
    # kind is, whose mean class probabilities are the teacher. Empty: no ensemble.
    ensemble: list[str] = field(default_factory=list)
    # Extension: "cutmix" makes about mix_prob of views 1..K-1 CutMix images (training/augment.py). The calibration
    # skips them (no single label); only teacher-matching methods may train students on them. "none": the paper's.
    mix: str = "none"
    mix_prob: float = 0.5


@dataclass
class TrainConfig:
    name: str = "run"
    out_dir: str = "runs"
    student: str | dict = "cnv_w1a1"
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    device: str = "auto"
    progress: bool = True
    data: DataConfig = field(default_factory=DataConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    finetune: FinetuneConfig = field(default_factory=lambda: FinetuneConfig(blocks=6))
    distill: DistillConfig = field(default_factory=DistillConfig)
    function_matching: FunctionMatchingConfig = field(default_factory=FunctionMatchingConfig)  # *_fm methods

    def validate(self) -> None:
        unknown = [m for m in self.methods if m not in METHOD_SPECS]
        if unknown:
            raise UserError(f"method '{unknown[0]}' unknown; choose from {sorted(METHOD_SPECS)}")
        res = self.teacher.resolutions
        if not 0 <= self.teacher.identity_index < len(res):
            raise UserError(f"teacher.identity_index={self.teacher.identity_index} outside resolutions {res}")
        if self.distill.epochs < 1 or self.distill.batch < 1:
            raise UserError(f"distill: epochs={self.distill.epochs} and batch={self.distill.batch} must be >= 1")
        if isinstance(self.data.holdout, bool) or not isinstance(self.data.holdout, int) or self.data.holdout < 0:
            raise UserError(f"data.holdout={self.data.holdout!r}: need an integer >= 0 (held-out images per class)")
        if not 0.0 <= self.distill.la_tau <= 10.0:  # also refuses NaN
            raise UserError(f"distill.la_tau={self.distill.la_tau}: need 0 <= la_tau <= 10")
        bad = self.function_matching.validate() or self.finetune.validate()
        if bad:
            raise UserError(f"config {bad}")
        self._validate_ensemble()
        self._validate_mix()
        crossfit = [m for m in self.methods if METHOD_SPECS[m].teacher in ("single_xf", "single_xfb")]
        if crossfit and self.finetune.encoder_path:
            raise UserError(f"finetune.encoder_path={self.finetune.encoder_path}: method {crossfit[0]} tunes one "
                            f"encoder per fold (finetune.folds={self.finetune.folds}), not one to load; "
                            "leave encoder_path empty")

    def _validate_mix(self) -> None:
        from candle_hw.training.augment import MIX_MODES
        from candle_hw.training.distill import LABEL_TERM_METHODS
        t = self.teacher
        if t.mix not in MIX_MODES:
            raise UserError(f"teacher.mix={t.mix!r}: choose one of {MIX_MODES}")
        if not 0.0 <= t.mix_prob <= 1.0:
            raise UserError(f"teacher.mix_prob={t.mix_prob}: need 0 <= mix_prob <= 1")
        if t.mix == "none":
            return
        # A mixed view has no single true label: methods that train on the views' labels cannot use it.
        on_labels = [m for m in self.methods if METHOD_SPECS[m].rule in ("ce", "ce_fs") or m in LABEL_TERM_METHODS]
        if on_labels:
            raise UserError(f"teacher.mix={t.mix}: method {on_labels[0]} trains on the labels of the cached views, "
                            "which a mixed view does not have; use teacher.mix=none for it")

    def _validate_ensemble(self) -> None:
        from candle_hw.training.teachers import TEACHERS
        members = self.teacher.ensemble
        users = [m for m in self.methods if METHOD_SPECS[m].teacher == "ensemble"]
        example = f"e.g. [{', '.join(sorted(TEACHERS))}]"
        if not isinstance(members, list) or not all(isinstance(n, str) for n in members):
            raise UserError(f"teacher.ensemble={members!r}: expected a list of teacher names, {example}")
        if not members and not users:
            return
        unknown = [n for n in members if n not in TEACHERS]
        if unknown:
            raise UserError(f"teacher.ensemble={members}: member '{unknown[0]}' unknown; choose from "
                            f"{sorted(TEACHERS)}")
        if len(members) < 2 or len(set(members)) != len(members):
            needed = f" (method {users[0]} uses it)" if users else ""
            raise UserError(f"teacher.ensemble={members}: an ensemble needs two or more distinct teachers{needed}, "
                            f"{example}")

    def to_dict(self) -> dict:
        out = {**asdict(self), "teacher": _teacher_dict(self.teacher), "finetune": _finetune_dict(self.finetune)}
        if not self.data.holdout:  # left out when off: every co-design candidate hash made before it stays
            del out["data"]["holdout"]
        return out

    def teacher_key(self, student_channels: int) -> str:
        """Everything the teacher stage's outputs depend on (except the data, hashed separately)."""
        blob = json.dumps({"teacher": _teacher_dict(self.teacher), "calibration": asdict(self.calibration),
                           "finetune": _finetune_dict(self.finetune), "pad": self.data.pad, "seed": self.data.seed,
                           **({} if self.data.flip else {"flip": False}),
                           "student_channels": student_channels}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _teacher_dict(teacher: TeacherConfig) -> dict:
    """The teacher section as keys and hashes see it. Its ensemble (and with it the ensemble's cached targets) is
    keyed by the member list; an empty one is left out, so every teacher cache and co-design candidate hash made
    before the ensemble existed keeps its key. Likewise mix and mix_prob, left out while mix is none (a mixed bank
    is keyed by both, beside the data seed that draws it)."""
    out = asdict(teacher)
    if not out["ensemble"]:
        del out["ensemble"]
    if out["mix"] == "none":
        del out["mix"], out["mix_prob"]
    return out


def _finetune_dict(finetune: FinetuneConfig) -> dict:
    """The finetune section as keys and hashes see it: `folds` and `blend` are left out at their defaults, so
    every teacher key and co-design candidate hash made before cross-fitting (and blending) existed stays. A
    cross-fitted cache is told apart from a single_ft one by its kind (targets are stored and loaded per kind),
    and from one of other folds or another blend weight by this key."""
    out = asdict(finetune)
    if out["folds"] == FOLDS:
        del out["folds"]
    if out["blend"] == BLEND:
        del out["blend"]
    return out


def _merge(obj, updates: dict, where: str):
    for key, value in updates.items():
        if not hasattr(obj, key):
            raise UserError(f"config {where}: unknown key '{key}'")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            _merge(current, value, f"{where}.{key}")
        else:
            setattr(obj, key, _typed(current, value, f"{where}.{key}"))
    return obj


def _typed(current, value, where: str):
    """``value`` as the type of the default it replaces, for the scalar types. YAML 1.1 reads ``5e-4`` (no dot) as
    a string, which would otherwise reach the optimiser as one; a value of the wrong kind is refused here, naming
    the key, instead of failing deep inside a run."""
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise UserError(f"config {where}: expected true or false, got {value!r}")
        return value
    if isinstance(current, (int, float)) and not isinstance(value, bool):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise UserError(f"config {where}: expected a number, got {value!r}") from None
        if isinstance(value, (int, float)):
            if isinstance(current, float):
                return float(value)
            if float(value).is_integer():
                return int(value)
            raise UserError(f"config {where}: expected an integer, got {value!r}")
    if isinstance(current, (int, float)):
        raise UserError(f"config {where}: expected a number, got {value!r}")
    return value


def read_config_file(path: str | Path, label: str = "--config") -> dict:
    """The mapping a YAML config file holds; a missing file, bad YAML or another top level is refused in one
    line naming the option (``label``) and the file."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise UserError(f"{label} {p}: no such file")
    try:
        loaded = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{label} {p}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(loaded, dict):
        raise UserError(f"{label} {p}: expected a mapping at the top level")
    return loaded


def load_config(path: str | Path | None = None, overrides: dict | None = None, label: str = "--config") -> TrainConfig:
    """Defaults, then the YAML file, then dotted overrides such as {"distill.epochs": 5}."""
    cfg = TrainConfig()
    if path is not None:
        _merge(cfg, read_config_file(path, label), Path(path).name)
    for dotted, value in (overrides or {}).items():
        *parents, leaf = dotted.split(".")
        nested: dict = {leaf: value}
        for parent in reversed(parents):
            nested = {parent: nested}
        _merge(cfg, nested, "override")
    cfg.validate()
    return cfg
