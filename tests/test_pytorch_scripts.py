"""PyTorch training scripts run on Lucid with only their imports and data source changed.

Each script is written once, in the idioms of the PyTorch scripts people copy (an MNIST
classifier with Adadelta and StepLR, a VAE, a CIFAR ResNet-18 with SGD, cosine schedule,
DataParallel and checkpoints, an LSTM text classifier with AdamW, gradient clipping and
ReduceLROnPlateau), as a function of the modules it imports. It runs once with PyTorch's
modules and once with Lucid's, the Lucid model starting from the PyTorch model's weights,
and every step's loss and the evaluation figures must agree. The only other changes are
the harness's: dropout probabilities set to 0 and the VAE's noise shared, so that the two
runs draw no random numbers of their own.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tv_transforms = pytest.importorskip("torchvision.transforms")
Image = pytest.importorskip("PIL.Image")

import lucid  # noqa: E402
import lucid.data.per_sample  # noqa: E402
import lucid.nn.functional  # noqa: E402
import lucid.utils.data  # noqa: E402
from lucid.datasets import mnist_sample  # noqa: E402

MODULES = {
    "torch": dict(torch=torch, nn=torch.nn, F=torch.nn.functional, optim=torch.optim,
                  lr_scheduler=torch.optim.lr_scheduler, data=torch.utils.data,
                  transforms=tv_transforms),
    "lucid": dict(torch=lucid, nn=lucid.nn, F=lucid.nn.functional, optim=lucid.optim,
                  lr_scheduler=lucid.optim.lr_scheduler, data=lucid.utils.data,
                  transforms=lucid.data.per_sample),
}


def imports(framework: str, **overrides) -> types.SimpleNamespace:
    """The script's import lines: the modules it names, for one framework."""
    return types.SimpleNamespace(**{**MODULES[framework], **overrides})


def no_dropout(m, model):
    for layer in model.modules():
        if isinstance(layer, m.nn.Dropout):
            layer.p = 0.0
    return model


def copy_weights(torch_model, lucid_model):
    lucid_model.load_state_dict({k: v.detach().numpy() for k, v in
                                 torch_model.state_dict().items()})


def run_both(build, train, **kwargs):
    """Build with PyTorch, copy its weights into Lucid's build, train both."""
    torch.manual_seed(0)
    spaces = {fw: imports(fw, **kwargs.get(f"{fw}_overrides", {})) for fw in MODULES}
    models = {fw: no_dropout(m, build(m)) for fw, m in spaces.items()}
    copy_weights(models["torch"], models["lucid"])
    return {fw: train(spaces[fw], models[fw]) for fw in MODULES}


# ----- data sources (the part of a script that is changed) ----------------------------
X_TRAIN, Y_TRAIN, _, _ = mnist_sample(raw=True)


class MnistImages:
    """uint8 28x28 images through a transform, as torchvision's MNIST gives them."""

    def __init__(self, transform, n=64, offset=0):
        self.transform, self.n, self.offset = transform, n, offset

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        i += self.offset
        return self.transform(X_TRAIN[i, 0]), int(Y_TRAIN[i])


# Two steps: at the script's lr 0.1 with BatchNorm over batches of 4 random images the loss
# jumps to about 10 by the second step, after which float32 rounding (summation order)
# grows chaotically in any two implementations; the first steps must agree closely.
CIFAR = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)


class CifarImages:
    """PIL images through a transform, as torchvision's CIFAR10 gives them."""

    def __init__(self, transform):
        self.transform = transform

    def __len__(self):
        return len(CIFAR)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(CIFAR[i])), i % 10


# ----- 1. MNIST classifier: Adadelta, StepLR, nll_loss, argmax/eq/view_as ---------------
def mnist_net(m):
    nn, F, torch = m.nn, m.F, m.torch

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = self.dropout2(x)
            return F.log_softmax(self.fc2(x), dim=1)

    use_cuda = m.torch.cuda.is_available() and False  # the CPU, for the comparison
    use_mps = m.torch.backends.mps.is_available() and False
    device = m.torch.device("cuda" if use_cuda else "mps" if use_mps else "cpu")
    return Net().to(device)


def mnist_train(m, model):
    torch, F = m.torch, m.F
    device = torch.device("cpu")
    transform = m.transforms.Compose([m.transforms.ToTensor(),
                                      m.transforms.Normalize((0.1307,), (0.3081,))])
    train_loader = m.data.DataLoader(MnistImages(transform, 48), batch_size=16,
                                     num_workers=0, pin_memory=True)
    test_loader = m.data.DataLoader(MnistImages(transform, 64, 100), batch_size=32)
    optimizer = m.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = m.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    losses = []
    for _epoch in range(2):
        model.train()
        for data, target in train_loader:
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    return losses, test_loss / len(test_loader.dataset), correct


@pytest.mark.filterwarnings("ignore:'pin_memory' argument is set as true:UserWarning")
def test_mnist_classifier_script():
    r = run_both(mnist_net, mnist_train)
    np.testing.assert_allclose(r["lucid"][0], r["torch"][0], rtol=2e-3)
    np.testing.assert_allclose(r["lucid"][1], r["torch"][1], rtol=2e-3)
    assert r["lucid"][2] == r["torch"][2]


# ----- 2. VAE: randn_like, exp, binary_cross_entropy(sum), KL term, view ---------------
NOISE = np.random.default_rng(1).standard_normal((16, 20)).astype(np.float32)


def vae_net(m):
    nn, F, torch = m.nn, m.F, m.torch

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 400)
            self.fc21 = nn.Linear(400, 20)
            self.fc22 = nn.Linear(400, 20)
            self.fc3 = nn.Linear(20, 400)
            self.fc4 = nn.Linear(400, 784)

        def encode(self, x):
            h1 = F.relu(self.fc1(x))
            return self.fc21(h1), self.fc22(h1)

        def reparameterize(self, mu, logvar):
            std = torch.exp(0.5 * logvar)
            eps = torch.randn_like(std)
            return mu + eps * std

        def decode(self, z):
            h3 = F.relu(self.fc3(z))
            return torch.sigmoid(self.fc4(h3))

        def forward(self, x):
            mu, logvar = self.encode(x.view(-1, 784))
            z = self.reparameterize(mu, logvar)
            return self.decode(z), mu, logvar

    return VAE()


def vae_train(m, model):
    torch, F = m.torch, m.F

    def loss_function(recon_x, x, mu, logvar):
        bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return bce + kld

    loader = m.data.DataLoader(MnistImages(m.transforms.ToTensor(), 48), batch_size=16,
                               shuffle=False)
    optimizer = m.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    losses = []
    for data, _ in loader:
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        losses.append(loss.item() / len(data))
        optimizer.step()
    return losses


def _shared_noise(framework):
    module = MODULES[framework]["torch"]

    def randn_like(t):
        return module.tensor(NOISE[: t.shape[0]]) if framework == "lucid" else (
            module.from_numpy(NOISE[: t.shape[0]].copy()))

    names = {k: getattr(module, k) for k in dir(module) if not k.startswith("__")}
    return types.SimpleNamespace(**{**names, "randn_like": randn_like})


def test_vae_script():
    r = run_both(vae_net, vae_train, torch_overrides={"torch": _shared_noise("torch")},
                 lucid_overrides={"torch": _shared_noise("lucid")})
    np.testing.assert_allclose(r["lucid"], r["torch"], rtol=1e-4)


# ----- 3. CIFAR ResNet-18: BasicBlock with `out += shortcut`, SGD, cosine schedule,
#          DataParallel, cudnn.benchmark, outputs.max(1), a checkpoint round trip -----
def resnet18(m):
    nn, F = m.nn, m.F

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, in_planes, planes, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.shortcut = nn.Sequential()
            if stride != 1 or in_planes != planes:
                self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False),
                                              nn.BatchNorm2d(planes))

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out += self.shortcut(x)
            return F.relu(out)

    class ResNet(nn.Module):
        def __init__(self, block, num_blocks, num_classes=10):
            super().__init__()
            self.in_planes = 64
            self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.layer1 = self._make_layer(block, 64, num_blocks[0], 1)
            self.layer2 = self._make_layer(block, 128, num_blocks[1], 2)
            self.layer3 = self._make_layer(block, 256, num_blocks[2], 2)
            self.layer4 = self._make_layer(block, 512, num_blocks[3], 2)
            self.linear = nn.Linear(512 * block.expansion, num_classes)

        def _make_layer(self, block, planes, num_blocks, stride):
            layers = []
            for s in [stride] + [1] * (num_blocks - 1):
                layers.append(block(self.in_planes, planes, s))
                self.in_planes = planes * block.expansion
            return nn.Sequential(*layers)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
            out = F.avg_pool2d(out, 4)
            out = out.view(out.size(0), -1)
            return self.linear(out)

    net = ResNet(BasicBlock, [2, 2, 2, 2])
    net = m.nn.DataParallel(net)  # what the script does on a GPU machine
    m.torch.backends.cudnn.benchmark = True
    return net


def resnet_train(m, net):
    T = m.transforms
    normalize = T.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
    augmented = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                           normalize])
    assert tuple(augmented(Image.fromarray(CIFAR[0])).shape) == (3, 32, 32)  # the script's train transform runs
    plain = T.Compose([T.ToTensor(), normalize])  # its test transform: no random draws
    loader = m.data.DataLoader(CifarImages(plain), batch_size=4, shuffle=False)
    criterion = m.nn.CrossEntropyLoss()
    optimizer = m.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    scheduler = m.lr_scheduler.CosineAnnealingLR(optimizer, T_max=200)
    net.train()
    losses, correct, total = [], 0, 0
    for inputs, targets in loader:
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        _, predicted = outputs.max(1)
        total += targets.size(0)
        correct += predicted.eq(targets).sum().item()
    scheduler.step()
    return losses, correct, total, scheduler.get_last_lr()[0]


def test_cifar_resnet18_script(tmp_path):
    r = run_both(resnet18, resnet_train)
    np.testing.assert_allclose(r["lucid"][0], r["torch"][0], rtol=2e-3)
    assert r["lucid"][1:3] == r["torch"][1:3]
    assert r["lucid"][3] == pytest.approx(r["torch"][3], rel=1e-9)


def test_checkpoint_of_a_dataparallel_script_round_trips(tmp_path):
    m = imports("lucid")
    net = resnet18(m)
    state = {"net": net.state_dict(), "acc": 12.5, "epoch": 3}
    lucid.save(state, tmp_path / "ckpt.pth")
    checkpoint = lucid.load(tmp_path / "ckpt.pth")
    assert next(iter(checkpoint["net"])).startswith("module.")  # DataParallel's names
    other = resnet18(m)
    other.load_state_dict(checkpoint["net"])
    assert checkpoint["acc"] == 12.5 and checkpoint["epoch"] == 3


# ----- 4. LSTM text classifier: Embedding, LSTM(batch_first), AdamW, clip_grad_norm_,
#          ReduceLROnPlateau on a validation loss ------------------------------------
TOKENS = np.random.default_rng(2).integers(0, 50, (24, 12))
LABELS = TOKENS.sum(1) % 4


def text_net(m):
    nn = m.nn

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(50, 16)
            self.lstm = nn.LSTM(16, 32, num_layers=2, batch_first=True)
            self.head = nn.Linear(32, 4)

        def forward(self, tokens):
            out, (h, c) = self.lstm(self.embed(tokens))
            return self.head(out[:, -1])

    return Classifier()


def text_train(m, model):
    data = m.data.TensorDataset(TOKENS, LABELS)
    loader = m.data.DataLoader(data, batch_size=8)
    optimizer = m.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    scheduler = m.lr_scheduler.ReduceLROnPlateau(optimizer, "min", patience=0, factor=0.5)
    losses, lrs = [], []
    for _epoch in range(3):
        for tokens, labels in loader:
            optimizer.zero_grad()
            loss = m.F.cross_entropy(model(tokens), labels)
            loss.backward()
            m.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            optimizer.step()
            losses.append(loss.item())
        with m.torch.no_grad():
            val = m.F.cross_entropy(model(m.torch.tensor(TOKENS[:8])),
                                    m.torch.tensor(LABELS[:8])).item()
        scheduler.step(val)
        lrs.append(optimizer.param_groups[0]["lr"])
    return losses, lrs


def _tensor_dataset(framework):
    if framework == "torch":
        return lambda *a: torch.utils.data.TensorDataset(*(torch.from_numpy(x) for x in a))
    return lucid.utils.data.TensorDataset


def test_lstm_text_classifier_script():
    r = run_both(text_net, text_train,
                 torch_overrides={"data": types.SimpleNamespace(
                     DataLoader=torch.utils.data.DataLoader,
                     TensorDataset=_tensor_dataset("torch"))})
    np.testing.assert_allclose(r["lucid"][0], r["torch"][0], rtol=1e-3)
    assert r["lucid"][1] == pytest.approx(r["torch"][1])
