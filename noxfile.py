"""Test, lint and benchmark sessions for the Lucid monorepo.

Sessions use pip virtualenvs (not uv): PyTorch comes through pip, which on these
machines takes it from local disk.
"""

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
    "lucid-nn": ["lucid-tensor"],
    "lucid-data": [],
    "lucid-compare": ["lucid-tensor", "lucid-nn", "lucid-data"],
}
TORCH = ["torch>=2.4", "torchvision>=0.19"]


def editable_all(session: nox.Session) -> None:
    session.install(*[arg for p in PACKAGES for arg in ("-e", f"packages/{p}[test]")])


@nox.session
def tests(session: nox.Session) -> None:
    """Every package's tests and the cross-package ones, all packages installed editable."""
    editable_all(session)
    session.install("build", "hatchling")
    session.run("pytest", *session.posargs)


def _package_session(package: str):
    def run(session: nox.Session) -> None:
        deps = [f"packages/{d}" for d in LOCAL_DEPENDENCIES[package]]
        session.install(*deps, f"packages/{package}[test]")
        session.run("pytest", f"packages/{package}/tests", *session.posargs)

    run.__doc__ = f"{package}'s tests with only its declared dependencies installed."
    return run


for _package in PACKAGES:
    nox.session(name=_package)(_package_session(_package))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the whole repository."""
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def bench(session: nox.Session) -> None:
    """Lucid vs PyTorch benchmarks; figures printed and written to bench-results/."""
    editable_all(session)
    out = ROOT / "bench-results"
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.run("python", str(script), "--out", str(out / f"{script.stem}.json"))
