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
import math
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
        """Raise ``UsageError`` unless every field is in its range (``RULES``)."""
        if self.optimizer not in OPTIMIZERS:
            raise UsageError(f"unknown optimizer {self.optimizer!r}; valid: "
                             f"{', '.join(OPTIMIZERS)}")
        if self.scheduler not in SCHEDULERS:
            raise UsageError(f"unknown scheduler {self.scheduler!r}; valid: "
                             f"{', '.join(SCHEDULERS)}")
        for f in fields(self):
            if f.name != "extra":
                check_value(f.name, getattr(self, f.name))


# ----- value ranges: every CLI flag and config value is checked against this one table -------
def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _each(test):
    return lambda v: all(test(x) for x in v)


#: largest seed + 1 (NumPy's seeds are 32-bit)
SEED_LIMIT = 2**32

#: name -> (test, what a valid value is); names are config fields, run options and the
#: ``bench``/``parity`` flags (``dest`` of the argument)
RULES = {
    "epochs": (lambda v: v >= 1, "an integer >= 1"),
    "batch_size": (lambda v: v >= 1, "an integer >= 1"),
    "eval_batch_size": (lambda v: v >= 1, "an integer >= 1"),
    "lr": (lambda v: _finite(v) and v > 0, "a finite number > 0"),
    "weight_decay": (lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
    "momentum": (lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
    "betas": (_each(lambda b: _finite(b) and 0 <= b < 1), "two numbers in [0, 1)"),
    "eps": (lambda v: _finite(v) and v > 0, "a finite number > 0"),
    "step_size": (lambda v: v >= 1, "an integer >= 1"),
    "gamma": (lambda v: _finite(v) and v > 0, "a finite number > 0"),
    "milestones": (_each(lambda m: m >= 1), "epochs >= 1"),
    "t_max": (lambda v: v >= 0, "an integer >= 0 (0: --epochs)"),
    "eta_min": (lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
    "max_lr": (lambda v: _finite(v) and v >= 0, "a finite number >= 0 (0: --lr)"),
    "pct_start": (lambda v: _finite(v) and 0 < v < 1, "a number between 0 and 1"),
    "seed": (lambda v: 0 <= v < SEED_LIMIT, f"an integer in [0, {SEED_LIMIT - 1}]"),
    "subset": (lambda v: v >= 0, "an integer >= 0 (0: all)"),
    "test_subset": (lambda v: v >= 0, "an integer >= 0 (0: all)"),
    "hidden": (lambda v: len(v) >= 1 and all(h >= 1 for h in v), "widths >= 1"),
    "threads": (lambda v: 0 <= v <= 4096, "an integer >= 0 (0: the default)"),
    "seeds": (lambda v: 1 <= v <= 1000, "an integer in [1, 1000]"),
    "nproc": (lambda v: 1 <= v <= 1024, "an integer in [1, 1024]"),
    "port": (lambda v: 1024 <= v <= 65535, "a port in [1024, 65535]"),
    "divergence_tol": (lambda v: _finite(v) and v > 0, "a finite number > 0"),
    "trajectory_steps": (lambda v: 0 <= v <= 100_000, "an integer in [0, 100000] (0: no check)"),
    "warmup": (lambda v: v >= 0, "an integer >= 0"),
    "steps": (lambda v: v >= 1, "an integer >= 1"),
    "rounds": (lambda v: v >= 1, "an integer >= 1"),
    "atol_logits": (lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
    "rtol_grads": (lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
}


def check_value(name: str, value, label: str | None = None) -> None:
    """Raise ``UsageError`` (naming ``label``, default ``name``) when ``value`` is outside
    the range ``RULES`` gives for ``name``; names without a rule pass."""
    rule = RULES.get(name)
    if rule is None or value is None:
        return
    test, text = rule
    try:
        ok = bool(test(value))
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        shown = list(value) if isinstance(value, tuple) else value
        raise UsageError(f"{label or name}: {shown!r} is not valid; expected {text}")


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
    except (ValueError, TypeError, OverflowError, json.JSONDecodeError):
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
#: Keys of a config file besides the TrainConfig fields (run options), with their TOML types.
RUN_TYPES = {"frameworks": "list[str]", "lucid_device": "str", "torch_device": "str",
             "data_dir": "path", "download": "bool", "out": "path", "same_init": "bool",
             "seeds": "int", "force": "bool", "progress": "bool", "divergence_tol": "float",
             "trajectory_steps": "int", "nproc": "int", "port": "int", "scaling": "bool"}
RUN_KEYS = tuple(RUN_TYPES)
DEVICE_CHOICES = {"lucid_device": ("cpu", "gpu"), "torch_device": ("cpu", "cuda", "mps", "auto")}

_EXPECTED = {"bool": "a boolean (true or false)", "int": "an integer", "float": "a number",
             "str": "a string", "path": "a path (a non-empty string)",
             "list[str]": "an array of strings (or one comma-separated string)", "tuple[int, ...]": "an array of integers",
             "tuple[float, float]": "an array of two numbers"}


def _toml_type(value) -> str:
    for typ, name in ((bool, "boolean"), (int, "integer"), (float, "float"), (str, "string"),
                      (list, "array"), (dict, "table")):
        if isinstance(value, typ):
            return name
    return type(value).__name__


def toml_value(key: str, value, kind: str, where: str):
    """``value`` read from a TOML file, if it has type ``kind`` (no conversions: ``"no"``
    is not a boolean, ``2.7`` not an integer); else ``UsageError`` naming the key, the value
    and the expected type."""

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    def is_num(v):
        return is_int(v) or isinstance(v, float)

    ok = {
        "bool": lambda v: isinstance(v, bool),
        "int": is_int,
        "float": is_num,
        "str": lambda v: isinstance(v, str),
        "path": lambda v: isinstance(v, str) and v.strip() != "" and "\0" not in v,
        "list[str]": lambda v: isinstance(v, str) or (isinstance(v, list)
                                                      and all(isinstance(x, str) for x in v)),
        "tuple[int, ...]": lambda v: is_int(v) or (isinstance(v, list)
                                                   and all(is_int(x) for x in v)),
        "tuple[float, float]": lambda v: isinstance(v, list) and len(v) == 2
                                         and all(is_num(x) for x in v),
    }[kind](value)
    if not ok:
        raise UsageError(f"{where}: {key} = {value!r} ({_toml_type(value)}): expected "
                         f"{_EXPECTED[kind]}")
    if kind == "float":
        return float(value)
    if kind.startswith("tuple"):
        return coerce(key, value)
    return value


def load_config_file(path) -> dict:
    """Read a TOML config: TrainConfig fields and run options at the top level, per-framework
    overrides in ``[overrides.lucid]`` / ``[overrides.torch]``. Every value must have its
    key's TOML type (``toml_value``) and lie in its range (``RULES``)."""
    path = Path(path)
    where = f"--config {str(path)!r}"
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise UsageError(f"--config: no such file {str(path)!r}") from None
    except IsADirectoryError:
        raise UsageError(f"{where} is a folder, not a TOML file") from None
    except UnicodeDecodeError:
        raise UsageError(f"{where}: not UTF-8 text (a TOML file is UTF-8)") from None
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"{where}: not valid TOML: {err}") from None
    except OSError as err:
        raise UsageError(f"{where}: cannot be read: {err.strerror or err}") from None
    out: dict = {"fields": {}, "run": {}, "overrides": {}}
    for key, value in data.items():
        k = key.replace("-", "_")
        if k == "overrides":
            if not isinstance(value, dict):
                raise UsageError(f"{where}: [overrides] must be a table")
            for fw, table in value.items():
                if fw not in FRAMEWORKS or not isinstance(table, dict):
                    raise UsageError(f"{where}: [overrides.{fw}]: unknown framework; "
                                     f"valid: {', '.join(FRAMEWORKS)}")
                for name, v in table.items():
                    name = check_override(fw, name, f"[overrides.{fw}] {name}")
                    v = toml_value(f"[overrides.{fw}] {name}", v, FIELD_TYPES[name], where)
                    out["overrides"].setdefault(fw, {})[name] = coerce(name, v)
                    check_value(name, out["overrides"][fw][name],
                                f"{where}: [overrides.{fw}] {name}")
        elif k in FIELD_TYPES:
            out["fields"][k] = coerce(k, toml_value(k, value, FIELD_TYPES[k], where))
            check_value(k, out["fields"][k], f"{where}: {k}")
        elif k in RUN_TYPES:
            out["run"][k] = check_run_value(k, toml_value(k, value, RUN_TYPES[k], where),
                                            f"{where}: {k}")
        else:
            valid = ", ".join([*FIELD_TYPES, *RUN_KEYS, "overrides"])
            raise UsageError(f"{where}: unknown key {key!r}; valid keys: {valid}")
    return out


def check_run_value(key: str, value, label: str):
    """A run option's value after its range and choice checks."""
    if key == "frameworks":
        items = [value] if isinstance(value, str) else list(value)
        items = [t.strip() for item in items for t in item.split(",") if t.strip()]
        bad = [t for t in items if t not in FRAMEWORKS]
        if not items or bad:
            raise UsageError(f"{label}: {value!r}: expected frameworks from "
                             f"{', '.join(FRAMEWORKS)}")
        return list(dict.fromkeys(items))
    if key in DEVICE_CHOICES and value not in DEVICE_CHOICES[key]:
        raise UsageError(f"{label}: {value!r}: expected one of {', '.join(DEVICE_CHOICES[key])}")
    check_value(key, value, label)
    return value
