"""The library's random-number generator, seedable in one place (like ``torch.manual_seed``).

Everything random (initialisation, dropout, ``randn``) takes an optional ``rng``: a
``np.random.Generator`` or an int seed. Without one it draws from the global generator
that ``manual_seed`` resets, so a whole program is reproduced by one call.
"""

from __future__ import annotations

import numpy as np

_global = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Reset the global generator: the same seed gives the same program output."""
    global _global
    _global = np.random.default_rng(seed)


def get_rng(rng: np.random.Generator | int | None = None) -> np.random.Generator:
    """``rng`` itself, a new generator seeded with it (int), or the global one (None)."""
    if rng is None:
        return _global
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)
