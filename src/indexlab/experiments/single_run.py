"""One learner on one target: fit, measure, summarise (what ``indexlab fit`` prints).

Summary keys, the same for every learner (over replicas, diverged replicas excluded from means;
``None`` where a quantity does not apply: the overlap keys need a single-index target and
learned directions, the subspace keys a learner that estimates a subspace, ``test_mse`` a
predictor; ``note`` says why for the kernel baselines, which learn no directions, and for
``engine="chain"`` runs, which have overlaps but no weights and no second layer):
``overlap_mean``/``overlap_sd`` — best-neuron overlap ``max_j |cos(w_j, θ*)|`` (single-index);
``overlap_neuron_mean`` — neuron-averaged overlap; ``subspace_distance_mean``/``_sd`` —
``‖P_Û − P_U‖_F/√(2r)``; ``principal_cosines_mean`` — mean ``cos θ_i``;
``test_mse_mean``/``test_mse_sd`` — normalised test error ``E(f̂ − y)²/Var y`` on the
target's fixed test set (``null`` without a predictor);
``samples`` — samples drawn per replica (both stages); ``seconds`` — wall time of ``fit``;
``diverged`` — per-replica flags; ``diverged_count``.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from indexlab.experiments.provenance import provenance
from indexlab.learners import Learner
from indexlab.metrics import (
    max_overlap,
    mean_overlap,
    prediction_mse,
    principal_angles,
    subspace_distance,
)
from indexlab.targets import MultiIndex, SingleIndex, Target


def _stats(values: torch.Tensor, keep: torch.Tensor) -> tuple[float | None, float | None]:
    v = values[keep & torch.isfinite(values)].to(torch.float64)
    if v.numel() == 0:
        return None, None
    sd = float(v.std()) if v.numel() > 1 else 0.0
    return float(v.mean()), sd


def make_target(link: str, d: int, *, r: int | None = None, sparsity: int | None = None,
                noise: float = 0.0, replicas: int = 8, seed: int = 0, device: str = "cpu",
                dtype: torch.dtype = torch.float32) -> Target:
    """A single-index target for ``r`` in (None, 1) with a one-direction link, else multi-index."""
    from indexlab.links import get_link

    resolved = get_link(link, noise=noise)
    common = dict(replicas=replicas, seed=seed, device=device, dtype=dtype)
    if resolved.r == 1 and (r is None or r == 1):
        return SingleIndex(resolved, d, sparsity=sparsity, **common)
    return MultiIndex(resolved, d, r=r, sparsity=sparsity, **common)


def _replicated(V: torch.Tensor, replicas: int) -> torch.Tensor:
    """``V`` with its replica axis: ``(R, k, d)`` (baselines drop it when ``R = 1``)."""
    return V[None] if V.ndim == 2 and replicas == 1 else V


def estimated_subspace(learner: Learner, replicas: int) -> torch.Tensor | None:
    """The learner's subspace estimate ``(R, k, d)`` (its ``subspace_``), for learners that
    estimate a subspace (``learner.estimates_subspace``), else ``None``."""
    if not learner.estimates_subspace:
        return None
    return _replicated(learner.subspace_, replicas)


def has_predictor(learner: Learner) -> bool:
    """Whether the fitted ``learner`` can predict (its ``predicts`` flag)."""
    return bool(learner.predicts)


def replica_metrics(target: Target, learner, n_test: int = 10_000) -> dict[str, torch.Tensor]:
    """Per-replica metrics of a fitted ``learner``, each a CPU tensor of shape ``(R,)``.

    ``overlap`` (best direction, ``max_j |cos(w_j, θ*)|``) and ``overlap_neuron`` (average
    over directions) for single-index targets and learners with directions;
    ``subspace_distance`` (``‖P_Û − P_U‖_F/√(2r)``) for learners that estimate a subspace;
    ``test_mse`` (``E(f̂ − y)²/Var y`` on ``n_test`` fresh test samples) when the learner has
    a predictor and ``n_test > 0``; ``diverged`` (bool).
    """
    R = target.replicas
    out = {"diverged": learner.diverged_.cpu().reshape(R)}
    if target.r == 1 and learner.learns_directions:
        W = _replicated(learner.directions_, R)
        theta = target.directions[:, 0].to(W.device, W.dtype)
        out["overlap"] = max_overlap(W, theta).cpu()
        out["overlap_neuron"] = mean_overlap(W, theta).cpu()
    chain_overlaps = getattr(learner, "neuron_overlaps_", None)
    if target.r == 1 and not learner.learns_directions and chain_overlaps is not None:
        # engine="chain": the overlaps ⟨w_j, θ*⟩ come from the chain's state
        ov = chain_overlaps.abs().reshape(R, -1)
        out["overlap"] = ov.max(dim=1).values
        out["overlap_neuron"] = ov.mean(dim=1)
    subspace = estimated_subspace(learner, R)
    if subspace is not None:
        U = target.directions.to(subspace)
        out["subspace_distance"] = subspace_distance(subspace, U).cpu()
    if has_predictor(learner) and n_test > 0:
        out["test_mse"] = prediction_mse(learner.predict, target, n_test).cpu().reshape(R)
    elif n_test > 0 and callable(getattr(learner, "test_error", None)):
        # a learner without predict(X) that scores itself on the target's law (a reduced
        # engine, docs/conditional.md): its own test_error
        out["test_mse"] = learner.test_error(target, n_test).cpu().reshape(R)
    return out


def fit_and_summarise(target: Target, learner, n: int | None, n_test: int = 10_000,
                      **fit_kwargs: Any) -> dict[str, Any]:
    """Fit ``learner`` on ``target`` with budget ``n`` and return the summary dict."""
    start = time.perf_counter()
    learner.fit(target, n=n, **fit_kwargs)
    seconds = time.perf_counter() - start
    metrics = replica_metrics(target, learner, n_test)
    diverged = metrics["diverged"]
    keep = ~diverged
    out: dict[str, Any] = {"learner": type(learner).__name__, "link": target.link.name,
                           "d": target.d, "r": target.r, "n": n, "replicas": target.replicas}
    # every learner reports the same keys; a quantity it cannot have is None, and "note" says
    # why (the kernel baselines learn no directions)
    out["overlap_mean"] = out["overlap_sd"] = out["overlap_neuron_mean"] = None
    out["subspace_distance_mean"] = out["subspace_distance_sd"] = None
    out["principal_cosines_mean"] = None
    out["note"] = None
    if "overlap" in metrics:
        out["overlap_mean"], out["overlap_sd"] = _stats(metrics["overlap"], keep)
        out["overlap_neuron_mean"], _ = _stats(metrics["overlap_neuron"], keep)
    subspace = estimated_subspace(learner, target.replicas)
    if subspace is not None:
        U = target.directions.to(subspace)
        out["subspace_distance_mean"], out["subspace_distance_sd"] = _stats(
            metrics["subspace_distance"], keep)
        cosines = torch.cos(principal_angles(subspace, U)).cpu()  # (R, min(k, r))
        out["principal_cosines_mean"] = [_stats(cosines[:, i], keep)[0]
                                         for i in range(cosines.shape[1])]
    if learner.fit_note() is not None:
        out["note"] = learner.fit_note()
    elif not learner.learns_directions and subspace is None:
        out["note"] = (f"{type(learner).__name__} learns no features: directions are undefined,"
                       " so it reports test error only")
    mse = metrics.get("test_mse")
    out["test_mse_mean"], out["test_mse_sd"] = _stats(mse, keep) if mse is not None else (None,
                                                                                           None)
    if mse is not None and bool(torch.isnan(mse[keep]).any()):
        undefined = ("the normalised test MSE E(f̂ − y)²/Var y is undefined (null) for "
                     f"{int(torch.isnan(mse[keep]).sum())} replica(s): their test labels have "
                     "zero variance (a constant target)")
        out["note"] = undefined if out["note"] is None else f"{out['note']}; {undefined}"
    out["samples"] = int(learner.samples_)
    out["samples_ridge"] = int(getattr(learner, "ridge_samples_", 0) or 0)  # in "samples"
    out["seconds"] = seconds
    out["diverged"] = [bool(v) for v in diverged]
    out["diverged_count"] = int(diverged.sum())
    out.update(provenance(target, learner))  # version, seed, device, ..., hyperparameters
    return out
