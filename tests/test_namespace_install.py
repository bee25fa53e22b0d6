"""The four distributions share the ``lucid`` namespace, editable and from wheels."""

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["lucid-tensor", "lucid-nn", "lucid-data", "lucid-compare"]
SUBPACKAGES = {
    "lucid.nn": "lucid-nn", "lucid.optim": "lucid-nn", "lucid.models": "lucid-nn",
    "lucid.data": "lucid-data", "lucid.datasets": "lucid-data", "lucid.compare": "lucid-compare",
}


def test_editable_install_imports_each_subpackage_from_its_own_distribution():
    import importlib

    import lucid

    assert Path(lucid.__file__).is_relative_to(ROOT / "packages" / "lucid-tensor" / "src")
    for name, dist in SUBPACKAGES.items():
        module = importlib.import_module(name)
        assert Path(module.__file__).is_relative_to(ROOT / "packages" / dist / "src"), name


def test_wheels_install_and_import_every_subpackage(tmp_path):
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    for package in PACKAGES:
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
             "-w", str(wheels), str(ROOT / "packages" / package)],
            check=True,
        )
    built = sorted(wheels.glob("*.whl"))
    assert len(built) == 4, built
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
         *map(str, built)],
        check=True,
    )
    # -S: no site processing, so the editable installs' .pth files are not read; the
    # third-party dependencies come from this environment's site-packages.
    site = sysconfig.get_paths()["purelib"]
    code = (
        "import sys; sys.path[:0] = [sys.argv[1]]; sys.path.append(sys.argv[2]);"
        "import importlib, lucid;"
        "names = ['lucid'] + sys.argv[3:];"
        "print('\\n'.join(importlib.import_module(n).__file__ for n in names))"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code, str(target), site, *SUBPACKAGES],
        check=True, capture_output=True, text=True,
    ).stdout.split()
    assert len(out) == 1 + len(SUBPACKAGES)
    for path in out:
        assert Path(path).is_relative_to(target), path


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_has_its_own_version(package):
    import tomllib

    meta = tomllib.loads((ROOT / "packages" / package / "pyproject.toml").read_text())
    assert meta["project"]["name"] == package
    assert meta["project"]["version"]
