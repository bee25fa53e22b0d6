"""The Python examples in the root README and lucid-tensor's README run as written."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
READMES = [ROOT / "README.md", ROOT / "packages" / "lucid-tensor" / "README.md"]


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run(readme, tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(), flags=re.S)
    assert blocks, f"{readme} has no python example"
    monkeypatch.chdir(tmp_path)  # examples may write files
    for code in blocks:
        exec(compile(code, str(readme), "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out.split()
    assert printed, "the examples print their results"
    float(printed[0])  # each README prints a loss first
