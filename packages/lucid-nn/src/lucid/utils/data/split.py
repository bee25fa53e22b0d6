"""``random_split`` drawing from Lucid's global generator, as PyTorch's from torch's."""

from __future__ import annotations

from lucid.data import random_split as _random_split

from .loader import LucidGenerator


def random_split(dataset, lengths, generator=None, *, seed: int | None = None):
    """``lucid.data.random_split``; without ``seed`` or ``generator`` the split follows
    ``lucid.manual_seed``."""
    if seed is None and generator is None:
        generator = LucidGenerator()
    return _random_split(dataset, lengths, seed=seed, generator=generator)
