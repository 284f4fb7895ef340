"""What ``auto`` runs (SPEC §2), as pure functions of the problem's shape.

Called by symgd.solver alone, which decides and runs; kept apart so the policy reads
in one place.

Without data: the closed form in its worker beside newton (up to
AUTO_NEWTON_MAX_VARS variables) or lbfgs (larger; symgd.solver also runs lbfgs when
newton's Hessian passes the operation limit). With data: a model linear in its
parameters with loss mse, sse or mae gets its closed form first (symgd.fit.linear:
linear least squares; least absolute deviations by linear programming, or IRLS above
the LP's sample gate); otherwise lm for least-squares losses with at most
AUTO_LM_MAX_VARS variables; mae (a kinked loss, never plain Newton) IRLS over lm, or
sgd with a decaying schedule and patience; else newton up to AUTO_NEWTON_MAX_VARS
variables, else lbfgs (SPEC §2: no Hessian of p^2 entries to build and factor, and
superlinear where steepest descent crawls).
"""
from __future__ import annotations

AUTO_NEWTON_MAX_VARS = 50
AUTO_LM_MAX_VARS = 100
# sgd where auto meets a kinked loss it cannot reweight: a decaying step and early stop
SGD_FALLBACK = {"schedule": "cosine", "patience": 10}


def iterative_choice(n: int) -> tuple:
    """(method, why) for an objective of n variables."""
    if n <= AUTO_NEWTON_MAX_VARS:
        return "newton", f"newton ({n} variables <= {AUTO_NEWTON_MAX_VARS})"
    return "lbfgs", f"lbfgs ({n} variables > {AUTO_NEWTON_MAX_VARS}, no Hessian)"


def fit_choice(spec) -> tuple:
    """(method, why or None) for a fit (symgd.fit.spec.FitSpec); 'linear' says its own
    why in the path, including any fallback. A spec from the warm index
    (symgd.warm_fit.LightFitSpec) carries the choice its cold run made: returned as it
    is, with no sympy to import."""
    recorded = getattr(spec, "auto_choice", None)
    if recorded is not None:
        return recorded
    from symgd.fit.linear import linear_form

    p = spec.p
    if linear_form(spec) is not None:
        return "linear", None
    if spec.loss == "mae" and p <= AUTO_LM_MAX_VARS:
        return "irls", ("IRLS over lm (mae loss, a model nonlinear in its parameters: "
                        "a kinked loss never goes to plain newton)")
    if spec.loss == "mae":
        return "sgd", (f"sgd with a cosine schedule and patience (mae loss, {p} variables "
                       f"> {AUTO_LM_MAX_VARS}: a kinked loss never goes to plain newton)")
    if spec.least_squares and p <= AUTO_LM_MAX_VARS:
        return "lm", f"lm ({spec.loss} loss, {p} variables <= {AUTO_LM_MAX_VARS})"
    if p <= AUTO_NEWTON_MAX_VARS:
        why = "not least squares" if not spec.least_squares else f"{p} variables > 100"
        return "newton", (f"newton ({spec.loss} loss: {why}; {p} variables <= "
                          f"{AUTO_NEWTON_MAX_VARS})")
    return "lbfgs", (f"lbfgs ({spec.loss} loss, {p} variables > {AUTO_NEWTON_MAX_VARS}, "
                     "no Hessian)")


def ignored_note(method: str, ignored) -> str:
    """Result.path's note on options the method that ran does not read."""
    who = {"linear": "the closed form", "irls": "IRLS"}.get(method, method)
    return f"options not used by {who}, ignored: {', '.join(ignored)}"
