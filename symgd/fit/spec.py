"""A data-fitting problem as the kernels see it: per-sample expressions and a loss.

For a model fit the quantity differentiated per sample is the residual
r_i = model(theta; data_i) - target(data_i) (or the logit z_i = model for
``cross_entropy``), and the loss is applied to it by hand-written stable code
(symgd.fit.losses). For a per-sample ``minimize``/``maximize`` the quantity is the
per-sample objective phi_i itself (negated for maximize) and it is summed or averaged.

A per-sample objective that is a square, c * b(theta; data)**2 with c > 0, is a
least-squares fit with residual sqrt(c) * b (loss sse for ``reduce: sum``, mse for
``mean``), so that ``lm`` and the standard errors of SPEC §4 apply to it.

Weighted least squares (``weights: w``, or ``sigma: s`` meaning w = 1/s²): the residual
the kernels differentiate is sqrt(w_i) (model_i - target_i), so that every sum of
squares (the loss, lm's JᵀJ and Jᵀr, the linear closed form's design, the statistics)
is the weighted one, sum_i w_i r_i² (Björck, Numerical Methods for Least Squares
Problems, 1996, §4.4.1).

Held and tied variables (``vary: false``, ``expr``) were substituted by Problem
(symgd.fit.rules): the spec's symbols are the variables left to fit, and ``declared``
says how to rebuild every variable the user declared from them.
"""
from __future__ import annotations

from dataclasses import dataclass

LEAST_SQUARES = ("mse", "sse")


@dataclass(frozen=True)
class FitSpec:
    """What to compute per sample.

    Attributes:
        names, symbols: the variables (fitted parameters), in order.
        data_symbols: the data columns the expressions use, sorted by name.
        loss: a loss name of SPEC §1, or ``"per_sample"`` for a general per-sample
            objective.
        mean: True when the loss averages over samples (mse, mae, huber, logcosh,
            cross_entropy, ``reduce: mean``), False when it sums (sse, ``reduce: sum``).
        value: r (model - target), z (the logit, cross_entropy) or phi (per-sample).
        model, target: the model and target expressions (None for per-sample).
        delta: the huber threshold.
        sign: -1.0 when the user maximises (the loss minimised is -phi), else 1.0.
        from_square: the per-sample objective was recognised as a square.
        weight: w, the per-sample weight of a weighted least-squares fit, or None.
        weight_field: the field that gave it ("weights" or "sigma"), or None.
        declared: every declared variable, in order, as (name, kind, payload, text):
            kind "fit" with payload its index in ``symbols``; "fixed" (held) with its
            value; "tied" with its expression in ``symbols`` and ``text`` the tie as
            written. Empty: the declared variables are ``names``.
    """

    names: tuple
    symbols: tuple
    data_symbols: tuple
    loss: str
    mean: bool
    value: sp.Expr
    model: sp.Expr | None
    target: sp.Expr | None
    delta: float = 1.0
    sign: float = 1.0
    from_square: bool = False
    weight: object = None
    weight_field: str | None = None
    declared: tuple = ()

    @property
    def least_squares(self) -> bool:
        """Is the loss a (mean or) sum of squared residuals (lm, stderr apply)?"""
        return self.loss in LEAST_SQUARES

    @property
    def p(self) -> int:
        return len(self.symbols)


def _square_root(phi: sp.Expr):
    """b * sqrt(c) if phi = c * b**2 with a positive number c, else None."""
    import sympy as sp  # not at import: the warm path reads FitSpec without sympy

    coeff, rest = phi.as_coeff_Mul()
    if not (coeff.is_number and coeff.is_positive):
        return None
    if isinstance(rest, sp.Pow) and rest.exp == 2:
        base = rest.base
        return base if coeff == 1 else sp.sqrt(coeff) * base
    return None


def _declared(problem) -> tuple:
    """FitSpec.declared: how every declared variable follows from those fitted."""
    ties = getattr(problem, "ties", None)
    if not ties:
        return ()
    index = {s: j for j, s in enumerate(problem.symbols)}
    out = []
    for v in problem.declared:
        if v.symbol in index:
            out.append((v.name, "fit", index[v.symbol], None))
        elif not v.vary:
            out.append((v.name, "fixed", float(ties[v.symbol]), None))
        else:
            out.append((v.name, "tied", ties[v.symbol], str(v.expr)))
    return tuple(out)


def _weight(problem):
    """(w, field): the weight of a weighted least-squares fit, or (None, None)."""
    if getattr(problem, "weights", None) is not None:
        return problem.weights, "weights"
    if getattr(problem, "sigma", None) is not None:
        return 1 / problem.sigma ** 2, "sigma"
    return None, None


def fit_spec(problem, *, delta: float = 1.0) -> FitSpec:
    """The FitSpec of a data-fitting Problem (already validated by Problem)."""
    import sympy as sp  # not at import: the warm path reads FitSpec without sympy

    symbols = problem.symbols
    names = problem.names
    var_set = set(symbols)
    weight, weight_field = _weight(problem)
    if problem.model is not None:
        exprs = [problem.model, problem.target] + ([weight] if weight is not None else [])
    else:
        exprs = [problem.objective]
    data_syms = set()
    for e in exprs:
        data_syms |= {s for s in e.free_symbols if s not in var_set}
    data_symbols = tuple(sorted(data_syms, key=lambda s: s.name))
    declared = _declared(problem)
    if problem.model is not None:
        loss = problem.loss
        if loss == "cross_entropy":
            value = problem.model
        else:
            value = problem.model - problem.target
        if weight is not None:  # sqrt(w) r: every sum of squares is the weighted one
            value = sp.sqrt(weight) * value
        return FitSpec(names, symbols, data_symbols, loss, loss != "sse", value,
                       problem.model, problem.target, float(delta), weight=weight,
                       weight_field=weight_field, declared=declared)
    mean = problem.reduce != "sum"
    phi = problem.objective
    if problem.sense == "minimize":
        root = _square_root(phi)
        if root is not None:
            return FitSpec(names, symbols, data_symbols, "mse" if mean else "sse", mean,
                           root, None, None, float(delta), 1.0, True, declared=declared)
    sign = -1.0 if problem.sense == "maximize" else 1.0
    return FitSpec(names, symbols, data_symbols, "per_sample", mean, sign * phi, None, None,
                   float(delta), sign, declared=declared)
