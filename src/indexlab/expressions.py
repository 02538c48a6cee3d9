"""Safe arithmetic expressions in the latent variables, e.g. ``"z1**2 * tanh(z2)"``.

The text is parsed with :mod:`ast` and every node is checked against a whitelist before it is
compiled into a tree of element-wise operations (torch on tensors, NumPy on arrays, see
:mod:`indexlab._arrays`); nothing is ever passed to ``eval``. Allowed:

* numbers (int or float literals), the constants ``pi`` and ``e``;
* the variable ``z`` (single-index) or ``z1 … z9`` (multi-index; ``z1`` is the first latent),
  or the names passed as ``variables=`` (e.g. ``("d",)`` for a hyperparameter formula in ``d``);
* ``+ - * / **``, unary ``-``/``+``, comparisons ``< <= > >=`` (1.0 where true, else 0.0,
  chains such as ``0.5 < abs(z) < 1.6`` included);
* the functions in :data:`FUNCTIONS` (``h(k, x)`` and ``He(k, x)`` take an integer literal
  degree ``k``).

Anything else (attribute access, subscripts, lambdas, calls of non-whitelisted names, strings,
keyword arguments, ...) raises ``ValueError`` naming the offending token and listing what is
allowed. Bounds, so that no text can exhaust the parser, the stack or the floating-point range:
ASCII only (Python folds full-width ``ｚ`` and mathematical-italic ``𝑧`` into ``z`` by NFKC;
we refuse them instead), at most :data:`MAX_LENGTH` characters, :data:`MAX_NODES` syntax
nodes and nesting depth :data:`MAX_DEPTH`; constant sub-expressions are evaluated once, when
parsed, and must be finite real numbers (``0/0``, ``1/0``, ``10**10**10`` and ``(-8)**0.5``
are refused, naming the sub-expression).
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from indexlab._arrays import as_dtype, full_like, is_tensor
from indexlab._arrays import ops as array_ops
from indexlab.hermite import MAX_DEGREE, hermite_h

if TYPE_CHECKING:
    import torch


def _op(name: str) -> Callable:
    """The element-wise function ``name`` of the argument's library (torch or NumPy)."""
    return lambda *xs: getattr(array_ops(xs[0]), name)(*xs)


_UNARY: dict[str, Callable] = {
    name: _op(name)
    for name in ("abs", "sign", "exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sinh",
                 "cosh", "atan", "erf", "sigmoid", "relu")
}
_UNARY["step"] = lambda x: as_dtype(x > 0, x)
_BINARY: dict[str, Callable] = {"minimum": _op("minimum"), "maximum": _op("maximum")}
_DEGREE_FUNCS = ("h", "He")
FUNCTIONS: tuple[str, ...] = (*_UNARY, *_BINARY, "clip", *_DEGREE_FUNCS)
CONSTANTS = {"pi": math.pi, "e": math.e}
_VAR = re.compile(r"^z([1-9])?$")
MAX_LENGTH = 2000
MAX_NODES = 400
MAX_DEPTH = 64


def _allowed_text(variables: str = "variables z or z1..z9") -> str:
    return (
        f"allowed: numbers, {variables}, constants pi and e, operators + - * / ** and "
        "comparisons < <= > >=, and the functions " + ", ".join(FUNCTIONS) + " (h(k, x) and "
        "He(k, x) with an integer degree k)"
    )


_ALLOWED_TEXT = _allowed_text()


@dataclass(frozen=True)
class Expression:
    """A parsed expression: ``fn`` maps latents ``z`` of shape ``(n, r)`` to ``(n,)``."""

    text: str
    r: int
    fn: Callable[[torch.Tensor], torch.Tensor]

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.fn(z)


@dataclass
class _Context:
    """What the compiler needs besides the node: the source text, the variables seen so far,
    the custom variable names (name -> column; ``None`` for ``z``/``z1..z9``) and the help text."""

    text: str
    used: set = field(default_factory=set)
    names: dict[str, int] | None = None
    allowed: str = _ALLOWED_TEXT


def _reject(node: ast.AST, ctx: _Context, why: str) -> ValueError:
    token = ast.get_source_segment(ctx.text, node) or type(node).__name__
    return ValueError(f"expression {ctx.text!r} is rejected at {token!r}: {why}; {ctx.allowed}")


def _degree(node: ast.AST, ctx: _Context) -> int:
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int)
        and not isinstance(node.value, bool)
        and 0 <= node.value <= MAX_DEGREE
    ):
        return node.value
    raise _reject(node, ctx, f"the degree must be an integer literal in 0..{MAX_DEGREE}")


def _compile(node: ast.AST, ctx: _Context) -> Callable:
    """Turn a checked AST node into a closure ``z -> tensor``; record variable names used."""
    if isinstance(node, ast.Expression):
        return _compile(node.body, ctx)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise _reject(node, ctx, "only int and float literals are allowed")
        try:
            value = float(node.value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise _reject(node, ctx, "the number is too large: use a finite float literal")
        return _Const(value)
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return _Const(CONSTANTS[node.id])
        if ctx.names is not None:
            if node.id not in ctx.names:
                raise _reject(node, ctx, f"unknown name {node.id!r}")
            col = ctx.names[node.id]
        else:
            match = _VAR.match(node.id)
            if match is None:
                raise _reject(node, ctx, f"unknown name {node.id!r}")
            col = int(match.group(1)) - 1 if match.group(1) else 0
        ctx.used.add(node.id)
        return lambda z: z[:, col]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _compile(node.operand, ctx)
        if isinstance(node.op, ast.USub):
            if isinstance(inner, _Const):
                return _Const(-inner.value)
            return lambda z: -inner(z)
        return inner
    if isinstance(node, ast.BinOp):
        ops = {
            ast.Add: lambda a, b: a + b,
            ast.Sub: lambda a, b: a - b,
            ast.Mult: lambda a, b: a * b,
            ast.Div: lambda a, b: a / b,
            ast.Pow: lambda a, b: a**b,
        }
        if type(node.op) not in ops:
            raise _reject(node, ctx, f"operator {type(node.op).__name__} is not allowed")
        op = ops[type(node.op)]
        left = _compile(node.left, ctx)
        right = _compile(node.right, ctx)
        if isinstance(left, _Const) and isinstance(right, _Const):
            return _fold(node, ctx, op, left.value, right.value)
        return lambda z: op(left(z), right(z))
    if isinstance(node, ast.Compare):
        cmp = {ast.Lt: _op("lt"), ast.LtE: _op("le"), ast.Gt: _op("gt"), ast.GtE: _op("ge")}
        for op in node.ops:
            if type(op) not in cmp:
                raise _reject(node, ctx, f"comparison {type(op).__name__} is not allowed")
        parts = [_compile(n, ctx) for n in [node.left, *node.comparators]]
        fns = [cmp[type(op)] for op in node.ops]

        def compare(z: torch.Tensor) -> torch.Tensor:
            values = [_as_tensor(p(z), z) for p in parts]
            result = fns[0](values[0], values[1])
            for fn, a, b in zip(fns[1:], values[1:-1], values[2:], strict=True):
                result = result & fn(a, b)
            return as_dtype(result, z)

        return compare
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise _reject(node.func, ctx, "only the whitelisted functions may be called")
        if node.keywords:
            raise _reject(node, ctx, "keyword arguments are not allowed")
        name, args = node.func.id, node.args
        if any(isinstance(a, ast.Starred) for a in args):
            raise _reject(node, ctx, "starred arguments are not allowed")
        arity = 1 if name in _UNARY else 3 if name == "clip" else 2
        if len(args) != arity:
            raise _reject(node, ctx, f"{name} takes {arity} argument(s), got {len(args)}")
        if name in _DEGREE_FUNCS:
            k = _degree(args[0], ctx)
            inner = _compile(args[1], ctx)
            scale = math.sqrt(math.factorial(k)) if name == "He" else 1.0
            return lambda z: scale * hermite_h(_as_tensor(inner(z), z), k)
        compiled = [_compile(a, ctx) for a in args]
        if name in _UNARY:
            fn = _UNARY[name]
            return lambda z: fn(_as_tensor(compiled[0](z), z))
        if name == "clip":
            return lambda z: array_ops(z).clamp(
                _as_tensor(compiled[0](z), z),
                min=_as_tensor(compiled[1](z), z),
                max=_as_tensor(compiled[2](z), z),
            )
        fn = _BINARY[name]
        return lambda z: fn(_as_tensor(compiled[0](z), z), _as_tensor(compiled[1](z), z))
    raise _reject(node, ctx, f"{type(node).__name__} is not allowed")


class _Const:
    """A constant sub-expression (folded when parsed); calling it gives its value."""

    __slots__ = ("value",)

    def __init__(self, value: float):
        self.value = value

    def __call__(self, z) -> float:
        return self.value


def _fold(node: ast.AST, ctx: _Context, op: Callable, a: float, b: float) -> _Const:
    """``a op b`` for two constants, refused unless it is a finite real number."""
    try:
        value = op(a, b)
    except ZeroDivisionError:
        raise _reject(node, ctx, "division by zero") from None
    except OverflowError:
        raise _reject(node, ctx, "the value overflows the floating-point range") from None
    if isinstance(value, complex):
        raise _reject(node, ctx, "the value is not a real number")
    if not math.isfinite(value):
        raise _reject(node, ctx, "the value is not finite")
    return _Const(float(value))


def _check_size(tree: ast.AST, text: str) -> None:
    """At most :data:`MAX_NODES` nodes and depth :data:`MAX_DEPTH` (iteratively: a deep tree
    must not exhaust the stack while it is being measured)."""
    count, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ValueError(f"expression {_short(text)!r} is too large: more than "
                             f"{MAX_NODES} terms and operators; use a shorter expression")
        if depth > MAX_DEPTH:
            raise ValueError(f"expression {_short(text)!r} is nested too deeply (more than "
                             f"{MAX_DEPTH} levels; each operator of a chain such as z+z+...+z "
                             "is one level); use a shorter expression")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def _as_tensor(value, z: torch.Tensor) -> torch.Tensor:
    if is_tensor(value) or isinstance(value, np.ndarray):
        return value
    return full_like(z[:, 0], float(value))


def parse_expression(text: str, variables: Sequence[str] | None = None) -> Expression:
    """Parse ``text`` into an :class:`Expression`; raise ``ValueError`` on anything unsafe.

    By default the variables are the latents: ``r`` is 1 for ``z`` and the largest index used
    for ``z1..z9`` (``z`` and ``zi`` cannot be mixed). With ``variables=("a", "b", ...)`` those
    names are the only variables, read from the columns ``0, 1, ...`` of the input, and
    ``r = len(variables)`` (e.g. ``parse_expression("0.5 / d", variables=("d",))``).
    """
    names = None
    allowed = _ALLOWED_TEXT
    if variables is not None:
        names = {str(v): i for i, v in enumerate(variables)}
        allowed = _allowed_text("variables " + ", ".join(names) if names else "no variables")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"expression {text!r} is empty; {allowed}")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"expression {_short(text)!r} is too long: at most {MAX_LENGTH} "
                         "characters")
    if not text.isascii():
        bad = next(c for c in text if not c.isascii())
        raise ValueError(f"expression {text!r} is rejected at {bad!r} (U+{ord(bad):04X}): only "
                         f"ASCII characters are allowed (write z, not a look-alike); {allowed}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(
            f"expression {_short(text)!r} is not valid syntax ({exc.msg}); {allowed}"
        ) from None
    except (RecursionError, MemoryError):
        raise ValueError(f"expression {_short(text)!r} is nested too deeply to parse; use a "
                         "flatter expression") from None
    _check_size(tree, text)
    ctx = _Context(text.strip(), names=names, allowed=allowed)
    fn = _compile(tree, ctx)
    if names is not None:
        r = len(names)
    else:
        if "z" in ctx.used and len(ctx.used) > 1:
            raise ValueError(
                f"expression {text!r} mixes z with z1..z9: use z alone (single-index) or z1..zr"
            )
        indices = [int(v[1:]) for v in ctx.used if v != "z"]
        r = max(indices) if indices else 1

    def evaluate(z: torch.Tensor) -> torch.Tensor:
        return _as_tensor(fn(z), z)

    return Expression(text=text.strip(), r=r, fn=evaluate)
