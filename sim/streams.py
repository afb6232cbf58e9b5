"""Named random streams for one replication (MODEL.md 7).

A replication's seed (an int or a ``numpy.random.SeedSequence``) gives one
independent generator per name, so each part of the model draws from its own
stream and adding a draw in one part never shifts another. No global state.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["Streams", "as_seed_sequence"]


def as_seed_sequence(seed) -> np.random.SeedSequence:
    """Turn an int, a SeedSequence or None into a SeedSequence."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'"seed" must be a non-negative integer, got {seed!r}')
    return np.random.SeedSequence(int(seed))


class Streams:
    """Generators by name, derived from one replication seed."""

    def __init__(self, seed):
        self._root = as_seed_sequence(seed)

    def __call__(self, name: str) -> np.random.Generator:
        """A fresh generator for ``name``; the same name always gives the same stream."""
        key = zlib.crc32(name.encode("utf-8"))
        ss = np.random.SeedSequence(self._root.entropy, spawn_key=(*self._root.spawn_key, key))
        return np.random.default_rng(ss)
