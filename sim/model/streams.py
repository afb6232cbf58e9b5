"""Named random streams for one replication (``docs/model.md``, Randomness).

A replication's seed (see :mod:`sim.seeds`) gives one independent generator per name,
so each part of the model draws from its own stream and adding a draw in one part
never shifts another. No global state.
"""

from __future__ import annotations

import zlib

import numpy as np

from sim.seeds import as_seed_sequence, child

__all__ = ["Streams"]


class Streams:
    """Generators by name, derived from one replication seed."""

    def __init__(self, seed):
        self._root = as_seed_sequence(seed)

    def __call__(self, name: str) -> np.random.Generator:
        """A fresh generator for ``name``; the same name always gives the same stream."""
        return np.random.default_rng(child(self._root, zlib.crc32(name.encode("utf-8"))))
