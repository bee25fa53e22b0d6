"""``lucid.nn.functional`` (``import lucid.nn.functional as F``): every layer as a function.

The engine's ops (``lucid.ops.nn``: linear, activations, normalisations, losses, ...) under
PyTorch's functional names and signatures; none writes a backward of its own here.
"""

from .activation import (
    elu,
    gelu,
    hardswish,
    leaky_relu,
    log_softmax,
    mish,
    prelu,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from .attention import scaled_dot_product_attention
from .basic import dropout, dropout2d, embedding, one_hot, pad
from .batch_norm import batch_norm
from .conv import conv1d, conv2d, conv_transpose2d
from .distance import cosine_similarity, normalize
from .interpolate import interpolate
from .linear import linear
from .loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from .normalization import group_norm, instance_norm, layer_norm
from .pooling import (
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)

__all__ = [
    "adaptive_avg_pool2d", "adaptive_max_pool2d", "avg_pool1d", "avg_pool2d", "batch_norm",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "conv1d", "conv2d",
    "conv_transpose2d", "cosine_similarity", "cross_entropy", "dropout", "dropout2d", "elu",
    "embedding", "gelu", "group_norm", "hardswish", "huber_loss", "instance_norm",
    "interpolate", "kl_div", "l1_loss", "layer_norm", "leaky_relu", "linear", "log_softmax",
    "max_pool1d", "max_pool2d", "mish", "mse_loss", "nll_loss", "normalize", "one_hot", "pad",
    "prelu", "relu", "scaled_dot_product_attention", "sigmoid", "silu", "smooth_l1_loss",
    "softmax", "softplus", "tanh",
]
