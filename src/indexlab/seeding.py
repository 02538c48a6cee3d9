"""Every seed derivation of indexlab: a replica's random streams depend only on
``(seed, replica, purpose)``, never on how many replicas run beside it.

So replica ``j`` of an ``R = 8`` run is the same problem, with the same data and the same
initialisation, as a run with ``replicas=[j]``. Three derivations, each kept bit for bit:

* :func:`target_seeds` — targets (:mod:`indexlab.targets`, :mod:`indexlab.hardness`): NumPy
  ``SeedSequence(entropy=seed, spawn_key=(replica,))`` spawns three children, whose first
  64-bit words shifted right by one are the 63-bit seeds of the directions, the training
  stream and the test stream.
* :func:`replica_generator` — learners on the full engine: ``SeedSequence(entropy=seed,
  spawn_key=(replica, 1000 + purpose))``, first word ``>> 1``, seeds a CPU
  ``torch.Generator``. The ``1000 +`` offset keeps learner streams apart from the targets'
  spawn keys. Purposes in use: 0 initial neurons and 1 second-stage biases (online engine),
  2–4 layerwise, 10 spectral, 11 random features, 13 SIR/SAVE/PHD.
* :func:`replica_seeds` — the exact overlap chain, which may run 10⁵ replicas and so derives
  all its seeds at once, vectorised: ``x = mix(seed)``, ``x = mix(x ⊕ replica)``, then
  ``x = mix(x ⊕ part)`` for ``part`` in ``(3000, *key)``, with ``mix`` the SplitMix64
  finaliser (:func:`splitmix64`); the seed is the top 32 bits of ``x``. Keys in use: 0 initial
  state, 1 the samples' coordinates, 2 noisy labels, ``(3, chunk)`` the kernel's draws.
"""

from __future__ import annotations

import numpy as np
import torch

_GOLDEN, _MIX1, _MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
CHAIN_DOMAIN = 3000  # first part mixed into every chain seed (keeps them apart from others)
LEARNER_PURPOSE_OFFSET = 1000  # spawn_key (replica, 1000 + purpose) of replica_generator


def target_seeds(seed: int, replica: int) -> tuple[int, int, int]:
    """Independent 63-bit seeds for (directions, training data, test data) of one replica."""
    children = np.random.SeedSequence(entropy=seed, spawn_key=(replica,)).spawn(3)
    return tuple(int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children)


def replica_seed(seed: int, replica: int, purpose: int) -> int:
    """The 63-bit seed of stream ``purpose`` of ``replica`` (see the module docstring)."""
    state = np.random.SeedSequence(entropy=seed,
                                   spawn_key=(replica, LEARNER_PURPOSE_OFFSET + purpose))
    return int(state.generate_state(1, dtype=np.uint64)[0] >> 1)


def replica_generator(seed: int, replica: int, purpose: int) -> torch.Generator:
    """A CPU generator that depends only on ``(seed, replica, purpose)``."""
    return torch.Generator().manual_seed(replica_seed(seed, replica, purpose))


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on ``uint64`` arrays (wrapping arithmetic):
    ``z = x + φ``, ``z = (z ⊕ z≫30)·M₁``, ``z = (z ⊕ z≫27)·M₂``, ``z ⊕ z≫31``."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(_GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(_MIX1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(_MIX2)
        return z ^ (z >> np.uint64(31))


def replica_seeds(seed: int, replicas, *key: int) -> np.ndarray:
    """32-bit seeds ``(R,)`` that depend only on ``(seed, replica, key)`` (vectorised: a chain
    may run 10⁵ replicas), for numba's per-thread generator."""
    x = splitmix64(np.array([seed & (2**64 - 1)], dtype=np.uint64))
    x = splitmix64(x ^ np.asarray(replicas, dtype=np.uint64))
    for part in (CHAIN_DOMAIN, *key):
        x = splitmix64(x ^ np.uint64(part))
    return (x >> np.uint64(32)).astype(np.int64)
