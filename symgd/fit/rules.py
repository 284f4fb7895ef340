"""The rules of a data-fit Problem, checked once when :class:`symgd.Problem` is built.

SPEC §1: loss and reduce names, a target (and weights) of data columns only, every free
symbol a variable or a data column; least-squares weights (``weights``, or ``sigma``
meaning weights 1/sigma²); and lmfit's parameter hints on a variable (Newville et al.,
LMFIT: Non-Linear Least-Square Minimization and Curve-Fitting for Python, 2014,
"Parameter" and "Using Mathematical Constraints"):

* ``vary: false``: the variable is held at its start and not fitted;
* ``expr: "2*a"``: the variable is tied to an expression of other variables (and
  parameters); it is replaced by that expression everywhere.

Both are substitutions made before anything is derived (:func:`tie_substitutions`):
the kernels see only the variables left to fit, and symgd.fit puts the held and tied
ones back into the Result. Ties may chain (c = 2 b, b = a + 1); a chain that comes back
to where it started, a name that is no variable, or a bound on a tied variable is an
input error. Problem imports this module only when it builds a data fit.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from symgd.errors import InputError, unknown_name_message
from symgd.io.keys import LOSSES, REDUCES

WEIGHT_LOSSES = ("mse", "sse")   # weights multiply squared residuals: least squares only


def variable_hints(spec, field: str) -> tuple:
    """(vary, expr) of one ``variables`` entry (a mapping): ``vary`` a bool (default
    True), ``expr`` a string or sympy expression, or None."""
    vary = spec.get("vary", True)
    if not isinstance(vary, (bool, np.bool_)):
        raise InputError(f"expected true or false, got {vary!r}", field=f"{field}.vary")
    expr = spec.get("expr")
    if expr is not None and not vary:
        raise InputError("give either 'vary: false' (held at its start) or 'expr' (tied to "
                         "other variables), not both", field=f"{field}.expr")
    return bool(vary), expr


def _exact(value: float) -> sp.Expr:
    """A start as the exact number of its shortest decimal text (as parameters are)."""
    return sp.Rational(repr(float(value)))


def tie_substitutions(declared, to_expr) -> tuple:
    """({symbol: what replaces it}, {name: tie as written}) for the held and tied
    variables of ``declared``.

    A held variable (``vary`` False) becomes its start, exactly; a tied one its
    expression, with every held or tied variable in it replaced in turn, so that only
    the variables left to fit remain. ``to_expr(value, field)`` turns a tie (text or
    sympy) into a sympy expression in the variables' real symbols.

    Raises:
        InputError: a tie naming something that is not a variable, ties that form a
            cycle (named in order), a bound on a tied variable, or nothing left to fit.
    """
    names = {v.name: v for v in declared}
    subs = {v.symbol: _exact(v.start) for v in declared if not v.vary}
    ties, fields, written = {}, {}, {}
    for v in declared:
        if v.expr is None:
            continue
        field = f"variables.{v.name}.expr"
        for side in ("lower", "upper"):
            if getattr(v, side) is not None:
                raise InputError(f"'{v.name}' is tied by its expr and cannot take a {side} "
                                 "bound; bound the variables it is tied to",
                                 field=f"variables.{v.name}.{side}")
        e = to_expr(v.expr, field)
        unknown = sorted(s.name for s in e.free_symbols if s.name not in names)
        if unknown:
            raise InputError(f"the expr of '{v.name}' names '{unknown[0]}', which is not a "
                             f"variable (ties use variables and parameters: "
                             f"{', '.join(names)})", field=field)
        ties[v.symbol], fields[v.symbol], written[v.name] = e, field, e
    state: dict = {}

    def resolve(sym, chain):
        if sym in subs or sym not in ties:
            return subs.get(sym, sym)
        if state.get(sym) == "open":
            loop = chain[chain.index(sym):] + [sym]
            raise InputError("the ties form a cycle: " + " -> ".join(s.name for s in loop),
                             field=fields[loop[0]])
        state[sym] = "open"
        e = ties[sym]
        e = e.xreplace({s: resolve(s, chain + [sym]) for s in e.free_symbols if s in ties
                        or s in subs})
        subs[sym] = e
        state[sym] = "done"
        return e

    for sym in ties:
        resolve(sym, [])
    if subs and len(subs) == len(declared):
        raise InputError("every variable is held (vary: false) or tied (expr): nothing is "
                         "left to fit", field="variables")
    return subs, written


def check_fit(problem, data_names, set_) -> None:
    """Data fits (SPEC §1): loss and reduce names, a target for a model, weights for a
    least-squares model fit, and every free symbol a variable or a data column. Sets
    the defaults of ``loss`` and ``reduce`` through ``set_(name, value)``."""
    if problem.model is not None:
        if problem.objective is not None:
            raise InputError(f"give either 'model' (with 'target' and 'loss') or "
                             f"'{problem.sense}', not both", field=problem.sense)
        if problem.target is None:
            # Located at the model: the target is what is missing.
            raise InputError("a model needs a target (the column, or an expression of "
                             "columns, that it predicts)", field="model")
        if problem.reduce is not None:
            raise InputError("'reduce' goes with a per-sample 'minimize'; with a model "
                             "choose the loss instead (mse averages, sse sums)",
                             field="reduce")
        loss = "mse" if problem.loss is None else problem.loss
        if not isinstance(loss, str) or loss not in LOSSES:
            raise InputError(unknown_name_message("loss", loss, LOSSES), field="loss")
        set_("loss", loss)
    else:
        for key in ("target", "loss"):
            if getattr(problem, key) is not None:
                raise InputError(f"'{key}' needs a 'model'; with a per-sample "
                                 f"'{problem.sense}' leave it out", field=key)
        red = "mean" if problem.reduce is None else problem.reduce
        if not isinstance(red, str) or red not in REDUCES:
            raise InputError(unknown_name_message("reduce", red, REDUCES), field="reduce")
        set_("reduce", red)
    _check_weights(problem)
    variables = {v.symbol for v in problem.variables}
    names = [v.name for v in problem.variables]
    columns = sorted(data_names - set(names))
    for key in ("target", "weights", "sigma"):
        expr = getattr(problem, key)
        used = [] if expr is None else sorted(s.name for s in expr.free_symbols
                                              if s in variables)
        if used:
            raise InputError(f"the {key} may use data columns only, not the variable "
                             f"'{used[0]}'", field=key)
    for field, expr in (("model", problem.model), ("target", problem.target),
                        (problem.sense, problem.objective), ("weights", problem.weights),
                        ("sigma", problem.sigma)):
        if expr is None:
            continue
        extra = sorted(s.name for s in expr.free_symbols
                       if s not in variables and s.name not in data_names)
        if extra:
            raise InputError(
                f"unknown name '{extra[0]}': it is neither a variable nor a data column "
                f"(variables: {', '.join(names) or 'none'}; columns: "
                f"{', '.join(columns[:20]) or 'none'}{', ...' if len(columns) > 20 else ''})",
                field=field)


def _check_weights(problem) -> None:
    """weights / sigma: one of them, with a model and a least-squares loss."""
    if problem.weights is not None and problem.sigma is not None:
        raise InputError("give either 'weights' or 'sigma' (weights 1/sigma²), not both",
                         field="sigma")
    key = "weights" if problem.weights is not None else "sigma"
    if getattr(problem, key) is None:
        return
    if problem.model is None or problem.loss not in WEIGHT_LOSSES:
        what = "a per-sample objective" if problem.model is None else \
            f"the {problem.loss} loss"
        raise InputError(f"'{key}' weighs squared residuals: it goes with a model and a "
                         f"least-squares loss (mse or sse), not {what}", field=key)
