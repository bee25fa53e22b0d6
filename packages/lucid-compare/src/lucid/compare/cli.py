"""The ``lucid-compare`` command line.

    lucid-compare                          # LeNet-5 on the embedded MNIST sample, both frameworks
    lucid-compare run resnet18-cifar10 --data-dir DIR --epochs 20
    lucid-compare list | report OUT_DIR | bench EXPERIMENT | parity EXPERIMENT

With no subcommand (nothing, only options, or an experiment first) ``run`` is meant. ``main(argv)`` returns the
exit status (see ``lucid.compare.errors``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import traceback
from pathlib import Path

from . import __version__
from .config import (
    FIELD_TYPES,
    FRAMEWORKS,
    OPTIMIZERS,
    OVERRIDABLE,
    RUN_KEYS,
    SCHEDULERS,
    TrainConfig,
    check_run_value,
    check_value,
    coerce,
    describe_optimizer,
    describe_scheduler,
    load_config_file,
    parse_override,
)
from .errors import (
    EXIT_DATA,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CompareError,
    DamagedFileError,
    DataUnavailableError,
    UsageError,
)
from .experiments import DEFAULT_EXPERIMENT, EXPERIMENTS, full_dataset, get_experiment

DEFAULT_OUT = "lucid-compare-out"
SUBCOMMANDS = ("run", "list", "report", "bench", "parity")

# (flag, config field, type for argparse, help)
CONFIG_FLAGS = [
    ("--epochs", "epochs", int, "number of epochs"),
    ("--batch-size", "batch_size", int, "training batch size"),
    ("--eval-batch-size", "eval_batch_size", int, "evaluation batch size"),
    ("--lr", "lr", float, "learning rate"),
    ("--weight-decay", "weight_decay", float,
     "weight decay (L2 for SGD/Adam, decoupled for AdamW)"),
    ("--momentum", "momentum", float, "SGD momentum"),
    ("--betas", "betas", str, "Adam betas, e.g. 0.9,0.999"),
    ("--eps", "eps", float, "Adam epsilon"),
    ("--step-size", "step_size", int, "StepLR: epochs between decays"),
    ("--gamma", "gamma", float, "StepLR/MultiStepLR/ExponentialLR decay factor"),
    ("--milestones", "milestones", str, "MultiStepLR epochs, e.g. 10,15"),
    ("--t-max", "t_max", int, "CosineAnnealingLR period in epochs (default: --epochs)"),
    ("--eta-min", "eta_min", float, "CosineAnnealingLR floor"),
    ("--max-lr", "max_lr", float, "OneCycleLR peak (default: --lr)"),
    ("--pct-start", "pct_start", float, "OneCycleLR warm-up fraction"),
    ("--seed", "seed", int, "seed of NumPy, PyTorch, Lucid and the data order"),
    ("--subset", "subset", int, "train on the first N training images only"),
    ("--test-subset", "test_subset", int, "evaluate on the first N test images only"),
    ("--hidden", "hidden", str, "MLP hidden widths, e.g. 256,128 (mlp-mnist)"),
    ("--threads", "threads", int, "CPU threads for both frameworks (0: their defaults)"),
]


def _frameworks(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in items if t not in FRAMEWORKS]
    if not items or bad:
        raise argparse.ArgumentTypeError(
            f"invalid framework(s) {', '.join(bad) or repr(text)}; valid: {', '.join(FRAMEWORKS)}")
    return list(dict.fromkeys(items))


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def _add_device_flags(p, torch_default=None) -> None:
    p.add_argument("--lucid-device", choices=("cpu", "gpu"), default=None,
                   help="Lucid's device (default cpu)")
    p.add_argument("--torch-device", choices=("cpu", "cuda", "mps", "auto"),
                   default=torch_default, help="PyTorch's device (default auto: cuda, mps, cpu)")


def _add_run_flags(p) -> None:
    g = p.add_argument_group("training (shared by every framework)")
    for flag, name, typ, text in CONFIG_FLAGS:
        g.add_argument(flag, dest=name, type=typ, default=None, help=text)
    g.add_argument("--optimizer", choices=OPTIMIZERS, default=None, help="optimizer")
    g.add_argument("--scheduler", choices=SCHEDULERS, default=None,
                   help="learning-rate schedule (step: --step-size --gamma; cosine: --t-max "
                        "--eta-min; onecycle: --max-lr --pct-start)")
    g.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="train-time augmentation (CIFAR-10: RandomCrop(32, 4) + flip)")
    r = p.add_argument_group("run")
    r.add_argument("--frameworks", type=_frameworks, default=None,
                   help="comma-separated, from: lucid, torch (default both)")
    _add_device_flags(r)
    r.add_argument("--data-dir", default=None,
                   help="dataset folder (MNIST experiments: use full MNIST from there)")
    r.add_argument("--download", action="store_true", default=None,
                   help="download missing data (off by default: runs stay offline)")
    r.add_argument("--out", default=None, help=f"output folder (default ./{DEFAULT_OUT})")
    r.add_argument("--same-init", action="store_true", default=None,
                   help="copy PyTorch's initial weights into Lucid's main runs; adds a "
                        "one-ULP PyTorch control run")
    r.add_argument("--trajectory-steps", type=int, default=None, metavar="N",
                   help="batches of the trajectory check: Lucid from PyTorch's initial "
                        "weights against PyTorch and three one-ULP controls (default 100; "
                        "0: no check)")
    r.add_argument("--config", default=None, metavar="FILE", help="TOML config file")
    r.add_argument("--seeds", type=_positive_int, default=None,
                   help="repeat each framework with N seeds (report: mean, std, Welch t-test)")
    r.add_argument("--resume", action="store_true", help="continue from the last finished epoch")
    r.add_argument("--nproc", type=int, default=None,
                   help="processes per run, data parallel (Lucid: mlx.launch, ring on the "
                        "loopback; PyTorch: torchrun, DDP); default 1")
    r.add_argument("--port", type=int, default=None,
                   help="with --nproc: first loopback port (default: free ones)")
    r.add_argument("--scaling", action="store_true", default=None,
                   help="with --nproc N: also train each framework in 1 process with N times "
                        "the threads, for the report's scaling section")
    r.add_argument("--no-progress", action="store_true", help="no progress bars, log lines only")
    r.add_argument("--override", action="append", default=[], metavar="FW.FIELD=VALUE",
                   help="per-framework change, e.g. torch.step_size=10 (repeatable; fields: "
                        + ", ".join(OVERRIDABLE) + ")")
    r.add_argument("--force", action="store_true", default=None,
                   help="compare even when the parameter counts differ; replace a finished "
                        "run of another config in --out")
    r.add_argument("--divergence-tol", type=float, default=None,
                   help="--same-init tolerance on |loss difference| / max(1, |loss|) "
                        "(default 1e-3)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lucid-compare",
        description="Train the same model on the same data with the same hyper-parameters in "
                    "Lucid and PyTorch, and compare. Without a subcommand: run the default "
                    f"experiment ({DEFAULT_EXPERIMENT}).",
        epilog="exit status: 0 ok, 1 comparison refused / check failed, 2 usage (also: --out "
               "in use or holding another config's finished run), 3 data or a saved file not "
               "available or damaged, 4 a run diverged, 5 framework not installed, 70 internal "
               "error, 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"lucid-compare {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="on an error, also print the traceback (anywhere on the line)")
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(SUBCOMMANDS) + "}")

    p = sub.add_parser("run", help="train an experiment in each framework, write histories, "
                                   "plots and report")
    p.add_argument("experiment", nargs="?", choices=list(EXPERIMENTS), default=None,
                   help=f"default {DEFAULT_EXPERIMENT}")
    _add_run_flags(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("list", help="the experiments and their configs")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("report", help="re-render plots and report from the saved histories")
    p.add_argument("out_dir", metavar="OUT_DIR")
    p.add_argument("--force", action="store_true", help="render even if parameter counts differ")
    p.add_argument("--divergence-tol", type=float, default=None)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("bench", help="time a training step of each framework, each in its own "
                                     "process")
    p.add_argument("experiment", choices=list(EXPERIMENTS))
    p.add_argument("--batch-size", type=_positive_int, default=None)
    p.add_argument("--steps", type=_positive_int, default=20, help="measured steps (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up steps (default 3)")
    p.add_argument("--eval", action="store_true", help="forward only, under no_grad")
    p.add_argument("--frameworks", type=_frameworks, default=["lucid", "torch"])
    p.add_argument("--threads", type=int, default=0,
                   help="threads for both (default: the number of usable CPUs)")
    p.add_argument("--seed", type=int, default=0)
    _add_device_flags(p, torch_default="cpu")
    p.add_argument("--rounds", type=_positive_int, default=1,
                   help="runs of each framework, alternating which goes first (default 1)")
    p.add_argument("--out", default=DEFAULT_OUT,
                   help="folder for bench_<experiment>_b<batch>[_eval].json")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("parity", help="same weights, one batch: largest differences of logits "
                                      "and gradients")
    p.add_argument("experiment", choices=list(EXPERIMENTS))
    p.add_argument("--batch-size", type=_positive_int, default=None,
                   help="default 8 (ResNet-18: 2, see the note on ReLU kinks in the README)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--atol-logits", type=float, default=1e-4)
    p.add_argument("--rtol-grads", type=float, default=1e-3)
    p.add_argument("--json", default=None, metavar="FILE", help="also write the result as JSON")
    _add_device_flags(p, torch_default="cpu")
    p.set_defaults(func=cmd_parity)
    return parser


# ----- validation: every flag, before any work -------------------------------------------
def validate_args(args) -> None:
    """Check every parsed flag against ``config.RULES`` (ranges) and every path flag for
    what it must name; raise ``UsageError`` naming the flag."""
    for dest, value in vars(args).items():
        flag = "--" + dest.replace("_", "-")
        if dest in FIELD_TYPES and isinstance(value, str) and FIELD_TYPES[dest] != "str":
            try:
                value = coerce(dest, value)
            except UsageError:
                raise UsageError(f"{flag}: {value!r} is not valid; expected "
                                 f"{FIELD_TYPES[dest]}") from None
        check_value(dest, value, flag)
    for dest in ("data_dir", "out", "config"):
        value = getattr(args, dest, None)
        if value is not None and not str(value).strip():
            raise UsageError(f"--{dest.replace('_', '-')}: empty path")
    if getattr(args, "out", None) and args.command == "bench":
        check_folder(args.out, "--out")


def check_folder(path, label: str) -> None:
    """``UsageError`` when ``path`` exists and is not a folder."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise UsageError(f"{label} {str(path)!r} is a file, not a folder")


def check_data_home(data_dir) -> None:
    """The data folder (``--data-dir``, else ``LUCID_DATA_HOME``) must not name a file."""
    if data_dir:
        check_folder(data_dir, "--data-dir")
    elif os.environ.get("LUCID_DATA_HOME"):
        check_folder(os.environ["LUCID_DATA_HOME"], "LUCID_DATA_HOME")


# ----- run ------------------------------------------------------------------------------------
def run_options(args):
    """``RunOptions`` from parsed arguments: experiment defaults < --config < flags."""
    from .runner import RunOptions

    validate_args(args)
    filecfg = load_config_file(args.config) if args.config else {"fields": {}, "run": {},
                                                                 "overrides": {}}
    run = dict(filecfg["run"])
    for key in RUN_KEYS:
        value = getattr(args, key, None)
        if key == "progress":
            value = False if args.no_progress else None
        if value is not None:
            run[key] = check_run_value(key, value, "--" + key.replace("_", "-"))
    check_data_home(run.get("data_dir"))
    name = args.experiment or filecfg["fields"].get("experiment") or DEFAULT_EXPERIMENT
    exp = get_experiment(name)
    base = full_dataset(exp, bool(run.get("data_dir") or run.get("download"))).as_dict()
    base.update({k: v for k, v in filecfg["fields"].items() if k not in ("experiment",)})
    for _, field, _, _ in CONFIG_FLAGS:
        value = getattr(args, field)
        if value is not None:
            base[field] = coerce(field, value)
    for field in ("optimizer", "scheduler", "augment"):
        if getattr(args, field) is not None:
            base[field] = getattr(args, field)
    base["experiment"] = exp.name
    cfg = TrainConfig.from_dict(base)
    cfg.validate()

    overrides = {fw: dict(v) for fw, v in filecfg["overrides"].items()}
    for text in args.override:
        fw, field, value = parse_override(text)
        overrides.setdefault(fw, {})[field] = value
    frameworks = run.get("frameworks") or ["lucid", "torch"]
    bad = [fw for fw in overrides if fw not in frameworks]
    if bad:
        raise UsageError(f"override for {', '.join(bad)}, which is not in --frameworks")
    for key in ("data_dir", "out"):
        if run.get(key):
            run[key] = str(Path(run[key]).expanduser())
    return RunOptions(
        base=cfg,
        frameworks=list(frameworks),
        overrides=overrides,
        devices={"lucid": run.get("lucid_device"), "torch": run.get("torch_device")},
        out=Path(run.get("out") or DEFAULT_OUT),
        data_dir=run.get("data_dir"),
        download=run.get("download") is True,
        same_init=bool(run.get("same_init", False)),
        seeds=int(run.get("seeds", 1)),
        resume=bool(args.resume),
        progress=bool(run.get("progress", True)),
        force=bool(run.get("force", False)),
        divergence_tol=float(run.get("divergence_tol") or 1e-3),
        trajectory_steps=int(run.get("trajectory_steps", 100)),
        nproc=int(run.get("nproc", 1)),
        port=int(run.get("port", 0)),
        scaling=bool(run.get("scaling", False)),
    )


def cmd_run(args) -> int:
    from .runner import execute

    opts = run_options(args)
    opts.command = shlex.join(["lucid-compare", *getattr(args, "argv", [])])
    try:
        return execute(opts)
    except DataUnavailableError as err:
        raise DataUnavailableError(in_cli_words(str(err))) from err


def in_cli_words(message: str) -> str:
    """A data package message with its Python arguments named as the CLI's flags."""
    message = re.sub(r"\bdownload=False\.?", "--download was not given.", message)
    message = message.replace("call again", "run again").replace("root=", "--data-dir")
    if "--download was not given" in message:
        message += "\nOr pass --download to fetch it (--data-dir DIR: into DIR)."
    return message


def cmd_list(args) -> int:
    if args.json:
        print(json.dumps({n: {"description": e.description, "config": e.defaults.as_dict()}
                          for n, e in EXPERIMENTS.items()}, indent=1))
        return 0
    for name, exp in EXPERIMENTS.items():
        cfg = exp.defaults.resolved().as_dict()
        default = " (default)" if name == DEFAULT_EXPERIMENT else ""
        print(f"{name}{default}\n  {exp.description}")
        print(f"  model {cfg['model']}, data {cfg['dataset']}, {cfg['epochs']} epochs, batch "
              f"{cfg['batch_size']}, {describe_optimizer(cfg)}, scheduler "
              f"{describe_scheduler(cfg)}, augment {cfg['augment']}")
        print("  " + " ".join(f"{k}={v}" for k, v in cfg.items()) + "\n")
    return 0


def cmd_report(args) -> int:
    from . import report

    validate_args(args)
    out = Path(args.out_dir).expanduser()
    if not out.is_dir():
        raise UsageError(f"report: {str(args.out_dir)!r} is not a folder"
                         + ("" if out.exists() else " (no such folder)"))
    try:
        result = report.render(out, force=args.force, tolerance=args.divergence_tol)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
        what = f"missing key {err}" if isinstance(err, KeyError) else str(err)
        raise DamagedFileError(f"report: a history in {str(out)!r} is damaged ({what}); run "
                               "again to write it anew") from err
    print(f"report: {result['report']}; figures: {', '.join(result['figures'])}")
    print("\n".join(report.summary_table(result["analysis"])))
    return 0


def cmd_bench(args) -> int:
    from .bench import run_bench

    validate_args(args)
    return run_bench(args)


def cmd_parity(args) -> int:
    from .parity import run_parity

    validate_args(args)
    return run_parity(args)


def main(argv=None) -> int:
    """Entry point of ``lucid-compare`` and ``python -m lucid.compare``; returns the status.

    Every failure is one line on stderr and an exit status of ``lucid.compare.errors``;
    ``--debug`` (anywhere on the line) adds the traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    if not argv or argv[0] in EXPERIMENTS or (
            argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["run", *argv]  # no subcommand: run
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    args.argv = argv
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("lucid-compare: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # noqa: BLE001 - the exit-status contract: one line, one code
        code, text = _error_status(err)
        if debug:
            traceback.print_exc()
        print(f"lucid-compare: {text}", file=sys.stderr)
        return code


def _error_status(err: Exception) -> tuple[int, str]:
    """``(exit status, one-line message)`` of an error that reached ``main``."""
    if isinstance(err, CompareError):
        return err.exit_code, f"error: {err}"
    if isinstance(err, MemoryError):
        return EXIT_DATA, "error: out of memory"
    if isinstance(err, OSError):
        where = f" {err.filename!r}" if err.filename else ""
        return EXIT_DATA, f"error: cannot read or write{where}: {err.strerror or err}"
    return EXIT_INTERNAL, (f"internal error: {type(err).__name__}: {err} (a bug in "
                           "lucid-compare; --debug shows the traceback)")


__all__ = ["build_parser", "main", "run_options", "FIELD_TYPES"]
