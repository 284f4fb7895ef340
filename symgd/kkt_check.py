"""Numerical check of a closed-form constrained critical point with the compiled kernels.

Used by ``verify`` for constrained problems (until an iterative constrained method
exists): at each point it checks feasibility, stationarity of the Lagrangian with
the reported multipliers, complementary slackness, and the second-order class from
the Hessian of the Lagrangian reduced to the tangent space of the active
constraints (Nocedal & Wright, Numerical Optimization, 2nd ed., Thm. 12.5/12.6).

Sign convention (SPEC §4): multipliers[c] is d(optimal value)/d(rhs of c), so at a
critical point grad F = sum_c lambda_c grad(lhs_c - rhs_c), F the user's objective.
"""
from __future__ import annotations

import numpy as np

STATIONARITY_TOL = 1e-7
FEASIBILITY_TOL = 1e-8
CURVATURE_TOL = 1e-8


def _constraint_functions(problem):
    """(text, relation, kernels or None, bound index or None) for constraints and bounds."""
    import symgd
    from symgd.solver import compiled

    out = []
    for c in problem.constraints:
        sub = symgd.Problem(minimize=c.lhs - c.rhs,
                            variables={v.symbol: v.start for v in problem.variables},
                            name=f"{problem.name}_constraint")
        out.append((c.text, c.relation, compiled(sub).kernels, None))
    for i, v in enumerate(problem.variables):
        if v.lower is not None:
            out.append((f"{v.name} >= {v.lower:g}", ">=", None, (i, v.lower)))
        if v.upper is not None:
            out.append((f"{v.name} <= {v.upper:g}", "<=", None, (i, v.upper)))
    return out


def _value_grad_hess(entry, x):
    text, rel, k, bound = entry
    n = x.size
    if k is None:
        i, b = bound
        g = np.zeros(n)
        g[i] = 1.0
        return x[i] - b, g, np.zeros((n, n))
    g = np.zeros(n)
    H = np.zeros((n, n))
    val = k.fg(x, g)
    k.hess(x, H)
    return val, g, H


def _class_from_eigenvalues(eig, scale) -> str:
    tol = CURVATURE_TOL * max(1.0, scale)
    if eig.size == 0:
        return "local_min_or_max"  # no free directions: a vertex of the active set
    if np.all(eig > tol):
        return "local_min"
    if np.all(eig < -tol):
        return "local_max"
    if np.any(eig > tol) and np.any(eig < -tol):
        return "saddle"
    return "degenerate"


def check_point(problem, point) -> dict:
    """KKT and second-order checks at one closed-form point (a CriticalPoint)."""
    from symgd.solver import compiled

    comp = compiled(problem)
    x = np.array([point.x[n] for n in problem.names], dtype=float)
    n = x.size
    sign = -1.0 if problem.sense == "maximize" else 1.0
    g = np.zeros(n)
    H = np.zeros((n, n))
    comp.kernels.fg(x, g)
    comp.kernels.hess(x, H)
    gF, HF = sign * g, sign * H  # the user's objective
    entries = _constraint_functions(problem)
    mult = point.multipliers
    residual = gF.copy()
    HL = HF.copy()
    violation = 0.0
    slackness = 0.0
    active_grads = []
    for entry in entries:
        text, rel = entry[0], entry[1]
        val, gc, Hc = _value_grad_hess(entry, x)
        scale = max(1.0, float(np.max(np.abs(x))) if n else 1.0)
        if rel == "==":
            violation = max(violation, abs(val))
        elif rel == "<=":
            violation = max(violation, max(val, 0.0))
        else:
            violation = max(violation, max(-val, 0.0))
        lam = 0.0 if mult is None else float(mult.get(text, 0.0) or 0.0)
        residual -= lam * gc
        HL -= lam * Hc
        if rel != "==":
            slackness = max(slackness, abs(lam * val))
        strictly_active = rel == "==" or (abs(val) <= FEASIBILITY_TOL * scale and lam != 0.0)
        if strictly_active:
            active_grads.append(gc)
    g_scale = max(1.0, float(np.max(np.abs(gF))) if n else 1.0)
    stationary = mult is None or float(np.max(np.abs(residual), initial=0.0)) <= \
        STATIONARITY_TOL * g_scale
    feasible = violation <= FEASIBILITY_TOL * max(1.0, float(np.max(np.abs(x), initial=0.0)))
    numeric_class = None
    if mult is not None:
        if active_grads:
            A = np.array(active_grads)
            _, s, vt = np.linalg.svd(A)
            rank = int(np.sum(s > 1e-10 * max(1.0, s[0])))
            Z = vt[rank:].T
        else:
            Z = np.eye(n)
        reduced = Z.T @ HL @ Z
        eig = np.linalg.eigvalsh(reduced) if reduced.size else np.zeros(0)
        numeric_class = _class_from_eigenvalues(eig, float(np.max(np.abs(HL), initial=1.0)))
    an = point.classification
    agree = (numeric_class is None or numeric_class == an or an == "degenerate"
             or numeric_class == "degenerate"
             or (numeric_class == "local_min_or_max" and an in ("local_min", "local_max")))
    return {"x": point.x, "classification_analytic": an, "classification_numeric": numeric_class,
            "classes_agree": bool(agree), "stationarity_residual":
                None if mult is None else float(np.max(np.abs(residual), initial=0.0)),
            "max_violation": violation, "complementary_slackness": slackness,
            "ok": bool(stationary and feasible and slackness <= 1e-7 * g_scale and agree)}
