"""The seed report's own Lucid code (tests/seed_snippets.py) runs unchanged on the packages."""

import math

import lucid
import lucid.optim
import numpy as np
import seed_snippets as seed
import torch
from lucid import models
from lucid.models import RESNET_TORCH_NAME_MAP, from_torch_state_dict
from models_parity import cifar_batch, torch_cifar_resnet18


def _loader(n_batches: int = 2, batch: int = 4, seed_value: int = 0):
    rng = np.random.default_rng(seed_value)
    return [cifar_batch(rng, batch) for _ in range(n_batches)]


def test_seed_train_one_epoch_runs_on_a_small_batch():
    lucid.seed(0)
    model = seed.build_cifar_resnet18(num_classes=10)
    assert model.count_parameters() == 11_173_962
    optimizer = lucid.optim.Adam(model.parameters(), lr=1e-3, weight_decay=5e-4)
    scheduler = lucid.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.5)
    before = model.fc.weight.numpy().copy()
    avg_loss, acc, batch_losses = seed.train_one_epoch(
        model, _loader(), optimizer, device="cpu", lr=1e-3, disable_progress=True
    )
    scheduler.step()
    assert len(batch_losses) == 2 and all(math.isfinite(v) for v in batch_losses)
    assert all(isinstance(v, float) for v in batch_losses)
    assert math.isclose(avg_loss, sum(batch_losses) / 2, rel_tol=1e-6)
    assert 0.0 <= acc <= 1.0 and acc * 8 == round(acc * 8)
    assert 1.0 < batch_losses[0] < 4.0  # a sane start, not the old ~6
    assert not np.allclose(model.fc.weight.numpy(), before)  # Adam stepped
    # the progress-bar path too (tqdm enabled)
    _, _, more = seed.train_one_epoch(model, _loader(1, 4, 1), optimizer, "cpu", 1e-3, False)
    assert len(more) == 1 and math.isfinite(more[0])


def test_seed_model_is_the_package_model():
    """The seed's classes and the package's share names, shapes and outputs (to float32
    rounding: in inference the package's blocks run each conv with its BatchNorm and ReLU as
    one op, ``lucid.conv2d_batch_norm``)."""
    lucid.seed(1)
    ours = models.build_cifar_resnet18()
    theirs = seed.build_cifar_resnet18()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())
    x, _ = cifar_batch(np.random.default_rng(3), 2)
    ours.eval()
    theirs.eval()
    with lucid.no_grad():
        a = ours(lucid.tensor(x)).numpy()
        b = theirs(lucid.tensor(x)).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert seed.resnet_18().count_parameters() == models.resnet_18().count_parameters()


def test_seed_model_loads_torchvision_weights_with_the_name_map():
    torch.manual_seed(0)
    t = torch_cifar_resnet18().eval()
    m = seed.build_cifar_resnet18().eval()  # a plain ResNet of the seed: no default map
    from_torch_state_dict(m, t.state_dict(), name_map=RESNET_TORCH_NAME_MAP)
    x, _ = cifar_batch(np.random.default_rng(4), 2)
    with lucid.no_grad():
        a = m(lucid.tensor(x)).numpy()
    with torch.no_grad():
        b = t(torch.from_numpy(x)).numpy()
    assert np.abs(a - b).max() < 1e-4 * max(1.0, np.abs(b).max())
