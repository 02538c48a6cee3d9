"""Verdicts of a reproduction: does the measurement *separate* a claim from its alternative?

A measured quantity comes as an estimate with a 95% confidence interval ``[lo, hi]``. A claim
is never judged on the estimate alone:

* :func:`separate` — the claim predicts a value ``θ`` and a competing theory predicts ``θ'``
  (e.g. an exponent 1 against 2). **pass** iff ``lo ≤ θ ≤ hi`` and no alternative lies in
  ``[lo, hi]``; **fail** iff ``θ ∉ [lo, hi]`` (the data contradict the claim);
  **inconclusive** iff the interval holds ``θ`` *and* an alternative (too wide to separate)
  or is not finite;
* :func:`side` — the claim says the quantity lies above (or below) a bound ``b``. **pass** iff
  the whole interval is on the claimed side, **fail** iff the whole interval is on the other
  side, **inconclusive** iff it straddles ``b``;
* :func:`at_most` — an upper-bound claim (a cost growing *at most* like ``d^θ``) against a faster
  alternative ``θ' > θ``: **pass** iff ``lo ≤ θ`` and ``hi < θ'``, **fail** iff ``lo > θ``
  (surely faster than claimed), else **inconclusive**;
* :func:`within` — the claim says the quantity equals ``θ`` up to a tolerance ``ε`` (an
  equivalence test, two one-sided tests at the interval's level). **pass** iff
  ``[lo, hi] ⊂ [θ − ε, θ + ε]``, **fail** iff the two intervals are disjoint, else
  **inconclusive**.

:func:`combine` joins the checks of one claim: any fail → fail, else any inconclusive →
inconclusive, else pass (an empty list is inconclusive: nothing was measured). A claim whose
measurement cannot run here (an engine that is not available, a mode it has no spec for) is
:func:`unavailable`: inconclusive with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
VERDICTS = (PASS, FAIL, INCONCLUSIVE)


@dataclass(frozen=True)
class Check:
    """One judged measurement: ``label`` (what), ``estimate`` with its interval ``[lo, hi]``,
    the claimed value or bound ``theory`` (``theory_text`` says it in words), the verdict and
    the reason for it."""

    label: str
    estimate: float
    lo: float
    hi: float
    theory: float | None
    theory_text: str
    verdict: str
    reason: str

    def text(self, digits: int = 3) -> str:
        """``label est [lo, hi]``, e.g. ``unified p̂ 1.07 [0.78, 1.27]``."""
        return f"{self.label} {_fmt(self.estimate, digits)} {interval(self.lo, self.hi, digits)}"

    def as_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in asdict(self).items()}


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:.{digits}g}"


def interval(lo: float, hi: float, digits: int = 3) -> str:
    """``[lo, hi]`` with ``digits`` significant digits (``—`` for NaN, ``∞`` for infinities)."""
    return f"[{_fmt(lo, digits)}, {_fmt(hi, digits)}]"


def _finite(*values: float) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def separate(label: str, estimate: float, lo: float, hi: float, theory: float,
             alternatives: Sequence[float], theory_text: str | None = None,
             polylog: float = 0.0) -> Check:
    """Pass iff the interval holds ``theory`` and none of the ``alternatives`` (module
    docstring); alternatives equal to ``theory`` are ignored.

    ``polylog > 0``: the claim is ``n ≍ d^p`` up to a polylogarithmic factor (a theorem's
    ``Õ``), and a factor ``log d`` raises the slope fitted over ``[d₁, d₂]`` by
    ``(ln ln d₂ − ln ln d₁)/(ln d₂ − ln d₁)`` (:func:`log_slope`); ``polylog`` is that raise,
    and the interval must meet ``[theory, theory + polylog]`` instead of holding ``theory``."""
    alts = sorted({a for a in alternatives if a != theory})
    own = f"{theory:g}" + (f"·polylog (≤ {theory + polylog:.3g})" if polylog > 0 else "")
    text = theory_text or (own + (f" (not {', '.join(f'{a:g}' for a in alts)})"
                                  if alts else ""))
    if not _finite(estimate, lo, hi):
        return Check(label, estimate, lo, hi, theory, text, INCONCLUSIVE,
                     "no finite interval (too few thresholds inside the budget)")
    if not (lo <= theory + polylog and hi >= theory):
        return Check(label, estimate, lo, hi, theory, text, FAIL,
                     f"the interval excludes the claimed {own}")
    inside = [a for a in alts if lo <= a <= hi]
    if inside:
        return Check(label, estimate, lo, hi, theory, text, INCONCLUSIVE,
                     f"the interval holds {own} and the alternative "
                     f"{', '.join(f'{a:g}' for a in inside)}: too wide to separate")
    reason = f"holds {own}" + (f", excludes {', '.join(f'{a:g}' for a in alts)}"
                               if alts else "")
    return Check(label, estimate, lo, hi, theory, text, PASS, reason)


def log_slope(d_min: float, d_max: float) -> float:
    """The slope in ``log d`` that a factor ``log d`` adds to a power-law fit over
    ``[d_min, d_max]``: ``(ln ln d_max − ln ln d_min)/(ln d_max − ln d_min)`` (e.g. 0.19 over
    16–8192)."""
    if not 1 < d_min < d_max:
        raise ValueError(f"log_slope needs 1 < d_min < d_max; got d_min={d_min!r}, "
                         f"d_max={d_max!r}")
    return (math.log(math.log(d_max)) - math.log(math.log(d_min))) / (
        math.log(d_max) - math.log(d_min))


def side(label: str, estimate: float, lo: float, hi: float, bound: float, claimed: str,
         theory_text: str | None = None) -> Check:
    """Pass iff the whole interval is ``claimed`` (``"above"`` or ``"below"``) ``bound``, fail
    iff the whole interval is on the other side, inconclusive if it straddles ``bound``."""
    if claimed not in ("above", "below"):
        raise ValueError(f"claimed={claimed!r} is not allowed: use 'above' or 'below'")
    text = theory_text or f"{'>' if claimed == 'above' else '<'} {bound:g}"
    if math.isnan(lo) or math.isnan(hi) or math.isnan(estimate):
        return Check(label, estimate, lo, hi, bound, text, INCONCLUSIVE, "nothing measured")
    above, below = lo > bound, hi < bound
    ok, bad = (above, below) if claimed == "above" else (below, above)
    if ok:
        return Check(label, estimate, lo, hi, bound, text, PASS,
                     f"the whole interval is {claimed} {bound:g}")
    if bad:
        other = "below" if claimed == "above" else "above"
        return Check(label, estimate, lo, hi, bound, text, FAIL,
                     f"the whole interval is {other} {bound:g}")
    return Check(label, estimate, lo, hi, bound, text, INCONCLUSIVE,
                 f"the interval straddles {bound:g}")


def at_most(label: str, estimate: float, lo: float, hi: float, theory: float,
            alternative: float, theory_text: str | None = None) -> Check:
    """Upper-bound claim ``≤ theory`` against ``alternative > theory`` (module docstring)."""
    text = theory_text or f"≤ {theory:g} (not {alternative:g})"
    if not _finite(estimate, lo, hi):
        return Check(label, estimate, lo, hi, theory, text, INCONCLUSIVE, "nothing measured")
    if lo > theory:
        return Check(label, estimate, lo, hi, theory, text, FAIL,
                     f"the whole interval is above the claimed {theory:g}")
    if hi < alternative:
        return Check(label, estimate, lo, hi, theory, text, PASS,
                     f"consistent with ≤ {theory:g}, excludes {alternative:g}")
    return Check(label, estimate, lo, hi, theory, text, INCONCLUSIVE,
                 f"the interval reaches the alternative {alternative:g}")


def within(label: str, estimate: float, lo: float, hi: float, theory: float, tolerance: float,
           theory_text: str | None = None) -> Check:
    """Equivalence: pass iff ``[lo, hi] ⊂ [theory − tolerance, theory + tolerance]``, fail iff
    the two are disjoint, inconclusive otherwise."""
    text = theory_text or f"{theory:.3g} ± {tolerance:g}"
    if not _finite(estimate, lo, hi):
        return Check(label, estimate, lo, hi, theory, text, INCONCLUSIVE, "nothing measured")
    a, b = theory - tolerance, theory + tolerance
    if a <= lo and hi <= b:
        return Check(label, estimate, lo, hi, theory, text, PASS,
                     f"the interval lies within {tolerance:g} of {theory:.3g}")
    if hi < a or lo > b:
        return Check(label, estimate, lo, hi, theory, text, FAIL,
                     f"the interval lies more than {tolerance:g} from {theory:.3g}")
    return Check(label, estimate, lo, hi, theory, text, INCONCLUSIVE,
                 f"the interval reaches beyond {theory:.3g} ± {tolerance:g}")


def combine(verdicts: Iterable[str]) -> str:
    """One verdict from several: any fail → fail; any inconclusive (or none at all) →
    inconclusive; else pass."""
    verdicts = list(verdicts)
    for v in verdicts:
        if v not in VERDICTS:
            raise ValueError(f"verdict={v!r} is not allowed: use one of {', '.join(VERDICTS)}")
    if FAIL in verdicts:
        return FAIL
    if not verdicts or INCONCLUSIVE in verdicts:
        return INCONCLUSIVE
    return PASS


def unavailable(label: str, reason: str) -> Check:
    """A check that could not be measured here: inconclusive, with the reason."""
    return Check(label, math.nan, math.nan, math.nan, None, "—", INCONCLUSIVE, reason)
