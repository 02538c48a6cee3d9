"""The hard instances: gradient descent fails on the orthogonal hard family (Goel,
Gollakota, Jin, Karmalkar, Klivans 2020; docs/algorithms.md §8), told twice — as the
claim ``hard-instances`` of ``indexlab reproduce`` (through the sweep engine, sizes per mode in
``hardness.toml`` beside this module) and as the standalone experiment of
``examples/hardness_experiment.py`` (:func:`run`, :func:`plot`, :func:`summary_table`).

Learners: online SGD (spherical, ReLU neurons, square or Huber loss on the raw label — an odd
label transform) and layer-wise GD (stage 1 = power iteration on ``E[ℓ'(t0, y) x xᵀ]``, square or
Huber loss), each followed by its ridge second stage. Metrics per run, averaged over replicas:
normalised test MSE (1 = the trivial predictor), the neurons' alignment with the hidden subspace
``mean_j ‖U w_j‖/‖w_j‖`` (random: ``≈ √(k/d)``) and, for layer-wise GD, the subspace distance of
the top-``k`` singular subspace of ``W``.

Three rows of the story:

* Boolean members ``y = ±1``, ``P(y = 1|x) = (1 + tanh(f(x)))/2``, ``k ∈ {3, 4}``: every
  conditional moment ``E[y ⊗^j x]`` of order ``j < k`` vanishes and no label transform helps
  (binary labels: every ``T`` is affine), so all learners stay at trivial error and random
  alignment;
* controls that are learnable by the same learners: ``k = 1`` for online SGD (a first-order
  method); ``k = 2`` for layer-wise GD, whose stage 1 is second-order by construction
  (``σ'(0) = 0``) and therefore blind to an odd ``k = 1`` member as well;
* real-valued members (docs/algorithms.md §8.4): ``E[f (xxᵀ − I)] = 0`` but
  ``E[f² (x_i² − 1)] ≈ 0.87`` on the support (tanh, ``k = 3``), so layer-wise GD on ``y²`` (an even
  label transform) recovers the support with ``n = O(d)`` samples while the odd transforms fail.
"""

from __future__ import annotations

import math
from typing import Any

import indexlab.experiments.measures as ms
from indexlab.experiments.claims.base import Claim, Context, load_data, sizes
from indexlab.experiments.judge import Check, side

_DATA = load_data("hardness")
LOSSES = ("square", "huber")
PARTS = {"online": "online_sgd", "layerwise": "layerwise"}  # claim part: the learner it runs


def learners(kind: str) -> dict[str, Any]:
    """The learners of the experiment (fresh instances)."""
    from indexlab.learners import LayerwiseGD, OnlineSGD

    if kind == "online":
        return {
            "online_sgd_square": OnlineSGD(loss="square", activation="relu", exponent=1,
                                           width=8, ridge_samples=4000),
            "online_sgd_huber": OnlineSGD(loss="huber", activation="relu", exponent=1,
                                          width=8, ridge_samples=4000),
        }
    if kind == "layerwise":
        return {
            "layerwise_square": LayerwiseGD(loss="square", width=256),
            "layerwise_huber": LayerwiseGD(loss="huber", width=256),
        }
    if kind == "even":
        return {"layerwise_y2": LayerwiseGD(loss="square", preprocess="square", width=256)}
    raise ValueError(f"kind={kind!r} is not allowed: use 'online', 'layerwise' or 'even'")


def measure(target, learner, n: int) -> dict[str, float]:
    """Fit ``learner`` with budget ``n`` and return the experiment's metrics."""
    from indexlab.metrics import neuron_overlaps, prediction_mse, subspace_distance

    learner.fit(target, n=n)
    U = target.directions.to(learner.directions_)
    row = {
        "test_mse": float(prediction_mse(learner.predict, target).mean()),
        "alignment": float(neuron_overlaps(learner.directions_, U).norm(dim=-1).mean()),
        "random_alignment": math.sqrt(target.r / target.d),
        "samples": int(learner.samples_),
    }
    if learner.estimates_subspace:
        row["subspace_distance"] = float(subspace_distance(learner.subspace_, U).mean())
    return row


def run(dims=(16, 24, 32), ks=(3, 4), n_factors=(1, 4, 16), replicas: int = 4,
        seed: int = 0, real_factor: int = 400) -> list[dict[str, Any]]:
    """All rows of the experiment; ``n = factor · d²`` for the Boolean members and controls,
    ``n = real_factor · d`` for the real-valued ``y²`` demonstration."""
    from indexlab.hardness import HardFamily

    rows = []
    for d in dims:
        cases = [("boolean", k, "tanh" if k % 2 else "relu") for k in ks]
        for labels, k, act in [*cases, ("control", 1, "tanh"), ("control", 2, "relu")]:
            kinds = ("online", "layerwise") if labels == "boolean" else (
                ("online",) if k == 1 else ("layerwise",))
            for factor in n_factors:
                n = factor * d * d
                for kind in kinds:
                    for name, learner in learners(kind).items():
                        target = HardFamily(d, k, act, labels="boolean", replicas=replicas,
                                            seed=seed)
                        rows.append({"members": labels, "d": d, "k": k, "activation": act,
                                     "n": n, "learner": name,
                                     **measure(target, learner, n)})
        for kind in ("layerwise", "online", "even"):
            for name, learner in learners(kind).items():
                target = HardFamily(d, 3, "tanh", labels="real", replicas=replicas, seed=seed)
                n = real_factor * d
                rows.append({"members": "real", "d": d, "k": 3, "activation": "tanh", "n": n,
                             "learner": name, **measure(target, learner, n)})
    return rows


def plot(rows: list[dict[str, Any]], path: str):
    """Test MSE against n for every (members, k, learner), one panel per d: colour = learner
    (Okabe–Ito), line style = the member family (Boolean k = 3, k = 4, the learnable control);
    the two legends sit below the panels, never over the data. Returns the (closed) Figure."""
    from matplotlib.lines import Line2D

    from indexlab.experiments.plots import decade_ticks
    from indexlab.experiments.style import OKABE_ITO, SAMPLES, ZERO_COLOUR, pyplot

    plt = pyplot()
    dims = sorted({r["d"] for r in rows})
    shown = [r for r in rows if r["members"] != "real"]
    names = sorted({r["learner"] for r in shown})
    colour = {name: OKABE_ITO[i % len(OKABE_ITO)] for i, name in enumerate(names)}
    # equal results overlap: each learner has its own marker and the earlier ones are drawn
    # wider underneath, so every series stays visible
    marker = {name: "osD^v<>"[i % 7] for i, name in enumerate(names)}
    width = {name: 3.2 - 0.6 * i for i, name in enumerate(names)}
    families = sorted({(r["members"], r["k"]) for r in shown})
    styles = {fam: ls for fam, ls in zip(families, ("-", "--", ":", "-.", (0, (1, 3))),
                                         strict=False)}
    fig, axes = plt.subplots(1, len(dims), figsize=(3.6 * len(dims), 3.7), sharey=True,
                             layout="constrained", squeeze=False)
    for ax, d in zip(axes[0], dims, strict=True):
        groups: dict[tuple, list] = {}
        for r in shown:
            if r["d"] == d:
                groups.setdefault((r["members"], r["k"], r["learner"]), []).append(r)
        for (members, k, learner), items in sorted(groups.items()):
            items.sort(key=lambda r: r["n"])
            ax.plot([r["n"] for r in items], [r["test_mse"] for r in items],
                    ls=styles.get((members, k), "-"), marker=marker[learner], ms=4,
                    lw=max(width[learner], 0.8), color=colour[learner], mfc="none")
        ax.set_xscale("log")
        ns = [r["n"] for r in shown if r["d"] == d]
        if ns:
            ticks = decade_ticks(min(ns), max(ns), most=4)
            ax.set_xticks([t for t, _ in ticks], [label for _, label in ticks])
            ax.minorticks_off()
        ax.set_title(f"d = {d}", fontsize=9)
        ax.set_xlabel(f"{SAMPLES} n")
        ax.axhline(0.95, color=ZERO_COLOUR, lw=0.8, ls=":")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("normalised test MSE (1: trivial)")
    learners_legend = [Line2D([], [], color=colour[n], marker=marker[n], ms=4, mfc="none",
                              label=n) for n in names]
    family_legend = [Line2D([], [], color="black", ls=styles[f],
                            label=f"{f[0]} k = {f[1]}") for f in families]
    fig.legend(handles=learners_legend, loc="outside lower left", ncol=2, fontsize=7,
               title="learner", title_fontsize=7)
    fig.legend(handles=family_legend, loc="outside lower right", ncol=2, fontsize=7,
               title="members", title_fontsize=7)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return fig


def summary_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the rows."""
    head = "| members | d | k | n | learner | test MSE | alignment (random) | distance |\n"
    head += "|---|---|---|---|---|---|---|---|\n"
    lines = [
        f"| {r['members']} | {r['d']} | {r['k']} | {r['n']} | {r['learner']} | "
        f"{r['test_mse']:.3f} | {r['alignment']:.3f} ({r['random_alignment']:.3f}) | "
        f"{r.get('subspace_distance', float('nan')):.3f} |"
        for r in rows
    ]
    return head + "\n".join(lines) + "\n"



# ---------------------------------------------------------------------------------- the claim
def entry_label(learner: str, loss: str) -> str:
    """The label of the claim's entry of ``learner`` trained with ``loss``."""
    return f"{learner} ({loss})"


def _hardness_build(mode: str) -> dict[str, dict[str, Any]]:
    size = sizes("hardness", mode)
    ds, width = size["d"], size["width"]
    base = {"seed": 0, "replicas": size["replicas"], "n_test": size["n_test"],
            "success": _DATA["success"], "budget": {"c": size["c"], "p": 1}}
    online = [{"name": PARTS["online"], "label": entry_label(PARTS["online"], loss),
               "hyper": {"loss": loss, "activation": "relu", "exponent": 1, "width": 8,
                         "ridge_samples": size["ridge_samples"]}}
              for loss in LOSSES]
    layerwise = [{"name": PARTS["layerwise"], "label": entry_label(PARTS["layerwise"], loss),
                  "hyper": {"loss": loss, "width": width}}
                 for loss in LOSSES]
    return {
        "online": {**base, "targets": [{"link": link, "d": ds} for link in
                                       (*_DATA["hard"], _DATA["controls"]["online"])],
                   "learners": online},
        "layerwise": {**base, "targets": [{"link": link, "d": ds} for link in
                                          (*_DATA["hard"], _DATA["controls"]["layerwise"])],
                      "learners": layerwise},
        "rescue": {**base, "targets": [{"link": _DATA["rescue"], "d": ds}],
                   "learners": [{"name": "layerwise", "hyper": {"loss": "square",
                                                                "preprocess": "square",
                                                                "width": width}}]},
    }


def _hardness_evaluate(ctx: Context) -> list[Check]:
    checks = []
    for part, learner in PARTS.items():
        control = _DATA["controls"][part]
        runs = ctx.runs(part)
        for loss in LOSSES:
            name = entry_label(learner, loss)
            for link in _DATA["hard"]:
                run = ms.pick(runs, learner=name, link=link)
                est, lo, hi = ms.mean_ci(ms.values(ctx.store, run, "test_mse"), n_boot=ctx.n_boot)
                where = f" at d={run['d']}, n={run['n']}" if run else ""
                checks.append(side(f"{name} on {link}{where}: test error", est, lo, hi, 0.9,
                                   "above", "≈ 1 (chance; > 0.9)"))
            run = ms.pick(runs, learner=name, link=control)
            est, lo, hi = ms.mean_ci(ms.values(ctx.store, run, "test_mse"), n_boot=ctx.n_boot)
            checks.append(side(f"{name} on control {control}: test error", est, lo, hi,
                               0.9, "below", "< 0.9 (learned)"))
    rescue = _DATA["rescue"]
    run = ms.pick(ctx.runs("rescue"), learner="layerwise", link=rescue)
    est, lo, hi = ms.mean_ci(ms.values(ctx.store, run, "test_mse"), n_boot=ctx.n_boot)
    checks.append(side(f"layerwise on y² (real-valued {rescue}): test error", est, lo, hi, 0.9,
                       "below", "< 0.9 (the y² rescue)"))
    return checks


CLAIMS = [Claim(
    name="hard-instances",
    title="Hard instances: Boolean orthogonal members stay at chance; controls are learned",
    source="Goel–Gollakota–Jin–Karmalkar–Klivans, ICML 2020, Thm 1.1; "
           "docs/algorithms.md §8.3–§8.4",
    measures="normalised test error at the largest n = c·d of online SGD and layer-wise GD "
             "(square, Huber) on Boolean k = 3, 4 members and k = 1, 2 controls; layer-wise "
             "on y² for the real-valued k = 3 member",
    theory="k = 3, 4 Boolean: chance (1); controls and the y² rescue: learned",
    rule="hard CIs above 0.9, control and rescue CIs below 0.9",
    build=_hardness_build, evaluate=_hardness_evaluate)]
