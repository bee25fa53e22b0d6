"""The README's examples run as written (the pretrained download replaced by fresh weights)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_examples_run(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the data-parallel example saves a checkpoint
    blocks = _blocks()
    assert len(blocks) == 4
    for code in blocks:
        code = code.replace('weights="IMAGENET1K_V1"', "weights=None")  # no network in tests
        exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("0 ") and printed[1].startswith("1 ")
    assert printed[2] == "(2, 16, 8, 8) 2336"
    import lucid
    from lucid import models

    models.lenet_5().load_state_dict(lucid.load(tmp_path / "lenet.safetensors"))
