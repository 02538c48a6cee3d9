"""What one run of a learner costs: its largest simultaneous allocations, its floating-point
work and its Gaussian draws, from the shapes alone (no tensor is allocated).

Each learner class declares its cost as the classmethod ``cost(hyper, d, n, replicas, r)``
(:class:`~indexlab.learners.base.Learner`), built from the pure functions below; the
memory/time guard (:mod:`indexlab.experiments.guards`), ``--dry-run`` and the sweep's ETA read
it there, so an engine that changes the cost (the overlap chain has no ``d``-dimensional
term) changes the estimate with it. Sizes are counted in numbers of the run's dtype, except
where a part says float64; the test set and the target's directions are the guard's (they
belong to the run, not to the learner).

The model, with ``R`` replicas, budget ``n``, dimension ``d``, ``m`` neurons:

* online, full engine: a sample chunk ``R·b·d`` (``b`` the streaming chunk, 16M numbers over
  all replicas by default), the weights ``R·m·d`` (4 copies) and the second stage
  ``R·n_ridge·(d + 2m)``; work ``6 R n m d + 2 R n_ridge (m d + m²)`` (two products per
  sample and neuron, and the ridge features), in ``n/B`` minibatch steps (at small ``d``
  their fixed overhead, not the work, sets the time);
* online, overlap chain (``docs/chain.md``): the state ``R·(m+1)²`` and a chunk of draws
  (``2^16`` numbers per replica); work ``CHAIN_FLOPS_PER_STATE · R n (m+1)²`` (one LQ update of the
  ``(m+1)``-dimensional state per sample, measured ≈ 10⁷ samples/s per core at ``m = 1``);
  draws ``R n (m+1)``: nothing scales with ``d``;
* layer-wise (both stages full batch): the dataset ``R·n·d``, ``Σ̂`` (``R·d²`` for
  ``d ≤ 1024``, else a Lanczos basis), the stage-2 features ``R·(n/2)·m``, the weights;
  work ``4 T_1 R (n/2) m d + R n min(d², 30 d (r + 4))``; with ``engine="conditional"``
  (``docs/conditional.md``) the revealed products ``R·n₁·m(2T_1 + 1/2)`` and no ``n·d`` term;
* spectral / SIR / PHD / SAVE: a chunk and ``(k + 3)`` ``R·d²`` matrices (``k = H`` slices for
  SAVE, 2 for PHD, else 1); work ``2 R n d² (×2 for SAVE, PHD) + 10 R d³``;
* random features: features and chunk ``R·b·(2m + d)``, the Gram ``3 R m² + R m d``; work
  ``2 R n m (d + m) + R m³``; kernel ridge: the training set ``R·n·d``, three ``R·n²`` kernel
  matrices; work ``2 R n² d + R n³/3``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

CHUNK_ELEMENTS = 1 << 24  # the default streaming chunk of targets.py, in numbers
# floating-point work per entry of the chain's (m+1)×(m+1) state and sample: at the nominal
# 2·10¹⁰ flop/s of a CPU this is 10⁷ samples/s per core at m = 1, as bench/chain.py measures
CHAIN_FLOPS_PER_STATE = 500.0
CHAIN_CHUNK_NUMBERS = 1 << 16  # the chain's chunk per replica (learners.chain.CHUNK_NUMBERS)
# steps of best-overlap cosines the full engine buffers before scanning them for first
# passages (learners.online_engine.PassageWatch): R·m numbers per step
PASSAGE_BUFFER_STEPS = 256


@dataclass(frozen=True)
class Cost:
    """The cost of one run: ``parts`` (name → numbers held at once, of the run's dtype unless
    the name says float64), ``flops`` (floating-point work), ``draws`` (Gaussian numbers
    drawn for the training data) and ``steps`` (sequential steps driven from Python, each
    with a fixed overhead of dispatching its kernels: the minibatch steps of the full
    online engine)."""

    parts: dict[str, float] = field(default_factory=dict)
    flops: float = 0.0
    draws: float = 0.0
    steps: float = 0.0

    def part_bytes(self, dtype_bytes: int = 4) -> dict[str, float]:
        """``parts`` in bytes: ``dtype_bytes`` per number, 8 for a part named float64."""
        return {k: v * (8 if "float64" in k else dtype_bytes) for k, v in self.parts.items()}


def number(value: Any, fallback: float) -> float:
    """``value`` when it is a positive finite number (not a bool), else ``fallback``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok and value > 0 else fallback


def with_defaults(cls: type, hyper: dict[str, Any] | None) -> dict[str, Any]:
    """``hyper`` over the dataclass defaults of learner class ``cls``."""
    defaults = {f.name: f.default for f in dataclasses.fields(cls)
                if f.default is not dataclasses.MISSING} if dataclasses.is_dataclass(cls) else {}
    return {**defaults, **(hyper or {})}


def streaming_chunk(h: dict[str, Any], d: float, R: float, n: float, width: float = 0.0) -> float:
    """Samples per replica in one streamed chunk: ``hyper["chunk"]``, else
    ``CHUNK_ELEMENTS/((d + width)·R)``; at most ``n``."""
    return min(n, number(h.get("chunk"), max(1.0, CHUNK_ELEMENTS / ((d + width) * R))))


def online_full_cost(h: dict[str, Any], d: float, n: float, R: float) -> Cost:
    """The full engine of the online spherical learners (module docstring)."""
    m = number(h.get("width"), 64)
    ridge = (float(h.get("ridge_samples") or 0)
             if isinstance(h.get("ridge_samples"), (int, float)) else 1e4)
    b = streaming_chunk(h, d, R, n)
    parts = {"sample chunk R·b·d": 2 * R * b * d,
             "weights R·m·d (4 copies)": 4 * R * m * d,
             "second stage R·n_ridge·(d + m)": R * ridge * (d + 2 * m),
             "passage buffer 256·R·m": PASSAGE_BUFFER_STEPS * R * m}
    flops = 6 * R * n * m * d + 2 * R * ridge * (m * d + m * m)
    return Cost(parts, flops, R * n * d, steps=n / number(h.get("batch"), 32))


def online_chain_cost(h: dict[str, Any], n: float, R: float) -> Cost:
    """The exact overlap chain (module docstring): no term in ``d``."""
    m = number(h.get("width"), 64)
    state = (m + 1) ** 2
    parts = {"chain state R·(m+1)² (float64)": 2 * R * state,
             "draws chunk R·b·(m+1) (float64)": 2 * R * min(n * (m + 2), CHAIN_CHUNK_NUMBERS)}
    return Cost(parts, CHAIN_FLOPS_PER_STATE * R * n * state, R * n * (m + 1))


def layerwise_cost(h: dict[str, Any], d: float, n: float, R: float, r: float) -> Cost:
    """Full-batch layer-wise GD, power iteration, one-step GD (module docstring)."""
    m = number(h.get("width"), 512)
    parts = {"dataset R·n·d (both stages)": R * n * d,
             "Σ̂ R·d²": 2 * R * d * d if d <= 1024 else 8 * R * d * (r + 4),
             "stage-2 features R·n₂·m": 2 * R * (n / 2) * m,
             "weights R·m·d (4 copies)": 4 * R * m * d}
    t1 = number(h.get("t1"), math.ceil(math.sqrt(math.log(max(d, 2.0)))) + 4)
    flops = 4 * t1 * R * (n / 2) * m * d + R * n * min(d * d, 30 * d * (r + 4))
    return Cost(parts, flops, R * n * d)


CONDITIONAL_TEST_SAMPLES = 10_000  # the summary's test set, drawn in the reduced form


def conditional_layerwise_cost(h: dict[str, Any], d: float, n: float, R: float,
                               r: float) -> Cost:
    """Layer-wise GD with ``engine="conditional"`` (docs/conditional.md): after ``T1`` steps
    the revealed products ``A = X⊥V`` (``k = m/2 + m T1`` columns) and the sample-space basis
    ``B`` (``K = m T1``) of the ``n₁`` stage-1 samples, ``R·n₁·m(2T1 + 1/2)`` numbers, the
    latents ``R·n·r``, the stage-2 and test features ``R·(n₂ + n_test)·m``; work
    ``Σ_t 6 R n₁ m (k_t + K_t) ≈ 6 R n₁ m² T1 (T1 + 1)`` (Gram-Schmidt against ``B``, the
    products with ``A``), plus the stage 2 ``4 R (n₂ + n_test) m²``; draws
    ``R n₁ m (T1 + 1) + R n r``. ``d`` enters only through the default ``T1``: no ``n·d``
    term."""
    m = number(h.get("width"), 512)
    t1 = number(h.get("t1"), math.ceil(math.sqrt(math.log(max(d, 2.0)))) + 4)
    n1 = number(h.get("n1_fraction"), 0.5) * n
    n2 = n - n1
    nt = CONDITIONAL_TEST_SAMPLES
    parts = {"revealed products R·n₁·m(2T1 + 1/2)": 2 * R * n1 * m * (2 * t1 + 0.5),
             "latents R·n·r": R * n * r,
             "stage-2 and test features R·(n₂ + n_test)·m": 2 * R * (n2 + nt) * m}
    flops = 6 * R * n1 * m * m * t1 * (t1 + 1) + 4 * R * (n2 + nt) * m * m
    return Cost(parts, flops, R * n1 * m * (t1 + 1) + R * n * r)


def moment_cost(d: float, n: float, R: float, matrices: float, passes: float,
                h: dict[str, Any]) -> Cost:
    """Moment-matrix baselines: ``matrices + 3`` ``R·d²`` matrices and a chunk; work
    ``2 R n d² · passes + 10 R d³`` (an eigendecomposition per replica)."""
    b = streaming_chunk(h, d, R, n)
    parts = {"sample chunk R·b·d": 2 * R * b * d, "d×d matrices": (matrices + 3) * R * d * d}
    return Cost(parts, 2 * R * n * d * d * passes + 10 * R * d**3, R * n * d)


def random_features_cost(h: dict[str, Any], d: float, n: float, R: float) -> Cost:
    """Random features ridge (module docstring)."""
    m = number(h.get("m"), 1024)
    b = streaming_chunk(h, d, R, n, m)
    parts = {"features R·b·m and chunk R·b·d": R * b * (2 * m + d),
             "Gram R·m² (3 copies)": 3 * R * m * m + R * m * d}
    return Cost(parts, 2 * R * n * m * (d + m) + R * m**3, R * n * d)


def kernel_ridge_cost(d: float, n: float, R: float) -> Cost:
    """Exact kernel ridge regression (module docstring)."""
    parts = {"training set R·n·d": R * n * d, "kernel matrices R·n² (3 copies)": 3 * R * n * n}
    return Cost(parts, 2 * R * n * n * d + R * n**3 / 3, R * n * d)
