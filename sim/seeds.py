"""Seeds: what a ``seed`` argument may be, everywhere in the library.

A seed is a non-negative int, a :class:`numpy.random.SeedSequence` or a
:class:`numpy.random.Generator`. An int or a SeedSequence gives the same numbers every
time. A Generator is consumed as numpy's own functions consume one: four integers are
drawn from it to make the seed, so the same generator state gives the same numbers,
and using the generator again gives new ones. No global random state is read.
"""

from __future__ import annotations

import numpy as np

from sim.errors import FunnelError

__all__ = ["SeedError", "as_seed_sequence", "child", "keyed"]


class SeedError(FunnelError):
    """A seed that is not an int, a SeedSequence or a Generator."""


def as_seed_sequence(seed, parameter: str = "seed") -> np.random.SeedSequence:
    """Turn a seed (an int, a SeedSequence or a Generator) into a SeedSequence.

    Raises:
        SeedError: for anything else (a negative int, a float, a bool, None).
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(seed.integers(0, 2**63, size=4, dtype=np.uint64).tolist())
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SeedError(parameter, f"expected a non-negative integer, a SeedSequence or a Generator, got {seed!r}")
    return np.random.SeedSequence(int(seed))


def child(root: np.random.SeedSequence, *key: int) -> np.random.SeedSequence:
    """The child of ``root`` at ``key``: what ``root.spawn`` would give, without changing ``root``."""
    return np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, *key), pool_size=root.pool_size)


def keyed(seed, key: int) -> np.random.SeedSequence:
    """A stream for one purpose (``key``) derived from ``seed``, apart from the replications' own streams.

    For an int seed ``S`` (or ``SeedSequence(S)``) it is ``SeedSequence([key, S])``.
    """
    root = as_seed_sequence(seed)
    if not root.spawn_key and isinstance(root.entropy, int):
        return np.random.SeedSequence([key, root.entropy])
    return child(root, key)
