"""One config object drives every framework.

``TrainConfig`` holds everything that decides how a model is trained. An experiment gives
the defaults, a TOML file (``--config``) and the command line change them for every
framework at once; a per-framework change happens only through an explicit override
(``--override torch.step_size=10``). ``config_diff`` lists every field on which the
effective configs of two frameworks differ; the run prints it and the report shows it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import tomllib

from .errors import UsageError

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("none", "step", "multistep", "exponential", "cosine", "onecycle")
FRAMEWORKS = ("lucid", "torch")


@dataclass(frozen=True)
class TrainConfig:
    """The effective training configuration of one framework's run."""

    experiment: str = "lenet5-mnist"
    model: str = "lenet5"
    dataset: str = "mnist-sample"
    epochs: int = 3
    batch_size: int = 128
    eval_batch_size: int = 500
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    scheduler: str = "none"
    step_size: int = 10
    gamma: float = 0.1
    milestones: tuple[int, ...] = ()
    t_max: int = 0
    eta_min: float = 0.0
    max_lr: float = 0.0
    pct_start: float = 0.3
    seed: int = 0
    subset: int = 0
    test_subset: int = 0
    augment: bool = False
    hidden: tuple[int, ...] = (256, 128)
    device: str = "cpu"
    threads: int = 0
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out.pop("extra")
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        kwargs = {}
        for f in fields(cls):
            if f.name in d and f.name != "extra":
                kwargs[f.name] = coerce(f.name, d[f.name])
        return cls(**kwargs)

    def resolved(self) -> TrainConfig:
        """Fill the values that default to another field when the scheduler uses them
        (cosine: ``t_max`` = epochs; onecycle: ``max_lr`` = lr)."""
        cfg = self
        if cfg.scheduler == "cosine" and cfg.t_max <= 0:
            cfg = replace(cfg, t_max=cfg.epochs)
        if cfg.scheduler == "onecycle" and cfg.max_lr <= 0:
            cfg = replace(cfg, max_lr=cfg.lr)
        return cfg

    def validate(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise UsageError(f"unknown optimizer {self.optimizer!r}; valid: "
                             f"{', '.join(OPTIMIZERS)}")
        if self.scheduler not in SCHEDULERS:
            raise UsageError(f"unknown scheduler {self.scheduler!r}; valid: "
                             f"{', '.join(SCHEDULERS)}")
        for name in ("epochs", "batch_size", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("subset", "test_subset", "threads"):
            if getattr(self, name) < 0:
                raise UsageError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.lr <= 0:
            raise UsageError(f"lr must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise UsageError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.scheduler == "step" and self.step_size < 1:
            raise UsageError(f"step_size must be >= 1, got {self.step_size}")


#: Fields that name the experiment itself: one shared value, never overridden per framework.
SHARED_ONLY = ("experiment", "model", "dataset")
FIELD_TYPES = {f.name: f.type for f in fields(TrainConfig) if f.name != "extra"}
OVERRIDABLE = tuple(k for k in FIELD_TYPES if k not in SHARED_ONLY)


def coerce(name: str, value: Any):
    """``value`` (from TOML, JSON or a command-line string) as the type of field ``name``."""
    if name not in FIELD_TYPES:
        raise UsageError(f"unknown config field {name!r}; valid: {', '.join(FIELD_TYPES)}")
    kind = FIELD_TYPES[name]
    try:
        if isinstance(value, str) and kind != "str":
            text = value.strip()
            if kind.startswith("tuple"):
                text = text.strip("()[] ")
                value = [] if not text else [json.loads(v) for v in text.split(",")]
            elif kind == "bool":
                if text.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                    raise ValueError(text)
                value = text.lower() in ("true", "1", "yes", "on")
            else:
                value = json.loads(text)
        if kind == "int":
            if isinstance(value, bool) or float(value) != int(value):
                raise ValueError(value)
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(value)
            return value
        if kind == "str":
            if not isinstance(value, str):
                raise ValueError(value)
            return value
        if kind.startswith("tuple"):
            if isinstance(value, (int, float)):
                value = [value]
            conv = float if "float" in kind else int
            out = tuple(conv(v) for v in value)
            if kind == "tuple[float, float]" and len(out) != 2:
                raise ValueError(value)
            return out
    except (ValueError, TypeError, json.JSONDecodeError):
        raise UsageError(f"bad value {value!r} for {name} (expected {kind})") from None
    raise UsageError(f"field {name} of type {kind} cannot be set")  # pragma: no cover


def parse_override(text: str) -> tuple[str, str, Any]:
    """``"torch.step_size=10"`` -> ``("torch", "step_size", 10)``."""
    head, eq, value = text.partition("=")
    framework, dot, name = head.strip().partition(".")
    if not eq or not dot:
        raise UsageError(
            f"bad override {text!r}: expected FRAMEWORK.FIELD=VALUE, e.g. torch.step_size=10"
        )
    name = check_override(framework, name, text)
    return framework, name, coerce(name, value)


def check_override(framework: str, name: str, text: str) -> str:
    """The field name of an override, after checking the framework and the field exist."""
    name = name.replace("-", "_")
    if framework not in FRAMEWORKS:
        raise UsageError(f"override {text!r}: unknown framework {framework!r}; valid: "
                         f"{', '.join(FRAMEWORKS)}")
    if name not in OVERRIDABLE:
        raise UsageError(f"override {text!r}: {name!r} cannot be overridden per framework; "
                         f"valid fields: {', '.join(OVERRIDABLE)}")
    return name


def effective_configs(base: TrainConfig, frameworks, overrides: dict) -> dict[str, TrainConfig]:
    """Each framework's config: ``base`` plus that framework's explicit overrides."""
    out = {}
    for fw in frameworks:
        cfg = replace(base, **overrides.get(fw, {})).resolved()
        cfg.validate()
        out[fw] = cfg
    return out


def config_diff(a: dict, b: dict) -> list[tuple[str, Any, Any]]:
    """``(field, value in a, value in b)`` for every field where two config dicts differ."""
    keys = list(dict.fromkeys([*a, *b]))
    return [(k, a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k)]


def describe_scheduler(cfg: dict) -> str:
    """The scheduler as a call, e.g. ``StepLR(step_size=5, gamma=0.5)``."""
    s = cfg.get("scheduler", "none")
    if s == "step":
        return f"StepLR(step_size={cfg['step_size']}, gamma={cfg['gamma']})"
    if s == "multistep":
        return f"MultiStepLR(milestones={list(cfg['milestones'])}, gamma={cfg['gamma']})"
    if s == "exponential":
        return f"ExponentialLR(gamma={cfg['gamma']})"
    if s == "cosine":
        return f"CosineAnnealingLR(T_max={cfg['t_max']}, eta_min={cfg['eta_min']})"
    if s == "onecycle":
        return f"OneCycleLR(max_lr={cfg['max_lr']}, pct_start={cfg['pct_start']}) per batch"
    return "none (constant lr)"


def describe_optimizer(cfg: dict) -> str:
    o = cfg.get("optimizer")
    if o == "sgd":
        return (f"SGD(lr={cfg['lr']}, momentum={cfg['momentum']}, "
                f"weight_decay={cfg['weight_decay']})")
    name = "Adam" if o == "adam" else "AdamW"
    return (f"{name}(lr={cfg['lr']}, betas={tuple(cfg['betas'])}, eps={cfg['eps']}, "
            f"weight_decay={cfg['weight_decay']})")


# ----- TOML config files ------------------------------------------------------------------
#: Keys of a config file besides the TrainConfig fields (run options).
RUN_KEYS = ("frameworks", "lucid_device", "torch_device", "data_dir", "download", "out",
            "same_init", "seeds", "force", "progress", "divergence_tol")


def load_config_file(path) -> dict:
    """Read a TOML config: TrainConfig fields and run options at the top level, per-framework
    overrides in ``[overrides.lucid]`` / ``[overrides.torch]``."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise UsageError(f"--config: no such file {str(path)!r}") from None
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"--config {str(path)!r}: not valid TOML: {err}") from None
    out: dict = {"fields": {}, "run": {}, "overrides": {}}
    for key, value in data.items():
        k = key.replace("-", "_")
        if k == "overrides":
            if not isinstance(value, dict):
                raise UsageError(f"--config {path}: [overrides] must be a table")
            for fw, table in value.items():
                if fw not in FRAMEWORKS or not isinstance(table, dict):
                    raise UsageError(f"--config {path}: [overrides.{fw}]: unknown framework; "
                                     f"valid: {', '.join(FRAMEWORKS)}")
                for name, v in table.items():
                    name = check_override(fw, name, f"[overrides.{fw}] {name}")
                    out["overrides"].setdefault(fw, {})[name] = coerce(name, v)
        elif k in FIELD_TYPES:
            out["fields"][k] = coerce(k, value)
        elif k in RUN_KEYS:
            out["run"][k] = value
        else:
            valid = ", ".join([*FIELD_TYPES, *RUN_KEYS, "overrides"])
            raise UsageError(f"--config {path}: unknown key {key!r}; valid keys: {valid}")
    return out
