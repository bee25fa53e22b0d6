"""``lucid.backends.cudnn``: PyTorch's cuDNN switches, accepted and without effect.

Scripts set ``torch.backends.cudnn.benchmark = True``; MLX chooses its own GPU kernels,
so these flags are kept only so that such lines run unchanged.
"""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    return False
