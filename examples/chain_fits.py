"""Exponent fits and the finite-size figure of the chain example sweeps (docs/chain.md).

Reads the stores written by ``indexlab sweep examples/chain_*.toml --db DIR/chain_*.db``,
fits ``log n* = p log d + c`` (median first passage to overlap 0.5, bootstrap 95% intervals,
:mod:`indexlab.experiments.analysis`) over every ``d`` and over ``d >= --large``, and plots
``n*(d)/d^p`` against ``d`` (p the theory exponent), where a flat curve means the asymptotic
regime has been reached.

    python examples/chain_fits.py --dir runs/ --out docs/chain
    python examples/chain_fits.py --replot docs/chain.json --out docs/chain   # figure only
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


def plot(results: dict, path: Path):
    """``n*(d)/d^p`` against ``d`` for every stored sweep of ``results`` (what ``--out``'s
    JSON holds), in the palette of :mod:`indexlab.experiments.style`; returns the Figure."""
    from indexlab.experiments.style import OKABE_ITO, SAMPLES, pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2), layout="constrained")
    lows: list[float] = []
    highs: list[float] = []
    for i, item in enumerate(results.values()):
        p_theory = item["theory"]
        rows = [(d, n, lo, hi) for d, n, lo, hi in zip(item["d"], item["n_star"],
                                                        item["n_star_lo"], item["n_star_hi"],
                                                        strict=True)
                if n is not None and 0 < n < math.inf]
        if not rows:
            continue
        x = [d for d, *_ in rows]
        y = [n / d**p_theory for d, n, _, _ in rows]
        # bootstrap intervals; an unbounded one (censored resamples) is drawn to 3 n*
        err = [[(n - lo) / d**p_theory for d, n, lo, _ in rows],
               [(min(hi, 3 * n) - n) / d**p_theory for d, n, _, hi in rows]]
        lows.append(min(y))
        highs.append(max(y))
        ax.errorbar(x, y, yerr=err, marker="osD^v"[i % 5], ms=4, capsize=2,
                    color=OKABE_ITO[i % len(OKABE_ITO)],
                    label=f"{item['label']} ($p$ = {p_theory:g})")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    if lows:
        ax.set_ylim(min(lows) / 4, max(highs) * 4)
    ax.set_xlabel("dimension d")
    ax.set_ylabel(f"$n^*(d)\\,/\\,d^p$ ({SAMPLES})\nmedian first passage to overlap 0.5")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="folder of the chain_*.db stores")
    parser.add_argument("--replot", type=Path, help="redraw the figure from this JSON only")
    parser.add_argument("--out", type=Path, required=True, help="prefix of .json and .png")
    parser.add_argument("--large", type=int, default=256, help="smallest d of the large-d fit")
    args = parser.parse_args()
    if args.replot is not None:
        plot(json.loads(args.replot.read_text()), args.out.with_suffix(".png"))
        return
    if args.dir is None:
        parser.error("give --dir (the stores) or --replot (a JSON written before)")

    results = {}
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
        line = f"{label}: d = {ds}, n* = {[f'{t.n_star:.3g}' for t in ts]}"
        for key, fit in fits.items():
            if fit is not None:
                line += (f"\n    fit[{key}, d in {fit['ds']}]: p = {fit['p']:.3f} "
                         f"[{fit['lo']:.3f}, {fit['hi']:.3f}] (theory {p_theory:g})")
        print(line + f"\n    run time {seconds:.0f} s")
    plot(results, args.out.with_suffix(".png"))
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
