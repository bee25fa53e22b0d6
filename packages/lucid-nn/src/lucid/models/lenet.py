"""LeNet-5 (LeCun et al., 1998) as it is usually trained on MNIST today.

tanh activations and 2x2 average pooling; the first convolution pads its 28x28 input by 2,
which gives the original 32x32 geometry:

    (1, 28, 28) -conv 5x5 pad 2-> (6, 28, 28) -avgpool 2-> (6, 14, 14)
                -conv 5x5------> (16, 10, 10) -avgpool 2-> (16, 5, 5)
                -> 400 -> 120 -> 84 -> num_classes          (61,706 parameters for 10 classes)

Layers keep PyTorch's default initialisation.
"""

from __future__ import annotations

from lucid import Tensor

from .. import nn


class LeNet5(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=2)
        self.act1 = nn.Tanh()
        self.pool1 = nn.AvgPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.act2 = nn.Tanh()
        self.pool2 = nn.AvgPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.act3 = nn.Tanh()
        self.fc2 = nn.Linear(120, 84)
        self.act4 = nn.Tanh()
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool1(self.act1(self.conv1(x)))
        x = self.pool2(self.act2(self.conv2(x)))
        x = self.flatten(x)
        x = self.act3(self.fc1(x))
        x = self.act4(self.fc2(x))
        return self.fc3(x)


def lenet_5(num_classes: int = 10, **kwargs) -> LeNet5:
    """LeNet-5 for 28x28 inputs (``in_channels=1`` by default)."""
    return LeNet5(num_classes, **kwargs)
