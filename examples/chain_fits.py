"""Exponent fits and the finite-size figure of the chain example sweeps (docs/chain.md).

Reads the stores written by ``indexlab sweep examples/chain_*.toml --db DIR/chain_*.db``,
fits ``log n* = p log d + c`` (median first passage to overlap 0.5, bootstrap 95% intervals,
:mod:`indexlab.experiments.analysis`) over every ``d`` and over ``d >= --large``, and plots
``n*(d)/d^p`` against ``d`` (p the theory exponent), where a flat curve means the asymptotic
regime has been reached.

    python examples/chain_fits.py --dir runs/ --out docs/chain
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from indexlab.experiments.analysis import analyse, scaling_fit
from indexlab.experiments.store import Store

SPECS = {  # store name -> (label, theory exponent)
    "chain_he3_vanilla": ("He3, vanilla SGD", 2.0),
    "chain_he4_smoothed": ("He4, smoothed SGD", 2.0),
    "chain_he3_unified": ("He3, unified", 1.0),
    "chain_genexp3_unified": ("genexp3, unified", 1.5),
    "chain_genexp4_unified": ("genexp4, unified", 2.0),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="prefix of .json and .png")
    parser.add_argument("--large", type=int, default=256, help="smallest d of the large-d fit")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = {}
    lows: list[float] = []
    highs: list[float] = []
    fig, ax = plt.subplots(figsize=(6.5, 4.2), layout="constrained")
    for name, (label, p_theory) in SPECS.items():
        path = args.dir / f"{name}.db"
        if not path.exists():
            continue
        with Store(path, create=False) as store:
            sweeps = store.sweeps()
            if not sweeps:
                continue
            analysis = analyse(store, sweeps[0])
            seconds = sum(r["seconds"] or 0 for r in store.runs())
        ds = [c.d for c in analysis.curves]
        ts = analysis.thresholds
        fits = {}
        for key, keep in (("all", [True] * len(ds)), ("large", [d >= args.large for d in ds])):
            used_d = [d for d, k in zip(ds, keep, strict=True) if k]
            used_t = [t for t, k in zip(ts, keep, strict=True) if k]
            fit = scaling_fit(used_d, used_t) if len(used_d) >= 2 else None
            fits[key] = None if fit is None else {
                "p": fit[0], "lo": fit[2], "hi": fit[3], "ds": fit[5]}
        results[name] = {"label": label, "theory": p_theory, "fits": fits, "seconds": seconds,
                         "d": ds, "n_star": [t.n_star for t in ts],
                         "n_star_lo": [t.lo for t in ts], "n_star_hi": [t.hi for t in ts]}
        finite = [(d, t) for d, t in zip(ds, ts, strict=True) if 0 < t.n_star < math.inf]
        if finite:
            x = [d for d, _ in finite]
            y = [t.n_star / d**p_theory for d, t in finite]
            # bootstrap intervals; an unbounded one (censored resamples) is drawn to 3 n*
            err = [[(t.n_star - t.lo) / d**p_theory for d, t in finite],
                   [(min(t.hi, 3 * t.n_star) - t.n_star) / d**p_theory for d, t in finite]]
            lows.append(min(y))
            highs.append(max(y))
            ax.errorbar(x, y, yerr=err, marker="o", ms=3, capsize=2,
                        label=f"{label} (p = {p_theory:g})")
        line = f"{label}: d = {ds}, n* = {[f'{t.n_star:.3g}' for t in ts]}"
        for key, fit in fits.items():
            if fit is not None:
                line += (f"\n    fit[{key}, d in {fit['ds']}]: p = {fit['p']:.3f} "
                         f"[{fit['lo']:.3f}, {fit['hi']:.3f}] (theory {p_theory:g})")
        print(line + f"\n    run time {seconds:.0f} s")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    if lows:
        ax.set_ylim(min(lows) / 4, max(highs) * 4)
    ax.set_xlabel("d")
    ax.set_ylabel("n*(d) / d^p   (median first passage to overlap 0.5)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.savefig(args.out.with_suffix(".png"), dpi=150)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
