"""Test, lint and benchmark sessions for the Lucid monorepo.

Sessions use pip virtualenvs (not uv): PyTorch comes through pip, which on these
machines takes it from local disk.
"""

import os
from pathlib import Path

import nox

nox.options.default_venv_backend = "virtualenv"
nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
PACKAGES = ["lucid-tensor", "lucid-nn", "lucid-data", "lucid-compare"]
# Each package's own dependencies inside this repo, installed from their folders.
LOCAL_DEPENDENCIES = {
    "lucid-tensor": [],
    "lucid-nn": ["lucid-tensor", "lucid-data"],
    "lucid-data": [],
    "lucid-compare": ["lucid-tensor", "lucid-nn", "lucid-data"],
}
TORCH = ["torch>=2.4", "torchvision>=0.19"]
# Run a second time with the native kernels off, so both paths pass the same parity tests.
BOTH_PATHS = [
    "packages/lucid-tensor/tests/test_tensor_conv.py",
    "packages/lucid-tensor/tests/test_tensor_conv_batch_norm.py",
    "packages/lucid-tensor/tests/test_tensor_elementwise.py",
    "packages/lucid-tensor/tests/test_tensor_add_relu.py",
    "packages/lucid-tensor/tests/test_tensor_pool.py",
    "packages/lucid-nn/tests/test_nn_norm.py",
    "packages/lucid-nn/tests/test_models_parity.py",
    "packages/lucid-nn/tests/test_models_bn_relu.py",
]


def editable_all(session: nox.Session) -> None:
    session.install(*[arg for p in PACKAGES for arg in ("-e", f"packages/{p}[test]")])


@nox.session
def tests(session: nox.Session) -> None:
    """Every package's tests and the cross-package ones, all packages installed editable.

    The native CPU kernels are built first (and used); then the convolution, pooling,
    normalisation and model parity tests run again on the MLX-ops path (``LUCID_NATIVE=0``).
    """
    editable_all(session)
    session.install("build", "hatchling")
    session.run("python", "-m", "lucid._native", "build", success_codes=[0, 1])
    session.run("pytest", *session.posargs)
    session.run("pytest", *BOTH_PATHS, env={"LUCID_NATIVE": "0"})


@nox.session
def native(session: nox.Session) -> None:
    """Build lucid-tensor's native CPU kernels into the cache and print what is in use."""
    session.install("-e", "packages/lucid-tensor")
    session.run("python", "-m", "lucid._native", "build", *session.posargs)


def _package_session(package: str):
    def run(session: nox.Session) -> None:
        deps = [f"packages/{d}" for d in LOCAL_DEPENDENCIES[package]]
        session.install(*deps, f"packages/{package}[test]")
        session.run("pytest", f"packages/{package}/tests", *session.posargs)

    run.__doc__ = f"{package}'s tests with only its declared dependencies installed."
    return run


for _package in PACKAGES:
    nox.session(name=_package)(_package_session(_package))


# import-linter over Lucid's namespace: ``lucid/__init__`` extends ``__path__`` over the four
# distributions' folders, but grimp (import-linter's graph builder) scans only the folders in
# the package's import spec; copying ``__path__`` there lets it see lucid.nn, lucid.data, ...
_LINT_IMPORTS = """
import sys, lucid
lucid.__spec__.submodule_search_locations[:] = list(lucid.__path__)
from importlinter.cli import lint_imports
sys.exit(lint_imports(config_filename=".importlinter", no_cache=True))
"""


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the whole repository, then the import contracts in ``.importlinter``
    (package direction and the engine's layers), read from the packages' sources."""
    session.install("ruff", "import-linter")
    session.run("ruff", "check", ".")
    sources = [str(ROOT / "packages" / p / "src") for p in PACKAGES]
    session.run("python", "-c", _LINT_IMPORTS, env={"PYTHONPATH": os.pathsep.join(sources)})


@nox.session
def bench(session: nox.Session) -> None:
    """Lucid vs PyTorch benchmarks; figures printed and written to bench-results/.

    The training steps run three times: native kernels at the machine's thread count, the
    MLX-ops path (``LUCID_NATIVE=0``), and native kernels at one thread each."""
    editable_all(session)
    session.run("python", "-m", "lucid._native", "build", success_codes=[0, 1])
    out = ROOT / "bench-results"
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.run("python", str(script), "--out", str(out / f"{script.stem}.json"))
    training = str(ROOT / "benchmarks" / "bench_training.py")
    session.run("python", training, "--out", str(out / "bench_training_mlx_ops.json"),
                env={"LUCID_NATIVE": "0"})
    session.run("python", training, "--threads", "1",
                "--out", str(out / "bench_training_1_thread.json"))
