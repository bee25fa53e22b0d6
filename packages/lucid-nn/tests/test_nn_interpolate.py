"""F.interpolate and Upsample against PyTorch: nearest, nearest-exact and (bi/tri)linear,
by size or scale factor, align_corners, up and down, forward and backward."""

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
import pytest
import torch
import torch.nn.functional as TF
from nn_parity import check_function, check_module, randn

CASES_2D = [
    dict(scale_factor=2),
    dict(scale_factor=3),
    dict(scale_factor=0.5),
    dict(scale_factor=(1.7, 0.6)),
    dict(scale_factor=2.09),  # 2x the size, yet not 2 as the scale: PyTorch's shortcut
    dict(scale_factor=1.1),  # same size on one axis
    dict(scale_factor=1.5, recompute_scale_factor=True),
    dict(size=(9, 4)),
    dict(size=(1, 1)),
    dict(size=(5, 13)),
    dict(size=(7, 10)),  # the input's own size
    dict(size=16),
]


@pytest.mark.parametrize("mode,align", [("nearest", None), ("nearest-exact", None),
                                        ("bilinear", False), ("bilinear", True)])
@pytest.mark.parametrize("kw", CASES_2D)
@pytest.mark.parametrize("shape", [(2, 3, 7, 10), (1, 1, 3, 2)])
def test_interpolate_2d(mode, align, kw, shape):
    kw = dict(kw, mode=mode, align_corners=align)
    check_function(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw),
                   randn(*shape, seed=1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode,align", [("nearest", None), ("nearest-exact", None),
                                        ("linear", False), ("linear", True)])
@pytest.mark.parametrize("kw", [dict(scale_factor=2), dict(scale_factor=0.4), dict(size=1),
                                dict(size=17), dict(scale_factor=2.5)])
def test_interpolate_1d(mode, align, kw):
    kw = dict(kw, mode=mode, align_corners=align)
    check_function(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw),
                   randn(2, 3, 6, seed=2), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode,align", [("nearest", None), ("trilinear", False),
                                        ("trilinear", True)])
def test_interpolate_3d(mode, align):
    kw = dict(scale_factor=(2, 0.5, 1.5), mode=mode, align_corners=align)
    check_function(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw),
                   randn(1, 2, 3, 4, 5, seed=3), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make", [
    lambda m: m.Upsample(scale_factor=2),
    lambda m: m.Upsample(scale_factor=2, mode="bilinear"),
    lambda m: m.Upsample(size=(5, 3), mode="bilinear", align_corners=True),
    lambda m: m.UpsamplingNearest2d(scale_factor=3),
    lambda m: m.UpsamplingBilinear2d(size=(8, 8)),
])
def test_upsample_layers(make):
    check_module(make(nn), make(torch.nn), randn(2, 3, 4, 5, seed=4), rtol=1e-5, atol=1e-5)


def test_interpolate_bad_arguments():
    x = lucid.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match="interpolate: give exactly one"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="interpolate: give exactly one"):
        F.interpolate(x, size=2, scale_factor=2)
    with pytest.raises(ValueError, match="interpolate: align_corners"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(lucid.ShapeError, match="interpolate: mode 'bilinear' needs a 4-D"):
        F.interpolate(lucid.zeros(1, 2, 4), scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="interpolate: mode must be"):
        F.interpolate(x, scale_factor=2, mode="bicubic")
    with pytest.raises(lucid.ShapeError, match="interpolate: size .* per spatial axis"):
        F.interpolate(x, size=(2, 3, 4))
    with pytest.raises(lucid.ShapeError, match="interpolate: .* must be positive"):
        F.interpolate(x, scale_factor=0.1)
