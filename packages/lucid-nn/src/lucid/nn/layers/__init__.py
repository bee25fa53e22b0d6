"""Every layer, one concept per file."""

from .activation import (
    ELU,
    GELU,
    Hardswish,
    LeakyReLU,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from .attention import MultiheadAttention
from .basic import Flatten, Identity, Unflatten
from .batchnorm import BatchNorm1d, BatchNorm2d
from .channel_dropout import Dropout2d
from .conv import Conv1d, Conv2d, ConvTranspose2d
from .dropout import Dropout
from .embedding import Embedding
from .instancenorm import InstanceNorm1d, InstanceNorm2d
from .linear import Linear
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from .normalization import GroupNorm, LayerNorm
from .pooling import (
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
)
from .recurrent import GRU, LSTM, RNN, RNNBase
from .transformer import TransformerEncoder, TransformerEncoderLayer
from .upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

__all__ = [
    "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AvgPool1d", "AvgPool2d", "BatchNorm1d",
    "BatchNorm2d", "BCELoss", "BCEWithLogitsLoss", "Conv1d", "Conv2d", "ConvTranspose2d",
    "CrossEntropyLoss", "Dropout", "Dropout2d", "ELU", "Embedding", "Flatten", "GELU",
    "GroupNorm", "GRU", "Hardswish", "HuberLoss", "Identity", "InstanceNorm1d",
    "InstanceNorm2d", "KLDivLoss", "L1Loss", "LayerNorm", "LeakyReLU", "Linear", "LogSoftmax",
    "LSTM", "MaxPool1d", "MaxPool2d", "Mish", "MSELoss", "MultiheadAttention", "NLLLoss",
    "PReLU", "ReLU", "RNN", "RNNBase", "Sigmoid", "SiLU", "SmoothL1Loss", "Softmax", "Softplus",
    "Tanh", "TransformerEncoder", "TransformerEncoderLayer", "Unflatten", "Upsample",
    "UpsamplingBilinear2d", "UpsamplingNearest2d",
]
