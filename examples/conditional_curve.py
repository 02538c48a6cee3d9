"""Layer-wise GD at ``n = 16 d ln d`` from ``d = 32`` to ``16 384``: the figure of
docs/conditional.md, section 10.

For each link (``he2+he4``, ``z1*z2``, ``he3*z2``) and ``d``, ``R`` replicas of
``LayerwiseGD(width, t1)`` (defaults otherwise: ``η1β1 = 1``, ``η1 = m/‖Σ̂‖``) report the
subspace distance of stage 1 and the normalised test error of the fitted network:
``engine="conditional"`` (exact Gaussian conditioning, docs/conditional.md) at every ``d``
where the explored dimension fits (``d − r ≥ m/2 + m T1``), and ``engine="full"`` at
``d <= --full-max``. Each replica is its own fit (target seed and learner seed ``s``), so
memory stays that of one replica. Bands: the mean over replicas and its 95% confidence
interval (Student t, ``R − 1`` degrees of freedom). Run it niced and single-threaded:

    OMP_NUM_THREADS=1 nice -n 10 python examples/conditional_curve.py --out docs/conditional
    python examples/conditional_curve.py --replot docs/conditional.json --out docs/conditional
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

LINKS = ("he2+he4", "z1*z2", "he3*z2")
DS = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)


def fit_one(link: str, d: int, engine: str, seed: int, width: int, t1: int,
            n_test: int) -> dict:
    """One replica: subspace distance, test error and seconds of one fit."""
    import torch

    from indexlab.experiments.single_run import make_target
    from indexlab.learners import make_learner

    torch.set_num_threads(1)
    target = make_target(link, d, replicas=1, seed=seed)
    learner = make_learner("layerwise", width=width, t1=t1, engine=engine, seed=seed)
    start = time.perf_counter()
    learner.fit(target, n=int(16 * d * math.log(d)))
    error = float(learner.test_error(target, n_test).reshape(-1)[0])
    seconds = time.perf_counter() - start
    distance = float(torch.as_tensor(learner.trace_["subspace_distance"][-1]).reshape(-1)[0])
    return {"distance": distance, "test_error": error, "seconds": seconds,
            "diverged": bool(learner.diverged_.reshape(-1)[0])}


def interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and its 95% Student-t interval over replicas."""
    from scipy.stats import t as student

    k = len(values)
    mean = sum(values) / k
    if k < 2:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (k - 1))
    half = student.ppf(0.975, k - 1) * sd / math.sqrt(k)
    return mean, mean - half, mean + half


def plot(results: dict, path: Path) -> None:
    """Two panels (subspace distance, test error) against ``d``: the conditional engine as a
    line with its 95% band, the full engine as markers with 95% error bars."""
    from indexlab.experiments.style import OKABE_ITO, pyplot

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.8), layout="constrained")
    for i, link in enumerate(results["links"]):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        for ax, key in zip(axes, ("distance", "test_error"), strict=True):
            for engine in ("conditional", "full"):
                rows = [row for row in results["points"]
                        if row["link"] == link and row["engine"] == engine]
                if not rows:
                    continue
                x = [row["d"] for row in rows]
                mean = [row[key]["mean"] for row in rows]
                lo = [row[key]["lo"] for row in rows]
                hi = [row[key]["hi"] for row in rows]
                if engine == "conditional":
                    ax.plot(x, mean, "-o", ms=3, color=colour, label=f"{link}, conditional")
                    ax.fill_between(x, lo, hi, color=colour, alpha=0.2, lw=0)
                else:
                    err = [[m - a for m, a in zip(mean, lo, strict=True)],
                           [b - m for m, b in zip(mean, hi, strict=True)]]
                    ax.errorbar(x, mean, yerr=err, fmt="s", ms=5, mfc="white", capsize=2,
                                color=colour, label=f"{link}, full")
    for ax, label in zip(axes, ("subspace distance after stage 1",
                                "normalised test error"), strict=True):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("dimension d  (n = 16 d ln d samples per replica)")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3, which="both")
    h = results["hyper"]
    axes[0].set_title(f"layer-wise GD, width {h['width']}, T1 = {h['t1']}; "
                      f"mean, 95% CI of {h['replicas']} replicas", fontsize=8, loc="left")
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="prefix of .json and .png")
    parser.add_argument("--replot", type=Path, help="redraw the figure from this JSON only")
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--t1", type=int, default=4)
    parser.add_argument("--full-max", type=int, default=512, help="largest d of engine=full")
    parser.add_argument("--max-d", type=int, default=16384)
    parser.add_argument("--n-test", type=int, default=10_000)
    args = parser.parse_args()
    if args.replot is not None:
        plot(json.loads(args.replot.read_text()), args.out.with_suffix(".png"))
        return
    explored = args.width // 2 + args.width * args.t1
    results = {"links": list(LINKS), "points": [],
               "hyper": {"width": args.width, "t1": args.t1, "replicas": args.replicas,
                         "n": "16 d ln d", "n_test": args.n_test}}
    start = time.perf_counter()
    for link in LINKS:
        for d in (d for d in DS if d <= args.max_d):
            engines = [e for e, ok in (("full", d <= args.full_max),
                                       ("conditional", d - 2 >= explored)) if ok]
            for engine in engines:
                runs = [fit_one(link, d, engine, s, args.width, args.t1, args.n_test)
                        for s in range(args.replicas)]
                row = {"link": link, "d": d, "engine": engine,
                       "seconds": sum(r["seconds"] for r in runs),
                       "diverged": sum(r["diverged"] for r in runs)}
                for key in ("distance", "test_error"):
                    values = [r[key] for r in runs if not r["diverged"]]
                    mean, lo, hi = interval(values)
                    row[key] = {"mean": mean, "lo": lo, "hi": hi, "values": values}
                results["points"].append(row)
                print(f"{link:8s} d={d:6d} {engine:11s} distance {row['distance']['mean']:.3f} "
                      f"[{row['distance']['lo']:.3f}, {row['distance']['hi']:.3f}]  test "
                      f"{row['test_error']['mean']:.3f} [{row['test_error']['lo']:.3f}, "
                      f"{row['test_error']['hi']:.3f}]  {row['seconds']:.1f} s", flush=True)
                results["seconds"] = time.perf_counter() - start
                args.out.with_suffix(".json").write_text(json.dumps(results, indent=1))
    plot(results, args.out.with_suffix(".png"))
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
