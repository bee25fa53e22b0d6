"""PyTorch's device idioms: lucid.device, tensor.device, lucid.cuda, lucid.backends.mps,
lucid.accelerator, .to(device)/.cpu()/.cuda()."""

import pickle
import sys

import lucid
import pytest


def test_device_names_compare_with_tensor_devices():
    x = lucid.ones(2)
    cpu = lucid.device("cpu")
    assert x.device == cpu == "cpu" and x.device.type == "cpu" and repr(cpu) == "device(type='cpu')"
    assert lucid.device("cuda") == lucid.device("mps") == lucid.device("gpu") == "gpu"
    assert lucid.device("cuda:0").index == 0 and lucid.device(cpu) is cpu
    assert x.to(cpu) is x or x.to(cpu).device == cpu
    assert x.cpu().device == "cpu"
    assert pickle.loads(pickle.dumps(x)).device.type == "cpu"
    assert {x.device: 1}["cpu"] == 1  # hashes as its name


@pytest.mark.parametrize("bad", ["tpu", "cuda:1", "cuda:x"])
def test_bad_device_names_are_named(bad):
    with pytest.raises(lucid.DeviceError, match=bad.split(":")[0]):
        lucid.device(bad)


def test_availability_questions_agree_with_mlx():
    gpu = lucid.gpu_available()
    assert lucid.accelerator.is_available() == gpu
    assert lucid.accelerator.device_count() == int(gpu)
    assert lucid.accelerator.current_accelerator() == ("gpu" if gpu else None)
    assert lucid.cuda.is_available() == (gpu and sys.platform != "darwin")
    assert lucid.cuda.device_count() == int(lucid.cuda.is_available())
    assert lucid.backends.mps.is_available() == (gpu and sys.platform == "darwin")


@pytest.mark.skipif(lucid.gpu_available(), reason="checks the error on a machine without GPU")
def test_cuda_without_a_gpu_says_what_to_install():
    with pytest.raises(lucid.DeviceError, match="mlx\\[cuda\\]"):
        lucid.ones(2).cuda()
    with pytest.raises(lucid.DeviceError, match="no GPU"):
        lucid.ones(2).to(lucid.device("cuda"))
