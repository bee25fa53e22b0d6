"""The experiments ``lucid-compare`` knows: a model, a dataset and default hyper-parameters."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .config import TrainConfig
from .errors import UsageError


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    defaults: TrainConfig
    num_classes: int
    input_shape: tuple[int, int, int]  # (C, H, W)


EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment(
            "lenet5-mnist",
            "LeNet-5 (tanh, avg-pool, 61,706 parameters) on MNIST; the 8,000/2,000 sample "
            "shipped with lucid-data unless --data-dir or --download asks for the full set",
            TrainConfig(experiment="lenet5-mnist", model="lenet5", dataset="mnist-sample",
                        epochs=3, batch_size=128, optimizer="adam", lr=1e-3),
            10,
            (1, 28, 28),
        ),
        Experiment(
            "mlp-mnist",
            "a 784-256-128-10 ReLU MLP on MNIST (sample unless --data-dir/--download), SGD "
            "with momentum",
            TrainConfig(experiment="mlp-mnist", model="mlp", dataset="mnist-sample",
                        epochs=3, batch_size=128, optimizer="sgd", lr=0.05, momentum=0.9),
            10,
            (1, 28, 28),
        ),
        Experiment(
            "resnet18-cifar10",
            "ResNet-18 with the CIFAR stem (3x3 conv, no max-pool; 11,173,962 parameters) on "
            "CIFAR-10: Adam lr 1e-3, weight decay 5e-4, StepLR(10, 0.1), 20 epochs, "
            "RandomCrop(32, 4) + horizontal flip, per-channel normalisation",
            TrainConfig(experiment="resnet18-cifar10", model="resnet18-cifar", dataset="cifar10",
                        epochs=20, batch_size=128, optimizer="adam", lr=1e-3,
                        betas=(0.9, 0.999), weight_decay=5e-4, scheduler="step",
                        step_size=10, gamma=0.1, augment=True),
            10,
            (3, 32, 32),
        ),
    )
}
DEFAULT_EXPERIMENT = "lenet5-mnist"


def get_experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise UsageError(
            f"unknown experiment {name!r}; valid experiments: {', '.join(EXPERIMENTS)}"
        )
    return EXPERIMENTS[name]


def full_dataset(exp: Experiment, wants_full: bool) -> TrainConfig:
    """The experiment's defaults, with the MNIST sample swapped for full MNIST when asked."""
    cfg = exp.defaults
    if wants_full and cfg.dataset == "mnist-sample":
        cfg = replace(cfg, dataset="mnist")
    return cfg
