"""The exit-status contract: any flags and config values end in a documented status with a
one-line message, never a traceback; invalid ones fail before any work starts."""

from __future__ import annotations

import contextlib
import io
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lucid.compare import bench, runner
from lucid.compare.cli import in_cli_words, main
from lucid.compare.errors import EXIT_DATA, EXIT_USAGE, CompareError

#: the status the patched first step of real work returns (validation passed)
STARTED = 99


class Started(CompareError):
    exit_code = STARTED


def _started(*args, **kwargs):
    raise Started("work would start here")


def call(argv):
    """``main(argv)`` with the first step of work (loading data, ``bench``) replaced by
    ``Started``; returns ``(status, stdout + stderr)``."""
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(runner, "load_data", _started), \
            mock.patch.object(runner, "launch", _started), \
            mock.patch.object(bench, "run_bench", _started), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue() + err.getvalue()


# (flag, valid values, invalid values)
FLAGS = [
    ("--lr", ["0.01", "1e-3"], ["nan", "-1", "0", "inf", "abc", ""]),
    ("--eps", ["1e-8"], ["-1", "0", "nan"]),
    ("--seed", ["0", "7"], ["-1", "4294967296", "2.5", "x"]),
    ("--pct-start", ["0.3"], ["5", "0", "1", "-0.1", "nan"]),
    ("--epochs", ["1", "3"], ["0", "-2", "1.5"]),
    ("--batch-size", ["32"], ["0", "-1"]),
    ("--momentum", ["0.9"], ["-0.5", "inf"]),
    ("--gamma", ["0.5"], ["0", "-1", "nan"]),
    ("--betas", ["0.9,0.999"], ["1.5,0.9", "0.9", "a,b", "nan,0.9"]),
    ("--milestones", ["2,3"], ["0,2", "x"]),
    ("--hidden", ["64,32"], ["0", "-4,2", "x"]),
    ("--subset", ["128"], ["-1"]),
    ("--threads", ["1"], ["-1", "100000"]),
    ("--weight-decay", ["0"], ["-1e-4", "nan"]),
    ("--seeds", ["2"], ["0", "-3", "x"]),
    ("--divergence-tol", ["1e-3"], ["0", "-1", "nan", "x"]),
]

# (config key, valid TOML values, invalid TOML values)
KEYS = [
    ("download", ["false"], ['"no"', "1", '"false"', "[]"]),
    ("same_init", ["false"], ['"yes"', "0"]),
    ("seeds", ["2"], ['"three"', "2.7", "0", "true"]),
    ("frameworks", ['["torch", "lucid"]', '"torch"'], ["7", '["tensorflow"]', "[1]", "[]"]),
    ("divergence_tol", ["0.001", "1"], ['"x"', "-1", "nan", "inf", "true"]),
    ("data_dir", [], ["5", '""', "true", "[1]"]),
    ("seed", ["3"], ["2.7", '"3"', "-1", "true"]),
    ("lr", ["0.001", "1"], ['"0.1"', "nan", "-1", "false"]),
    ("epochs", ["2"], ["2.0", '"2"', "0"]),
    ("betas", ["[0.9, 0.99]"], ["[0.9]", "0.9", '["a", "b"]']),
    ("hidden", ["[32]", "16"], ['"32"', "[0]", "[1.5]"]),
    ("torch_device", ['"cpu"'], ['"tpu"', "1"]),
    ("progress", ["false"], ['"off"']),
    ("epochz", [], ["3"]),
]


@st.composite
def invocations(draw):
    """Flags and config entries, each valid or invalid by construction."""
    flags = draw(st.lists(st.sampled_from(FLAGS), max_size=4, unique_by=lambda f: f[0]))
    keys = draw(st.lists(st.sampled_from(KEYS), max_size=3, unique_by=lambda k: k[0]))
    argv, toml, invalid = [], [], []
    for flag, good, bad in flags:
        is_bad = draw(st.booleans())
        value = draw(st.sampled_from(bad if is_bad else good))
        argv += [flag, value] if not value.startswith("-") else [f"{flag}={value}"]
        invalid += [flag] if is_bad else []
    for key, good, bad in keys:
        is_bad = not good or draw(st.booleans())
        toml.append(f"{key} = {draw(st.sampled_from(bad if is_bad else good))}")
        invalid += [key] if is_bad else []
    return argv, toml, invalid


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=invocations())
def test_invalid_values_fail_before_work_with_status_2_and_one_line(tmp_path, case):
    argv, toml, invalid = case
    cfg = tmp_path / "c.toml"
    cfg.write_text("\n".join(toml) + "\n")
    code, printed = call(["run", "--no-progress", "--out", str(tmp_path / "o"), *argv,
                          *(["--config", str(cfg)] if toml else [])])
    assert "Traceback" not in printed
    if invalid:
        assert code == EXIT_USAGE, (argv, toml, printed)
        assert printed.count("error:") == 1 or "usage:" in printed
    else:
        assert code == STARTED, (argv, toml, printed)


TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=12)
RANDOM_FLAGS = ["--lr", "--eps", "--seed", "--pct-start", "--epochs", "--betas", "--hidden",
                "--frameworks", "--override", "--data-dir", "--milestones", "--seeds",
                "--divergence-tol", "--t-max", "--max-lr", "--scheduler", "--optimizer"]


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(st.tuples(st.sampled_from(RANDOM_FLAGS), TEXT), max_size=4),
       command=st.sampled_from(["run", "bench"]))
def test_random_arguments_end_in_a_documented_status(tmp_path, pairs, command):
    argv = [f"{flag}={value}" for flag, value in pairs]
    if command == "bench":
        argv = ["bench", "lenet5-mnist", *[a for a in argv if a.split("=")[0] in
                                           ("--seed", "--frameworks")]]
    else:
        argv = ["run", "--no-progress", "--out", str(tmp_path / "o"), *argv]
    code, printed = call(argv)
    assert code in (EXIT_USAGE, EXIT_DATA, STARTED), (argv, printed)
    assert "Traceback" not in printed


@pytest.mark.parametrize("argv", [
    ["--lr", "nan"], ["--eps", "-1"], ["--seed", "-1"], ["--pct-start", "5"],
])
def test_issue_flags_exit_2_and_debug_shows_the_traceback(argv):
    code, printed = call(argv)
    assert code == EXIT_USAGE and "Traceback" not in printed
    assert f"{argv[0]}:" in printed and "expected" in printed
    code, printed = call(["--debug", *argv])
    assert code == EXIT_USAGE and "Traceback" in printed


def test_bench_warmup_negative_exits_2():
    code, printed = call(["bench", "lenet5-mnist", "--warmup", "-5"])
    assert code == EXIT_USAGE and "--warmup: -5" in printed


@pytest.mark.parametrize("text, key, shown, expected", [
    ('download = "no"', "download", "'no'", "boolean"),
    ('seeds = "three"', "seeds", "'three'", "integer"),
    ("seeds = 2.7", "seeds", "2.7", "integer"),
    ("frameworks = 7", "frameworks", "7", "array of strings"),
    ('divergence_tol = "x"', "divergence_tol", "'x'", "number"),
    ("data_dir = 5", "data_dir", "5", "path"),
    ("[overrides.torch]\nseed = 1.5", "[overrides.torch] seed", "1.5", "integer"),
])
def test_config_values_are_checked_by_type(tmp_path, text, key, shown, expected):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text + "\n")
    code, printed = call(["run", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert code == EXIT_USAGE and "Traceback" not in printed
    assert f"{key} = {shown}" in printed and expected in printed


def test_nothing_downloads_unless_asked(tmp_path):
    seen = {}

    def record(dataset, data_dir, download, progress=True):
        seen["download"] = download
        raise Started("loading")

    cfg = tmp_path / "c.toml"
    for text, asked in (("download = false", False), ("", False), ("download = true", True)):
        cfg.write_text(text + "\n")
        with mock.patch.object(runner, "load_data", record):
            assert main(["run", "--config", str(cfg), "--data-dir", str(tmp_path),
                         "--out", str(tmp_path / "o")]) == STARTED
        assert seen.pop("download") is asked


@pytest.mark.parametrize("content", [bytes(range(256)) * 4, "epochs = 2\n".encode("utf-16"),
                                     None])
def test_config_file_binary_utf16_or_folder_exits_2(tmp_path, content):
    cfg = tmp_path / "c.toml"
    if content is None:
        cfg.mkdir()
    else:
        cfg.write_bytes(content)
    code, printed = call(["run", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert code == EXIT_USAGE and "--config" in printed and "Traceback" not in printed


def test_data_folder_naming_a_file_exits_2(tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    code, printed = call(["run", "--data-dir", str(afile), "--out", str(tmp_path / "o")])
    assert code == EXIT_USAGE and "--data-dir" in printed and "is a file" in printed
    monkeypatch.setenv("LUCID_DATA_HOME", str(afile))
    code, printed = call(["run", "resnet18-cifar10", "--out", str(tmp_path / "o")])
    assert code == EXIT_USAGE and "LUCID_DATA_HOME" in printed


def test_unexpected_errors_are_one_line_with_status_70(tmp_path):
    def boom(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    with mock.patch.object(runner, "load_data", boom):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            assert main(["run", "--out", str(tmp_path / "o")]) == 70
    assert "internal error: ZeroDivisionError" in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_data_messages_name_the_flags():
    text = ("CIFAR-10 was not found under D, and download=False.\nthen call again (root= may "
            "also be the cifar-10-batches-py folder itself).")
    words = in_cli_words(text)
    assert "download=False" not in words and "root=" not in words
    assert "--download" in words and "--data-dir" in words
