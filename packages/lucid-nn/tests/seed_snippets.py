# ruff: noqa: E702, UP006, UP035
"""The seed report's Lucid code, as its users wrote it: ResNet-18 and the training loop.

Copied verbatim; the parts the report elided with ``...`` are completed minimally (marked
``# completed``) following its own text and its PyTorch twin. Tests run it unchanged against
the packages to check that the API users wrote keeps working.
"""

from typing import List, Tuple  # completed: the report's imports were not shown

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
import lucid.optim  # completed: the loop's annotation names lucid.optim.Optimizer
from lucid import Tensor
from tqdm import tqdm

DataLoader = object  # completed: any iterable of (inputs, targets) NumPy batches


class _BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu2 = nn.ReLU()
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu2(out + identity)

class ResNet(nn.Module):
    def __init__(self, block, layers: list[int], num_classes: int = 1000):  # completed
        super().__init__()
        self.in_channels = 64  # completed
        self.stem = nn.Sequential(  # completed: (Conv -> BN -> ReLU)
            nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(),
        )
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)  # completed
        self.layer1 = self._make_layer(block, 64, layers[0], stride=1)
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, out_channels: int, blocks: int, stride: int = 1):  # completed
        # stride/channel mismatch면 downsample을 붙여 identity shape을 맞춤
        downsample = None  # completed
        if stride != 1 or self.in_channels != out_channels * block.expansion:  # completed
            downsample = nn.Sequential(nn.Conv2d(self.in_channels, out_channels * block.expansion, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(out_channels * block.expansion))  # completed
        layers = [block(self.in_channels, out_channels, stride, downsample)]
        self.in_channels = out_channels * block.expansion  # completed
        layers += [block(self.in_channels, out_channels, stride=1) for _ in range(1, blocks)]  # completed
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        x = self.maxpool(x)
        x = self.layer1(x); x = self.layer2(x); x = self.layer3(x); x = self.layer4(x)
        x = self.avgpool(x)
        return self.fc(x.reshape(x.shape[0], -1))

def resnet_18(num_classes: int = 1000, **kwargs) -> ResNet:
    return ResNet(_BasicBlock, [2, 2, 2, 2], num_classes, **kwargs)


def build_cifar_resnet18(num_classes: int = 10) -> nn.Module:
    model = resnet_18(num_classes=num_classes)
    model.stem = nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(),
    )
    model.maxpool = nn.Identity()
    return model


def train_one_epoch(
    model: nn.Module,
    loader: DataLoader,
    optimizer: lucid.optim.Optimizer,
    device: str,
    lr: float,
    disable_progress: bool,
) -> Tuple[float, float, List[float]]:
    model.train()
    total_loss = 0.0
    correct = 0
    total = 0
    batch_losses: List[float] = []

    progress = tqdm(loader, desc="Train", leave=False, disable=disable_progress)
    for inputs, targets in progress:
        inputs = lucid.tensor(inputs, dtype=lucid.Float32, device=device)
        targets = lucid.tensor(targets, dtype=lucid.Int64, device=device)

        optimizer.zero_grad()
        logits = model(inputs)
        loss = F.cross_entropy(logits, targets)
        loss.eval()
        loss.backward()
        optimizer.step()

        batch_losses.append(float(loss.data))
        total_loss += float(loss.data) * targets.size
        with lucid.no_grad():
            preds = lucid.argmax(logits, axis=1)
            correct += int((preds == targets).sum().data)
        total += targets.size

        # progress.set_postfix(...), running stats 계산 ...
        running_loss = total_loss / max(total, 1)  # completed, as in the PyTorch twin
        running_acc = correct / max(total, 1)  # completed
        progress.set_postfix(loss=running_loss, acc=running_acc, lr=lr)  # completed

    return total_loss / total, correct / total, batch_losses
