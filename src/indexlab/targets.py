"""Gaussian single- and multi-index targets ``y ~ P(· | z)``, ``z = U x``, ``x ~ N(0, I_d)``.

A :class:`Target` holds a link, the hidden directions ``U`` (orthonormal rows, shape
``(R, r, d)`` with a leading replica axis) and one random stream per replica. Replica ``j``
draws its directions and its data from seeds derived from ``(seed, j)`` only (NumPy
``SeedSequence`` with spawn key ``j``, :func:`indexlab.seeding.target_seeds`), so replica ``j``
of an ``R = 8`` target is the same problem, with the same data, as a target built with
``replicas=[j]``.

Directions: Haar-uniform on the Stiefel manifold (QR of a Gaussian ``d × r`` matrix with the
sign convention ``diag(R) > 0``, which makes the law exactly Haar); ``k``-sparse single-index
directions have ``k`` non-zero coordinates ``±1/√k`` on a uniformly random support (the
"flat" choice of docs/algorithms.md §1.1); ``k``-sparse multi-index directions are Haar on a random
``k``-coordinate subspace. Directions are always drawn on the CPU in float64, so they do not
depend on the device.

Sampling: ``X`` is drawn in the target's dtype (float32 by default) on its device, ``z = X Uᵀ``
and ``y = link(z)``; :meth:`Target.stream` yields chunks so that ``n·d`` never has to fit in
memory.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from indexlab.devices import check_device
from indexlab.links import Link, _check_noise, check_finite, get_link
from indexlab.seeding import target_seeds

_CHUNK_ELEMENTS = 1 << 24  # default chunk: 16M numbers (64 MB in float32) over all replicas


def _check_int(name: str, value, low: int, high: int | None = None, what: str = "") -> int:
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if ok and value >= low and (high is None or value <= high):
        return int(value)
    allowed = f"an integer >= {low}" if high is None else f"an integer in {low}..{high}"
    raise ValueError(f"{name}={value!r} is not allowed: use {allowed}{what}")


def haar_directions(d: int, r: int, generator: torch.Generator) -> torch.Tensor:
    """``U ∈ R^{r×d}`` with orthonormal rows, Haar-distributed (float64, CPU)."""
    g = torch.randn(d, r, generator=generator, dtype=torch.float64)
    q, rr = torch.linalg.qr(g)
    signs = torch.sign(torch.diagonal(rr))
    signs[signs == 0] = 1.0
    return (q * signs).T.contiguous()


def sparse_directions(d: int, r: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """``r × d`` orthonormal rows supported on ``k`` random coordinates.

    ``r = 1``: entries ``±1/√k`` (flat); ``r > 1``: Haar on the support.
    """
    support = torch.randperm(d, generator=generator)[:k]
    U = torch.zeros(r, d, dtype=torch.float64)
    if r == 1:
        signs = torch.randint(0, 2, (k,), generator=generator).to(torch.float64) * 2 - 1
        U[0, support] = signs / math.sqrt(k)
    else:
        U[:, support] = haar_directions(k, r, generator)
    return U


@dataclass
class Target:
    """A single- or multi-index target with ``R`` independent replicas (see module docstring).

    Build it with :func:`SingleIndex` or :func:`MultiIndex`. ``directions`` has shape
    ``(R, r, d)``. When built without ``replicas`` the replica axis is hidden: ``sample``
    returns ``X (n, d)``, ``y (n,)`` and ``directions_view`` is ``(r, d)``.
    """

    link: Link
    d: int
    directions: torch.Tensor
    replica_ids: tuple[int, ...]
    seed: int
    sparsity: int | None
    squeeze: bool
    dtype: torch.dtype
    device: torch.device
    _train: list[torch.Generator] = field(default_factory=list, repr=False)
    _test_seeds: list[int] = field(default_factory=list, repr=False)

    @property
    def r(self) -> int:
        return self.link.r

    @property
    def replicas(self) -> int:
        return len(self.replica_ids)

    @property
    def directions_view(self) -> torch.Tensor:
        """``directions`` without the replica axis when the target has none."""
        return self.directions[0] if self.squeeze else self.directions

    def reset(self) -> Target:
        """Restart every replica's training stream from its seed (returns ``self``)."""
        self._train = []
        for j in self.replica_ids:
            g = torch.Generator(device=self.device)
            g.manual_seed(target_seeds(self.seed, j)[1])
            self._train.append(g)
        self._test_seeds = [target_seeds(self.seed, j)[2] for j in self.replica_ids]
        return self

    def latents(self, X: torch.Tensor) -> torch.Tensor:
        """``z = X Uᵀ``: ``(R, n, r)`` for ``X`` of shape ``(R, n, d)`` (or unbatched)."""
        U = self.directions.to(device=X.device, dtype=X.dtype)
        if X.ndim == 2:
            U = U[0]
        return X @ U.transpose(-1, -2)

    def _draw(self, n: int, generators: Sequence[torch.Generator]):
        """One replica stream per generator; ``X`` is filled in place (no stacking copy)."""
        X = torch.empty(len(generators), n, self.d, device=self.device, dtype=self.dtype)
        for i, g in enumerate(generators):
            torch.randn(n, self.d, generator=g, out=X[i])
        z = self.latents(X)
        if not self.link.is_random:
            return X, self.link(z.reshape(-1, self.r)).reshape(len(generators), n)
        y = torch.stack([self.link(z[i], generator=g) for i, g in enumerate(generators)])
        return X, y

    def _shape(self, X: torch.Tensor, y: torch.Tensor):
        return (X[0], y[0]) if self.squeeze else (X, y)

    def sample(self, n: int, generator: torch.Generator | None = None):
        """Draw ``n`` fresh samples per replica: ``X (R, n, d)``, ``y (R, n)``.

        Without ``generator`` each replica uses its own training stream (successive calls give
        fresh data). With a ``generator`` it is shared by all replicas (data still differ
        between replicas, but replica ``j`` no longer matches a ``replicas=[j]`` target).
        """
        n = _check_int("n", n, 1)
        if generator is None:
            return self._shape(*self._draw(n, self._train))
        X = torch.randn(self.replicas, n, self.d, generator=generator, device=self.device,
                        dtype=self.dtype)
        z = self.latents(X)
        y = self.link(z.reshape(-1, self.r), generator=generator).reshape(self.replicas, n)
        return self._shape(X, y)

    def sample_test(self, n: int):
        """A fixed test set of ``n`` samples per replica (the same at every call).

        Drawn from a stream independent of the training stream, so evaluating test error
        never changes the training data.
        """
        n = _check_int("n", n, 1)
        gens = []
        for s in self._test_seeds:
            g = torch.Generator(device=self.device)
            g.manual_seed(s)
            gens.append(g)
        return self._shape(*self._draw(n, gens))

    def sample_latents(self, n: int, test: bool = False):
        """``n`` fresh latents ``z ~ N(0, I_r)`` and labels per replica, without the
        ``d``-dimensional inputs: ``Z (R, n, r)``, ``y (R, n)`` (the law of
        ``(X Uᵀ, y)`` from :meth:`sample`, not the same numbers). From the training stream,
        or with ``test=True`` from a stream seeded from the fixed test set's seed (not its
        numbers; the same at every call). For engines that never form ``X``
        (docs/conditional.md)."""
        n = _check_int("n", n, 1)
        if test:
            gens = [torch.Generator(device=self.device).manual_seed(s + 1)
                    for s in self._test_seeds]
        else:
            gens = self._train
        Z = torch.empty(len(gens), n, self.r, device=self.device, dtype=self.dtype)
        for i, g in enumerate(gens):
            torch.randn(n, self.r, generator=g, out=Z[i])
        if not self.link.is_random:
            y = self.link(Z.reshape(-1, self.r)).reshape(len(gens), n)
        else:
            y = torch.stack([self.link(Z[i], generator=g) for i, g in enumerate(gens)])
        return Z, y

    def default_chunk(self) -> int:
        return max(1, _CHUNK_ELEMENTS // (self.d * self.replicas))

    def stream(
        self, n: int, chunk: int | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(X, y)`` chunks of at most ``chunk`` samples per replica, ``n`` in total.

        The concatenation of the chunks has the same law as ``sample(n)``; memory is
        ``O(chunk · d · R)``. Default chunk: 16M numbers over all replicas.
        """
        n = _check_int("n", n, 1)
        chunk = self.default_chunk() if chunk is None else _check_int("chunk", chunk, 1)
        done = 0
        while done < n:
            size = min(chunk, n - done)
            yield self.sample(size)
            done += size


def _make_target(link, d, r, sparsity, noise, replicas, seed, directions, dtype, device) -> Target:
    if isinstance(link, Link):  # a caller's own link: probe it (expressions are probed when
        check_finite(link)      # parsed, the registry's are finite by construction)
    link = get_link(link, noise=_check_noise(noise))
    d = _check_int("d", d, 1)
    if r is not None:
        r = _check_int("r", r, 1, d, f" (d={d})")
        if r != link.r:
            raise ValueError(f"r={r} does not match link {link.name!r}, which has r={link.r}")
    if link.r > d:
        raise ValueError(f"r={link.r} is not allowed: the link needs r <= d={d}")
    if sparsity is not None:
        sparsity = _check_int("sparsity", sparsity, link.r, d, f" (r={link.r}, d={d})")
    seed = _check_int("seed", seed, 0)
    if replicas is None:
        ids, squeeze = (0,), True
    elif isinstance(replicas, (int, np.integer)) and not isinstance(replicas, bool):
        ids, squeeze = tuple(range(_check_int("replicas", replicas, 1))), False
    else:
        ids = tuple(_check_int("replicas[i]", j, 0) for j in replicas)
        if not ids:
            raise ValueError("replicas=[] is not allowed: give at least one replica id")
        squeeze = False
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype={dtype!r} is not allowed: use torch.float32 or torch.float64")
    device = check_device(device)
    if directions is None:
        Us = []
        for j in ids:
            g = torch.Generator().manual_seed(target_seeds(seed, j)[0])
            if sparsity is None:
                Us.append(haar_directions(d, link.r, g))
            else:
                Us.append(sparse_directions(d, link.r, sparsity, g))
        U = torch.stack(Us)
    else:
        if sparsity is not None:
            raise ValueError("give either directions or sparsity, not both")
        U = _check_directions(directions, len(ids), link.r, d)
    target = Target(link=link, d=d, directions=U, replica_ids=ids, seed=seed, sparsity=sparsity,
                    squeeze=squeeze, dtype=dtype, device=device)
    return target.reset()


def _check_directions(directions, R: int, r: int, d: int) -> torch.Tensor:
    U = torch.as_tensor(np.asarray(directions.cpu() if isinstance(directions, torch.Tensor)
                                   else directions, dtype=np.float64))
    if U.ndim == 1:
        U = U[None]
    if U.ndim == 2:
        U = U.expand(R, *U.shape).clone()
    if tuple(U.shape) != (R, r, d):
        raise ValueError(
            f"directions of shape {tuple(U.shape)} are not allowed: "
            f"use ({r}, {d}) or ({R}, {r}, {d})"
        )
    gram = U @ U.transpose(-1, -2)
    err = float((gram - torch.eye(r, dtype=torch.float64)).abs().max())
    if not math.isfinite(err) or err > 1e-6:
        raise ValueError(f"directions must have orthonormal rows (max |UUᵀ − I| = {err:.2e})")
    return U


def SingleIndex(
    link: str | Link,
    d: int,
    sparsity: int | None = None,
    noise: float = 0.0,
    *,
    replicas: int | Sequence[int] | None = None,
    seed: int = 0,
    directions=None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> Target:
    """Single-index target ``y ~ P(· | ⟨θ*, x⟩)``, ``θ* ∈ S^{d−1}`` (Haar or ``sparsity``-sparse).

    ``replicas``: ``None`` (no replica axis), an integer ``R`` (replicas ``0..R−1``) or a list of
    replica ids. Raises ``ValueError`` naming the argument for a bad ``link``, ``d``,
    ``sparsity``, ``noise``, ``seed``, ``replicas``, ``dtype`` or ``directions``.
    """
    resolved = get_link(link) if isinstance(link, str) else link
    if isinstance(resolved, Link) and resolved.r != 1:
        raise ValueError(f"link {resolved.name!r} has r={resolved.r}: use MultiIndex for it")
    return _make_target(link, d, 1, sparsity, noise, replicas, seed, directions, dtype, device)


def MultiIndex(
    link: str | Link,
    d: int,
    r: int | None = None,
    noise: float = 0.0,
    sparsity: int | None = None,
    *,
    replicas: int | Sequence[int] | None = None,
    seed: int = 0,
    directions=None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> Target:
    """Multi-index target ``y ~ P(· | U x)``, ``U ∈ R^{r×d}`` Haar (orthonormal rows).

    ``r`` defaults to the link's and must equal it when given. Other arguments as in
    :func:`SingleIndex`.
    """
    return _make_target(link, d, r, sparsity, noise, replicas, seed, directions, dtype, device)
