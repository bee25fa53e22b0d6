"""One config for every framework: flags, TOML files, explicit overrides and their diff."""

import pytest
from lucid.compare.cli import build_parser, main, run_options
from lucid.compare.config import (
    TrainConfig,
    coerce,
    config_diff,
    effective_configs,
    load_config_file,
    parse_override,
)
from lucid.compare.errors import UsageError
from lucid.compare.experiments import EXPERIMENTS


def options(argv):
    return run_options(build_parser().parse_args(["run", *argv]))


def test_flags_drive_every_framework_and_overrides_only_one():
    opts = options(["--scheduler", "step", "--step-size", "5", "--gamma", "0.5",
                    "--override", "torch.step_size=10", "--override", "torch.gamma=0.1",
                    "--lr", "3e-4", "--seed", "7"])
    eff = effective_configs(opts.base, opts.frameworks, opts.overrides)
    assert (eff["lucid"].step_size, eff["lucid"].gamma) == (5, 0.5)
    assert (eff["torch"].step_size, eff["torch"].gamma) == (10, 0.1)
    assert eff["lucid"].lr == eff["torch"].lr == 3e-4
    assert eff["lucid"].seed == eff["torch"].seed == 7
    diff = config_diff(eff["lucid"].as_dict(), eff["torch"].as_dict())
    assert diff == [("step_size", 5, 10), ("gamma", 0.5, 0.1)]


def test_experiment_defaults_and_full_dataset_switch():
    opts = options(["resnet18-cifar10"])
    c = opts.base
    assert (c.model, c.dataset, c.epochs, c.batch_size, c.optimizer) == (
        "resnet18-cifar", "cifar10", 20, 128, "adam")
    assert (c.lr, c.weight_decay, c.betas, c.scheduler, c.step_size, c.gamma, c.augment) == (
        1e-3, 5e-4, (0.9, 0.999), "step", 10, 0.1, True)
    assert options([]).base.dataset == "mnist-sample"
    assert options(["--data-dir", "/somewhere"]).base.dataset == "mnist"
    assert options(["--no-progress"]).progress is False
    assert options(["--frameworks", "lucid"]).frameworks == ["lucid"]


def test_toml_config_file(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text(
        'experiment = "mlp-mnist"\nepochs = 2\nhidden = [64, 32]\nseeds = 3\n'
        'frameworks = ["torch", "lucid"]\n[overrides.torch]\nlr = 0.01\n'
    )
    opts = options(["--config", str(path), "--epochs", "4"])
    assert opts.base.experiment == "mlp-mnist"
    assert opts.base.epochs == 4  # the command line wins over the file
    assert opts.base.hidden == (64, 32)
    assert opts.seeds == 3 and opts.frameworks == ["torch", "lucid"]
    assert opts.overrides == {"torch": {"lr": 0.01}}
    bad = tmp_path / "bad.toml"
    bad.write_text("epochz = 3\n")
    with pytest.raises(UsageError, match="unknown key 'epochz'"):
        load_config_file(bad)
    bad.write_text("epochs = \n")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_config_file(bad)


def test_override_and_value_errors():
    assert parse_override("lucid.betas=0.8,0.99") == ("lucid", "betas", (0.8, 0.99))
    assert parse_override("torch.augment=false") == ("torch", "augment", False)
    with pytest.raises(UsageError, match="FRAMEWORK.FIELD=VALUE"):
        parse_override("step_size=10")
    with pytest.raises(UsageError, match="unknown framework 'jax'"):
        parse_override("jax.lr=1")
    with pytest.raises(UsageError, match="cannot be overridden.*valid fields"):
        parse_override("torch.model=mlp")
    with pytest.raises(UsageError, match="bad value 'ten' for step_size"):
        parse_override("torch.step_size=ten")
    with pytest.raises(UsageError, match="bad value 1.5 for epochs"):
        coerce("epochs", 1.5)
    with pytest.raises(UsageError, match="unknown optimizer"):
        TrainConfig(optimizer="lbfgs").validate()


def test_usage_errors_exit_2(capsys):
    assert main(["run", "vgg-imagenet"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'vgg-imagenet'" in err
    for name in EXPERIMENTS:
        assert name in err
    assert main(["run", "--epochz=3"]) == 2
    assert "unrecognized arguments: --epochz=3" in capsys.readouterr().err
    assert main(["--frameworks", "lucid,jax"]) == 2
    assert "valid: lucid, torch" in capsys.readouterr().err
    assert main(["run", "--override", "torch.nope=1"]) == 2
    assert "valid fields" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2


@pytest.mark.parametrize("sub", ["run", "list", "report", "bench", "parity"])
def test_every_subcommand_has_help(sub, capsys):
    assert main([sub, "--help"]) == 0
    assert "usage: lucid-compare " + sub in capsys.readouterr().out


def test_experiment_first_means_run(capsys):
    assert main(["mlp-mnist", "--help"]) == 0
    assert "usage: lucid-compare run" in capsys.readouterr().out


def test_list_shows_experiments_and_configs(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "lenet5-mnist (default)" in out and "resnet18-cifar10" in out
    assert "StepLR(step_size=10, gamma=0.1)" in out and "weight_decay=0.0005" in out
