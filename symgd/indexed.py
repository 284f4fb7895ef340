"""IndexedBase elements as variables, and Sum/Product with numeric limits (SPEC §5).

The rest of symgd works with plain real symbols, so the Python API turns every
element ``w[k]`` of a ``sympy.IndexedBase`` into the real symbol named ``w[k]``
(``w[1, 2]`` for two indices, as sympy prints it) and expands every ``Sum`` and
``Product`` whose limits are integers, term by term:

    Sum(f(i), (i, a, b)) = f(a) + f(a+1) + ... + f(b),   Product likewise with *.

An empty range (b = a - 1) gives 0 (1 for a product); b < a - 1 is refused rather than
read by Karr's convention (sympy's: the sum of the reversed range, negated), which
nobody writing an objective means. The base ``w`` never becomes a symbol of its own.
Reference: sympy's ``sympy.tensor.indexed`` and ``sympy.concrete`` modules.

Expansion is top-down, so an inner limit may depend on an outer index
(``Sum(w[i]*w[j], (j, 0, i), (i, 0, 3))``). Symbolic limits, indices that are not
integers after expansion, negative indices and indices outside an IndexedBase's
numeric ``shape`` are InputErrors naming the culprit.
"""
from __future__ import annotations

import re

import sympy as sp
from sympy.concrete.expr_with_limits import ExprWithLimits

from symgd.errors import InputError

# Terms one expression may expand to: beyond this the derivation and the kernels'
# compile time would run for minutes (DESIGN.md: a chained Rosenbrock in 200 variables
# already takes seconds); refusing early keeps Sum(.., (i, 0, 10**9)) from hanging.
MAX_TERMS = 100_000

_INDEXED = (sp.Indexed, sp.IndexedBase, sp.Idx, ExprWithLimits)
_ELEMENT = re.compile(r"^(.+)\[(-?\d+(?:, -?\d+)*)\]$")


def element_name(label: str, indices) -> str:
    """``w[3]``, ``w[1, 2]``: sympy's own printing of an element with integer indices."""
    return f"{label}[{', '.join(str(int(k)) for k in indices)}]"


def sort_key(name: str) -> tuple:
    """Order names so that ``w[2]`` comes before ``w[10]``; plain names sort as text."""
    m = _ELEMENT.match(name)
    if m is None:
        return (name, ())
    return (m.group(1), tuple(int(k) for k in m.group(2).split(", ")))


def has_indexed(expr) -> bool:
    return isinstance(expr, sp.Basic) and expr.has(*_INDEXED)


def _label(base) -> str:
    return str(base.label) if isinstance(base, sp.IndexedBase) else str(base)


def _shape(base, field) -> tuple | None:
    """The IndexedBase's numeric shape, None when it has none."""
    shape = getattr(base, "shape", None)
    if shape is None:
        return None
    dims = []
    for d in shape:
        if not (isinstance(d, sp.Basic) and d.is_Integer and int(d) >= 0):
            raise InputError(f"the shape of {_label(base)} is {tuple(shape)}; symgd needs "
                             "non-negative whole numbers there", field=field)
        dims.append(int(d))
    return tuple(dims)


class _Shown:
    """``label[i, j]`` as text, made when an error message is."""

    def __init__(self, label, indices):
        self.label, self.indices = label, indices

    def __str__(self) -> str:
        return f"{self.label}[{', '.join(str(k) for k in self.indices)}]"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _check_indices(base, indices, field) -> tuple:
    """Integer, non-negative indices inside the base's shape, as Python ints."""
    label = _label(base)
    shown = _Shown(label, indices)   # printed only for an error (sympy's str is slow)
    out = []
    for k in indices:
        if isinstance(k, sp.Basic) and k.free_symbols:
            names = ", ".join(sorted(str(s) for s in k.free_symbols))
            raise InputError(f"{shown}: the index {k} is not a number (the name {names} "
                             "is not an index of an enclosing Sum or Product with integer "
                             "limits)", field=field)
        if not (isinstance(k, int) or (isinstance(k, sp.Basic) and k.is_Integer)):
            raise InputError(f"{shown}: the index {k} is not an integer", field=field)
        if int(k) < 0:
            raise InputError(f"{shown}: the index {k} is negative; the elements of "
                             f"{label} are {label}[0], {label}[1], ...", field=field)
        out.append(int(k))
    shape = _shape(base, field)
    if shape is not None:
        if len(shape) != len(out):
            raise InputError(f"{shown} has {len(out)} index(es) but {label} has shape "
                             f"{shape}", field=field)
        outside = [k for k, d in zip(out, shape) if k >= d]
        if outside:
            raise InputError(f"{shown} is outside the shape {shape} of {label} (indices "
                             f"run from 0 to {tuple(d - 1 for d in shape)})", field=field)
    return tuple(out)


class _Expander:
    """One expression's expansion: the integer environment of the enclosing sums, the
    parameters (limits and indices may use them) and the term budget."""

    def __init__(self, field, params, max_terms=MAX_TERMS):
        self.field = field
        self.max_terms = max_terms
        self.params = {sp.Symbol(k): v for k, v in params.items()}
        self.terms = 0
        self.labels: set = set()

    def value(self, e, env):
        """A limit or an index with the enclosing indices and the parameters substituted."""
        from symgd.io.expr import substitute_checked
        v = self.walk(sp.sympify(e), env)
        if v.free_symbols:
            # parameters are matched by name, whatever the assumptions of the user's symbol
            v = substitute_checked(v, {s: self.params[sp.Symbol(s.name)]
                                       for s in v.free_symbols
                                       if sp.Symbol(s.name) in self.params}, field=self.field)
        return v

    def number(self, e, env, what) -> int:
        """A limit as a Python int."""
        v = self.value(e, env)
        if v.free_symbols:
            names = ", ".join(sorted(str(s) for s in v.free_symbols))
            raise InputError(f"the {what} is {e}, which is not a number ({names} is neither "
                             "an enclosing index nor a parameter); symgd expands sums and "
                             "products with integer limits only", field=self.field)
        if not v.is_Integer:
            raise InputError(f"the {what} is {v}, not an integer; sums and products run "
                             "over whole numbers", field=self.field)
        return int(v)

    def limits(self, node):
        """(index, lower, upper) triples of a Sum or Product, outermost last."""
        kind = type(node).__name__
        out = []
        for lim in node.limits:
            i = lim[0]
            if len(lim) == 3:
                lo_e, hi_e = lim[1], lim[2]
            elif len(lim) == 1 and isinstance(i, sp.Idx) and i.lower is not None:
                lo_e, hi_e = i.lower, i.upper
            else:
                raise InputError(f"the {kind} over {i} has no limits; give them as "
                                 f"({i}, lower, upper) with integers", field=self.field)
            out.append((i, lo_e, hi_e))
        return kind, out

    def expand_limits(self, node, env):
        if not isinstance(node, (sp.Sum, sp.Product)):
            raise InputError(f"{type(node).__name__} is not supported (only Sum and Product "
                             "with integer limits are expanded)", field=self.field)
        kind, lims = self.limits(node)
        empty = sp.S.Zero if isinstance(node, sp.Sum) else sp.S.One
        combine = sp.Add if isinstance(node, sp.Sum) else sp.Mul

        def level(depth, env):
            if depth < 0:
                return self.walk(node.function, env)
            i, lo_e, hi_e = lims[depth]
            lo = self.number(lo_e, env, f"lower limit of the {kind} over {i}")
            hi = self.number(hi_e, env, f"upper limit of the {kind} over {i}")
            if hi < lo - 1:
                raise InputError(f"the {kind} over {i} runs from {lo} down to {hi}; give the "
                                 "lower limit first", field=self.field)
            if isinstance(i, sp.Idx) and i.lower is not None and i.lower.is_Integer \
                    and i.upper.is_Integer and hi >= lo \
                    and (lo < int(i.lower) or hi > int(i.upper)):
                raise InputError(f"the {kind} over {i} runs from {lo} to {hi}, outside the "
                                 f"range {int(i.lower)}..{int(i.upper)} of the index {i}",
                                 field=self.field)
            self.terms += max(0, hi - lo + 1)
            if self.terms > self.max_terms:
                raise InputError(f"the sums and products expand to over "
                                 f"{self.max_terms:,} terms (the {kind} over {i} alone has "
                                 f"{hi - lo + 1:,}); symgd expands them term by term",
                                 field=self.field, kind="limit")
            parts = [level(depth - 1, {**env, i: sp.Integer(k)}) for k in range(lo, hi + 1)]
            return combine(*parts) if parts else empty

        return level(len(lims) - 1, env)

    def walk(self, e, env):
        if e in env:
            return env[e]
        if isinstance(e, ExprWithLimits):
            return self.expand_limits(e, env)
        if isinstance(e, sp.Indexed):
            idx = [self.value(k, env) for k in e.indices]
            idx = _check_indices(e.base, idx, self.field)
            self.labels.add(_label(e.base))
            return sp.Symbol(element_name(_label(e.base), idx), real=True)
        if isinstance(e, sp.IndexedBase):
            raise InputError(f"the IndexedBase {_label(e)} is used without an index; write "
                             f"its elements {_label(e)}[0], {_label(e)}[1], ...",
                             field=self.field)
        if isinstance(e, sp.Idx):
            raise InputError(f"the index {e} is used outside a Sum or Product over it",
                             field=self.field)
        if not e.args or not e.has(*_INDEXED, *env):
            return e
        args = [self.walk(a, env) for a in e.args]
        if all(a is b for a, b in zip(args, e.args)):
            return e
        return e.func(*args)


def expand(expr, *, field: str, params=None, max_terms: int = MAX_TERMS):
    """``expr`` with Sum/Product expanded and IndexedBase elements as real symbols.

    Args:
        expr: a sympy expression, relation or anything else (returned unchanged when it
            holds nothing indexed).
        field: the field named by errors (``minimize``, ``constraints[0]``).
        params: ``{name: exact number}``; limits and indices may use them.
        max_terms: the most terms all sums and products together may expand to
            (problem files pass their ``max_sum_terms`` limit).

    Raises:
        InputError: symbolic or non-integer limits, bad indices, too many terms, or a
            plain symbol with the name of an IndexedBase in the same expression.
    """
    if not has_indexed(expr):
        return expr
    ex = _Expander(field, params or {}, max_terms)
    try:
        if isinstance(expr, sp.Rel):
            out = expr.func(ex.walk(expr.lhs, {}), ex.walk(expr.rhs, {}))
        else:
            out = ex.walk(expr, {})
    except RecursionError:
        raise InputError("the expression is nested too deeply to expand its sums",
                         field=field, kind="limit") from None
    if isinstance(out, sp.Basic):
        clash = sorted(ex.labels & {s.name for s in out.free_symbols if "[" not in s.name})
        if clash:
            raise InputError(f"'{clash[0]}' is both an IndexedBase and a plain symbol here; "
                             "give them different names", field=field)
    return out


def key_names(key, field: str) -> list:
    """The variable or parameter names a key of ``variables=`` / ``parameters=`` stands
    for: a symbol or text its name, ``w[k]`` its element name, and an IndexedBase with a
    numeric shape all its elements in order."""
    if isinstance(key, sp.Indexed):
        idx = _check_indices(key.base, list(key.indices), field)
        return [element_name(_label(key.base), idx)]
    if isinstance(key, sp.IndexedBase):
        shape = _shape(key, field)
        if shape is None:
            raise InputError(f"the IndexedBase {_label(key)} has no shape: declare its "
                             f"elements ({_label(key)}[0], {_label(key)}[1], ...) or give "
                             f"IndexedBase('{_label(key)}', shape=n)", field=field)
        import itertools
        return [element_name(_label(key), k)
                for k in itertools.product(*(range(d) for d in shape))]
    if isinstance(key, sp.Symbol):
        return [key.name]
    if isinstance(key, sp.Basic):
        raise InputError(f"{key} cannot name a variable or parameter (give a symbol, an "
                         "element w[k] of an IndexedBase, or a name)", field=field)
    return [str(key)]


def parameter_element_used(names, params) -> None:
    """Refuse an element ``c[k]`` left undeclared where other elements of ``c`` are
    parameters: by default it would silently become a variable."""
    labels = {sort_key(p)[0] for p in params if "[" in p}
    for name in sorted(names, key=sort_key):
        if "[" in name and sort_key(name)[0] in labels:
            raise InputError(undeclared_message(name, params), field="parameters")


def undeclared_message(name: str, declared) -> str | None:
    """A message for an element ``w[k]`` used but not declared, naming the elements of
    ``w`` that are; None when ``name`` is not an element."""
    m = _ELEMENT.match(name)
    if m is None:
        return None
    label = m.group(1)
    mine = sorted((n for n in declared if sort_key(n)[0] == label and "[" in n), key=sort_key)
    if not mine:
        return (f"{name} is used but no element of {label} is declared; list the elements "
                f"in variables= (or parameters=), e.g. {{{label}[k]: start for k in "
                "range(n)}")
    shown = ", ".join(mine) if len(mine) <= 4 else f"{mine[0]}, ..., {mine[-1]}"
    return (f"{name} is used but is not a declared element of {label} (declared: {shown}); "
            "an index is out of the declared range")
