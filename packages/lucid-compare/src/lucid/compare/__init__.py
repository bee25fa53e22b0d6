"""Lucid vs PyTorch: train the same model on the same data with the same hyper-parameters in
both frameworks, and show in one figure and one table whether they follow the same
trajectory and how long each takes.

    lucid-compare                     # the default experiment, offline, a few minutes
    lucid-compare run resnet18-cifar10 --data-dir ~/data --same-init

In Python: ``lucid.compare.main(["run", "lenet5-mnist", "--epochs", "1"])``; the pieces are
``config.TrainConfig``, ``backends.get_backend``, ``trainer.fit``, ``worker.launch`` (each
run in a process of its own), ``conditions.assess``, ``report.render``,
``stats.welch_t_test``.
"""

__version__ = "0.1.0"


def main(argv=None) -> int:
    from .cli import main as _main

    return _main(argv)


__all__ = ["__version__", "main"]
