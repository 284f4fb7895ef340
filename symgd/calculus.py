"""Symbolic derivatives: sympy in, sympy out.

Everything here is computed once per problem and cached on a small frozen record,
so the CLI's ``derive``, the code generator and the closed form share one derivation.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import sympy as sp

from symgd.errors import InputError

# A derivative tree bigger than this (in sympy operation count, after CSE) is refused
# with advice; numba's compile time grows steeply with code length (DESIGN.md).
MAX_HESSIAN_OPS = 40_000


@dataclass(frozen=True)
class Derivatives:
    """The minimised objective f (``-objective`` for maximize), its gradient and Hessian."""

    symbols: tuple
    f: sp.Expr
    grad: tuple
    hess: tuple  # tuple of row tuples, symmetric; () when not built
    time_s: float
    hess_skipped: str = ""  # why the Hessian is missing, when it was asked for

    def hess_matrix(self) -> sp.Matrix:
        return sp.Matrix(self.hess)


def smooth(expr: sp.Expr) -> sp.Expr:
    """Replace distributions that appear when differentiating Abs, sign, Max, Min.

    d/dx sign(x) = 2 DiracDelta(x) is zero almost everywhere; a kernel evaluates it as 0.
    """
    if expr.has(sp.DiracDelta):
        expr = expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    return expr


# Wall-clock budget for symbolic differentiation. Past it, the Hessian is given up (the
# methods that need none still run) or, for the gradient, the user is told. Override
# with the environment variable SYMGD_DERIVE_BUDGET (seconds).
DEFAULT_DERIVE_BUDGET_S = 30.0
# symgd.derive's Hessian is a dense sympy Matrix up to this many variables, else an
# ImmutableSparseMatrix of its nonzeros (a dense one holds n^2 entries: 1e8 at 10,000)
DENSE_DERIVATION_MAX = 500
# Derivation's LaTeX lists at most this many gradient entries and Hessian nonzeros
LATEX_MAX_ENTRIES = 40


def derive_budget() -> float:
    import os
    try:
        return float(os.environ.get("SYMGD_DERIVE_BUDGET", DEFAULT_DERIVE_BUDGET_S))
    except ValueError:
        return DEFAULT_DERIVE_BUDGET_S


def _terms_by_symbol(expr, syms) -> dict:
    """{symbol: the terms of expr (an Add's arguments, else expr itself) that hold it}.

    d(t_1 + ... + t_m)/dx is the sum of dt_k/dx over the terms holding x, which is
    what sympy's diff of an Add builds too, but sympy visits every term for every x:
    n variables times m terms. Grouping the terms once makes a sparse objective's
    gradient linear in its size (a chained Rosenbrock in 200 variables: 6-12 s down to
    well under a second)."""
    terms = expr.args if expr.is_Add else (expr,)
    wanted = set(syms)
    by_symbol: dict = {s: [] for s in syms}
    for t in terms:
        for s in t.free_symbols & wanted:
            by_symbol[s].append(t)
    return by_symbol


def _sympy_partial(terms, s):
    return smooth(sp.Add(*[sp.diff(t, s) for t in terms]))


def _differentiator():
    """symengine's differentiation where it is on (symgd.symengine_backend), else None."""
    from symgd import symengine_backend
    eng = symengine_backend.engine()
    if eng is None:
        return None
    symengine_backend.forget()
    return symengine_backend.Differentiator(eng, _sympy_partial)


def _partial(by_symbol, s):
    """d/ds of the expression grouped by :func:`_terms_by_symbol`."""
    return _sympy_partial(by_symbol[s], s)


def _gradient(by_symbol, syms, fast) -> list:
    """[d/ds for s in syms] of the expression grouped by :func:`_terms_by_symbol`."""
    if fast is None:
        return [_partial(by_symbol, s) for s in syms]
    return fast.partials([(by_symbol[s], s) for s in syms])


def _hessian_row(gi, syms, fast) -> list:
    """[d gi/ds for s in syms]; by symengine from gi's own form (no regrouping) where gi
    came from symengine, else by sympy."""
    gi_terms = _terms_by_symbol(gi, syms)
    if fast is None or not fast.knows(gi):
        return [_partial(gi_terms, s) for s in syms]
    return fast.partials([([gi] if gi_terms[s] else [], s) for s in syms])


def sparse_derivatives(expr, syms, *, hessian: bool = True):
    """({i: df/dx_i}, {(i, j): d2f/dx_i dx_j for i <= j}) of ``expr`` in ``syms``, the
    nonzero entries only, by the grouped differentiation of :func:`derive` (no budget:
    for expressions already known to be small, such as the terms a loop template left
    over, symgd.kernelgen.loop_codegen)."""
    held = [i for i, s in enumerate(syms) if s in expr.free_symbols]
    by_symbol = _terms_by_symbol(expr, [syms[i] for i in held])
    fast = _differentiator()
    grad = dict(zip(held, _gradient(by_symbol, [syms[i] for i in held], fast)))
    grad = {i: g for i, g in grad.items() if g != 0}
    hess = {}
    if hessian:
        for i, gi in grad.items():
            later = [j for j in held if j >= i]
            row = _hessian_row(gi, [syms[j] for j in later], fast)
            for j, h in zip(later, row):
                if h != 0:
                    hess[(i, j)] = h
    return grad, hess


def derive(problem, *, hessian: bool = True, budget_s: float | None = None) -> Derivatives:
    """Gradient and (optionally) Hessian of the minimised objective.

    Args:
        problem: a :class:`symgd.Problem` that is not a data fit.
        hessian: also build the Hessian (Newton, verify, the saddle check need it).
        budget_s: seconds for the whole derivation (default :func:`derive_budget`).
            A Hessian not finished in time is left out (``hess == ()``, with
            ``hess_skipped`` saying why); a gradient not finished in time is an
            InputError of kind ``limit``.
    """
    t0 = time.perf_counter()
    budget = derive_budget() if budget_s is None else budget_s
    syms = problem.symbols
    f = problem.minimized_objective()
    grad = []
    by_symbol = _terms_by_symbol(f, syms)
    fast = _differentiator()
    for s in syms:
        grad += _gradient(by_symbol, [s], fast)
        if time.perf_counter() - t0 > budget:
            raise InputError(
                f"differentiating the objective took longer than the derivation budget of "
                f"{budget:g} s (after {len(grad)} of {len(syms)} partial derivatives); "
                "simplify the objective or raise SYMGD_DERIVE_BUDGET",
                field=problem.sense, kind="limit")
    grad = tuple(grad)
    hess: tuple = ()
    skipped = ""
    if hessian:
        n = len(syms)
        position = {s: k for k, s in enumerate(syms)}
        rows = [[sp.S.Zero] * n for _ in range(n)]
        for i, gi in enumerate(grad):
            # only the variables in df/dx_i can give nonzeros (symgd.derive's rule)
            later = sorted(position[s] for s in gi.free_symbols if position.get(s, -1) >= i)
            for j, hij in zip(later, _hessian_row(gi, [syms[j] for j in later], fast)):
                rows[i][j] = hij
                rows[j][i] = hij
            if time.perf_counter() - t0 > budget:
                skipped = (f"the Hessian was not finished within the derivation budget of "
                           f"{budget:g} s; methods that need it (newton) are unavailable: try "
                           "method=lbfgs (or auto), or raise SYMGD_DERIVE_BUDGET")
                break
        else:
            hess = tuple(tuple(r) for r in rows)
    return Derivatives(syms, f, grad, hess, time.perf_counter() - t0, skipped)


def check_size(exprs, what: str, limit: int = MAX_HESSIAN_OPS) -> None:
    """Refuse derivative trees too large to compile in reasonable time."""
    ops = sum(sp.count_ops(e, visual=False) for e in exprs)
    if ops > limit:
        raise InputError(
            f"the {what} has {ops} operations (limit {limit}); try method=lbfgs (or auto), "
            "which needs no Hessian, or simplify the objective", field="minimize", kind="limit")


# ----------------------------------------------------------------------------- derive API
@dataclass(frozen=True)
class Derivation:
    """What ``symgd.derive(problem)`` returns: exact derivatives of the user's objective.

    For an objective f(x) (in the user's sense, ``maximize`` included): ``gradient`` =
    [df/dx_j] and ``hessian`` = [d2f/dx_j dx_k] as sympy Matrices (the Hessian an
    ImmutableSparseMatrix of its nonzeros beyond DENSE_DERIVATION_MAX variables; its
    LaTeX then lists the nonzeros), and for constraints
    c_i(x) (op) 0 with c_i = lhs - rhs the ``jacobian`` [dc_i/dx_j] (None without).
    For a data fit the loss is L = (1/n) sum_i l(v_i) of a per-sample value v (the
    residual r = model - target, the logit z for cross_entropy, or the per-sample
    objective phi); symgd derives v only and the kernels apply the chain rule
    dL/dtheta_j = (1/n) sum_i l'(v_i) dv_i/dtheta_j, so there ``objective`` is v and
    ``gradient``/``hessian`` are those of v, and ``loss`` says how L is made of it.
    In a Jupyter notebook the object renders as LaTeX (``_repr_latex_``).
    """

    name: str
    sense: str
    symbols: tuple
    objective: sp.Expr
    gradient: sp.Matrix
    hessian: sp.Matrix
    constraints: tuple = ()          # texts, in order
    constraints_latex: tuple = ()    # the same, as LaTeX
    jacobian: sp.Matrix | None = None
    per_sample: str = ""             # "r", "z" or "phi" for a data fit, else ""
    loss: str = ""                   # for a data fit: L in terms of v, as LaTeX

    def _repr_latex_(self) -> str:
        lat = sp.latex
        v = self.per_sample or "f"
        sub = "_i" if self.per_sample else ""
        rows = [rf"&\text{{{tex_text(self.name)}: {self.sense}}}"]
        if self.per_sample:
            rows.append(rf"&{self.loss}")
        rows.append(rf"&{v}{sub} = {lat(self.objective)}")
        pairs = list(zip(self.symbols, self.gradient))
        grad = r",\ ".join(rf"\frac{{\partial {v}{sub}}}{{\partial {lat(s)}}} = {lat(g)}"
                           for s, g in pairs[:LATEX_MAX_ENTRIES])
        rows.append(rf"&\nabla {v}{sub}:\ {grad}" + _more(len(pairs)))
        if isinstance(self.hessian, sp.ImmutableSparseMatrix):
            nz = sorted((i, j, h) for (i, j), h in self.hessian.todok().items() if i <= j)
            syms = self.symbols
            hess = r",\ ".join(
                rf"\frac{{\partial^2 {v}{sub}}}{{\partial {lat(syms[i])} \partial "
                rf"{lat(syms[j])}}} = {lat(h)}" for i, j, h in nz[:LATEX_MAX_ENTRIES])
            rows.append(rf"&\nabla^2 {v}{sub}\ \text{{({len(nz)} nonzeros on and above the "
                        rf"diagonal)}}:\ {hess}" + _more(len(nz)))
        else:
            rows.append(rf"&\nabla^2 {v}{sub} = {lat(self.hessian)}")
        if self.jacobian is not None:
            cons = r",\ ".join(self.constraints_latex)
            rows.append(rf"&J_c = {lat(self.jacobian)}\quad \text{{rows: }} {cons}")
        return "$$\\begin{aligned}" + r" \\ ".join(rows) + "\\end{aligned}$$"


def _more(count: int) -> str:
    """LaTeX saying how many entries beyond LATEX_MAX_ENTRIES were left out."""
    if count <= LATEX_MAX_ENTRIES:
        return ""
    return rf",\ \ldots\ \text{{({count - LATEX_MAX_ENTRIES} more)}}"


def tex_text(text: str) -> str:
    """Plain text made safe for ``\\text{...}`` in both LaTeX and Jupyter's MathJax (which
    shows escapes such as ``\\_`` literally inside \\text): ``_`` becomes a space, and
    the other characters special to LaTeX become look-alikes."""
    for a, b in (("\\", "/"), ("_", " "), ("{", "("), ("}", ")"), ("$", "S"), ("&", "and"),
                 ("#", "no."), ("%", " percent"), ("^", "**"), ("~", "-")):
        text = text.replace(a, b)
    return text


def relation_latex(relation: str, lhs, rhs) -> str:
    """``lhs (==|<=|>=) rhs`` in LaTeX (=, \\le, \\ge)."""
    op = {"==": "=", "<=": r"\le", ">=": r"\ge"}[relation]
    return f"{sp.latex(lhs)} {op} {sp.latex(rhs)}"


# L as LaTeX, in terms of the per-sample value v (symgd.fit.losses computes these)
_LOSS_TEX = {
    "mse": r"L = \frac{1}{n}\sum_i r_i^2",
    "sse": r"L = \sum_i r_i^2",
    "mae": r"L = \frac{1}{n}\sum_i |r_i|",
    "huber": r"L = \frac{1}{n}\sum_i \mathrm{huber}_\delta(r_i)",
    "logcosh": r"L = \frac{1}{n}\sum_i \log\cosh r_i",
    "cross_entropy": r"L = \frac{1}{n}\sum_i \left[\log(1 + e^{z_i}) - y_i z_i\right]",
}


def derivation(problem) -> Derivation:
    """The gradient, Hessian and constraint Jacobian of ``problem`` (``symgd.derive``),
    of the objective as the user wrote it (see :class:`Derivation`)."""
    if isinstance(problem, (str, bytes)) or hasattr(problem, "__fspath__"):
        from symgd.problem import load
        problem = load(problem)
    syms = tuple(problem.symbols)
    if problem.is_fit:
        return _fit_derivation(problem, syms)
    f = problem.objective
    by_symbol = _terms_by_symbol(f, syms)
    # sympy's own derivation: what `symgd derive` prints reads exactly as before
    # (symengine's forms of the same derivatives group factors differently)
    fast = None
    grad = _gradient(by_symbol, syms, fast)
    n = len(syms)
    position = {s: k for k, s in enumerate(syms)}
    entries = {}
    for i, gi in enumerate(grad):
        # d gi/dx_j is 0 unless x_j occurs in gi: only those are differentiated, so a
        # sparse objective's Hessian costs its nonzeros, not n^2 derivatives
        later = sorted(position[s] for s in gi.free_symbols if position.get(s, -1) >= i)
        for j, hij in zip(later, _hessian_row(gi, [syms[j] for j in later], fast)):
            if hij != 0:
                entries[(i, j)] = entries[(j, i)] = hij
    if n <= DENSE_DERIVATION_MAX:
        H = sp.zeros(n, n)
        for (i, j), hij in entries.items():
            H[i, j] = hij
    else:
        H = sp.ImmutableSparseMatrix(n, n, entries)
    jac, texts, tex = None, (), ()
    if problem.constraints:
        texts = tuple(c.text for c in problem.constraints)
        tex = tuple(relation_latex(c.relation, c.lhs, c.rhs) for c in problem.constraints)
        jac = sp.Matrix([[smooth(sp.diff(c.expr, s)) for s in syms]
                         for c in problem.constraints])
    return Derivation(problem.name, problem.sense, syms, f, sp.Matrix(grad), H, texts, tex,
                      jac)


def _fit_derivation(problem, syms) -> Derivation:
    from symgd.fit.derive import derive as fit_derive
    from symgd.fit.spec import fit_spec

    spec = fit_spec(problem)
    value = problem.objective if spec.loss == "per_sample" else spec.value
    d = fit_derive(spec, hessian=False)
    grad = d.grad if spec.loss != "per_sample" or spec.sign > 0 else \
        tuple(-g for g in d.grad)   # the kernels derive -phi for maximize
    n = len(syms)
    H = sp.Matrix(n, n, lambda i, j: smooth(sp.diff(grad[i], syms[j])))
    v = {"per_sample": "phi", "cross_entropy": "z"}.get(spec.loss, "r")
    if v == "phi":
        loss = (r"L = \frac{1}{n}\sum_i \phi_i" if spec.mean else r"L = \sum_i \phi_i")
    else:
        loss = _LOSS_TEX["mse" if spec.from_square and spec.mean else
                         "sse" if spec.from_square else spec.loss]
    return Derivation(problem.name, problem.sense, syms, value, sp.Matrix(grad), H,
                      per_sample={"phi": r"\phi"}.get(v, v), loss=loss)
