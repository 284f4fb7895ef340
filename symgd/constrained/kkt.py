"""KKT measures at a point, SPEC §4's multiplier convention, and the KKT-Newton polish.

Problem (minimised sense): min f(x) s.t. c_i(x) = 0 (i in E), c_i(x) <= 0 (i in I),
lo <= x <= hi. A KKT point has multipliers y with y_i >= 0 on I and

    grad f + J^T y - z = 0,   c_E = 0,  c_I <= 0,  y_i c_i = 0 (i in I),

z the bound multipliers (z_j >= 0 at a lower bound, <= 0 at an upper, 0 if free);
Nocedal & Wright, Numerical Optimization, 2nd ed., Thm. 12.1. Success is claimed only
from these measures recomputed at the returned point (SPEC §2 "With constraints").
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ACTIVE_BOUND_REL = 1e-10     # x_j within this (relative) of a bound: on it
POLISH_MAX_STEPS = 20
POLISH_MAX_MOVE = 1e-2       # relative move allowed from the point polished
# a Newton step that shrinks the KKT residual by less than this factor: Newton has met
# rounding noise, or converges only linearly (a degenerate point); stop there
POLISH_CONTRACTION = 0.1
# The polish's KKT system goes to a sparse LU from this many unknowns where at most
# this share of it is nonzero (symgd.constrained.sparse_newton's problems)
SPARSE_KKT_MIN = 400
SPARSE_KKT_DENSITY = 0.05


@dataclass(frozen=True)
class Measures:
    """The three quantities of SPEC §2's constrained test, at one (x, y)."""

    violation: float        # largest constraint or bound violation
    complementarity: float  # largest |y_i c_i| over inequalities, and any y_i < 0 there
    rel_grad: float         # relative gradient of the Lagrangian, bounds projected
    grad_lagrangian: np.ndarray
    f: float

    def ok(self, tol: float, ctol: float) -> bool:
        return self.violation <= ctol and self.complementarity <= ctol and \
            self.rel_grad <= tol


def violation(ck, c, x, lo, hi) -> float:
    """max(|c_E|, max(c_I, 0), bound violation)."""
    v = 0.0
    if c.size:
        v = float(np.max(np.where(ck.equality, np.abs(c), np.maximum(c, 0.0))))
    if x.size:
        v = max(v, float(np.max(np.maximum(lo - x, 0.0))), float(np.max(np.maximum(x - hi, 0.0))))
    return v


def projected_lagrangian_gradient(gl, x, lo, hi) -> np.ndarray:
    """grad L with the components a bound absorbs removed: at a lower bound only a
    negative component (a push out of the box would be met by z_j >= 0) counts."""
    out = gl.copy()
    scale = np.maximum(1.0, np.abs(x))
    at_lo = x - lo <= ACTIVE_BOUND_REL * scale
    at_hi = hi - x <= ACTIVE_BOUND_REL * scale
    out[at_lo] = np.minimum(out[at_lo], 0.0)
    out[at_hi] = np.maximum(out[at_hi], 0.0)
    out[at_lo & at_hi] = 0.0   # a fixed variable
    return out


def _sparse_system(bundle):
    """The run's sparse Newton system (symgd.constrained.sparse_newton), or None where
    its matrices are dense."""
    from symgd.constrained.sparse_newton import SparseSystem
    return SparseSystem.for_run(bundle)


def jacobian(bundle, x):
    """J at x: CSR (symgd.constrained.sparse_jacobian) where the run's Newton systems
    are sparse (no m x n matrix), else dense."""
    system = _sparse_system(bundle)
    ck = bundle.constraints
    return ck.jacobian(x) if system is None else system.jac_layout.matrix(ck, x)


def measures(bundle, x, y, lo, hi, typical) -> Measures:
    """Violation, complementarity and the Lagrangian's relative gradient at (x, y)."""
    ck = bundle.constraints
    g = np.zeros(x.size)
    f = float(bundle.fg(x, g))
    c = ck.values(x)
    gl = g + (jacobian(bundle, x).T @ y if ck.m else 0.0)
    pg = projected_lagrangian_gradient(gl, x, lo, hi)
    ineq = ~ck.equality
    comp = 0.0
    if np.any(ineq):
        comp = float(np.max(np.abs(y[ineq] * c[ineq])))
        comp = max(comp, float(np.max(np.maximum(-y[ineq], 0.0))))
    typx, typf = typical
    rel = float(np.max(np.abs(pg) * np.maximum(np.abs(x), typx), initial=0.0)) / max(abs(f), typf)
    if not (math.isfinite(f) and np.all(np.isfinite(gl))):
        rel = math.inf
    return Measures(violation(ck, c, x, lo, hi), comp, rel, gl, f)


def user_multipliers(ck, y, gl, x, lo, hi, names, sense) -> dict:
    """SPEC §4: multipliers[c] = d(optimal value)/d(rhs of c), the user's objective.

    With c_i = lhs - rhs (== and <=) raising the rhs by e moves c_i by -e, so the
    minimised optimum changes by -y_i; for >= (c_i = rhs - lhs) by +y_i. The user's
    objective is s f (s = -1 for maximize). Bounds are keyed as the closed form keys
    them ("x >= 0"); with lhs - rhs = x_j - b for each, the multiplier is the
    Lagrangian's gradient component there, s (grad f + J^T y)_j, on either side."""
    s = -1.0 if sense == "maximize" else 1.0
    out = {}
    for i, (text, rel) in enumerate(zip(ck.texts, ck.relations)):
        out[text] = float(s * y[i] if rel == ">=" else -s * y[i]) + 0.0
    scale = np.maximum(1.0, np.abs(x))
    for j, name in enumerate(names):
        l, h = lo[j], hi[j]
        fixed = math.isfinite(l) and l == h
        if fixed:
            out[f"{name} == {_number_text(l)}"] = float(s * gl[j]) + 0.0
            continue
        if math.isfinite(l):
            on = x[j] - l <= ACTIVE_BOUND_REL * scale[j] and gl[j] > 0.0
            out[f"{name} >= {_number_text(l)}"] = float(s * gl[j]) + 0.0 if on else 0.0
        if math.isfinite(h):
            on = h - x[j] <= ACTIVE_BOUND_REL * scale[j] and gl[j] < 0.0
            out[f"{name} <= {_number_text(h)}"] = float(s * gl[j]) + 0.0 if on else 0.0
    return out


def _number_text(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def polish(bundle, x0, y0, lo, hi, active_tol: float, max_steps: int = POLISH_MAX_STEPS):
    """Newton on the KKT equations of the active set identified at (x0, y0).

    Active: every equality; inequalities with y_i > 0 or c_i >= -active_tol; variables
    on a bound that the Lagrangian's gradient pushes against stay fixed. Unknowns are
    the free x and the active y; each step solves

        [[H_L, J_A^T], [J_A, 0]] (dx, dy) = -(grad_x L, c_A)      (N&W eq. 18.9)

    by least squares (degenerate active sets stay solvable). It stops when the residual
    is at rounding level, or when a step shrinks it by less than POLISH_CONTRACTION
    (the residual's noise floor at that scale, or linear convergence: further steps
    would be evaluations spent for little). Returns the evaluated (x, y) of smallest
    residual, for the caller to test, or None when Newton diverges or moves far from x0."""
    ck = bundle.constraints
    n, m = x0.size, ck.m
    c0 = ck.values(x0)
    g = np.zeros(n)
    bundle.fg(x0, g)
    gl = g + (jacobian(bundle, x0).T @ y0 if m else 0.0)
    scale = np.maximum(1.0, np.abs(x0))
    fixed = ((x0 - lo <= ACTIVE_BOUND_REL * scale) & (gl >= 0.0)) | \
            ((hi - x0 <= ACTIVE_BOUND_REL * scale) & (gl <= 0.0)) | (lo == hi)
    x = x0.copy()
    x[fixed & (x0 - lo <= ACTIVE_BOUND_REL * scale)] = lo[fixed & (x0 - lo <= ACTIVE_BOUND_REL * scale)]
    x[fixed & (hi - x0 <= ACTIVE_BOUND_REL * scale)] = hi[fixed & (hi - x0 <= ACTIVE_BOUND_REL * scale)]
    act = ck.equality | (y0 > 0.0) | (c0 >= -active_tol)
    A = np.flatnonzero(act)
    F = np.flatnonzero(~fixed)
    if F.size == 0:
        return None
    y = np.where(act, y0, 0.0)
    system = _sparse_system(bundle)
    res0 = res_last = None
    best = None
    for _ in range(max_steps):
        f = bundle.fg(x, g)
        c = ck.values(x)
        J = jacobian(bundle, x)
        gl = g + (J.T @ y if m else 0.0)
        r = np.concatenate([gl[F], c[A]])
        if not (math.isfinite(f) and np.all(np.isfinite(r))):
            return None
        res = float(np.max(np.abs(r), initial=0.0))
        gscale = max(1.0, float(np.max(np.abs(g[F]), initial=0.0)))
        if res0 is None:
            res0 = res
        if best is None or res < best[2]:
            best = (x.copy(), y.copy(), res)
        if res <= 1e-14 * gscale:
            break
        if res > 1e3 * max(res0, 1e-8):
            return None
        if res_last is not None and res > POLISH_CONTRACTION * res_last:
            break
        res_last = res
        if system is not None:   # sparse: the slots of hess L, no n x n matrix
            HL = system.matrix(system.lagrangian_slots(bundle, x, y, n))
            step = kkt_step(HL[F][:, F], J[A][:, F], -r)
        else:
            HL = np.zeros((n, n))
            bundle.hess(x, HL)
            if m:
                HL += ck.weighted_hessian(x, y)
            step = kkt_step(HL[np.ix_(F, F)], J[np.ix_(A, F)], -r)
        if step is None or not np.all(np.isfinite(step)):
            return None
        x[F] += step[:F.size]
        y[A] += step[F.size:]
    if best is None:
        return None
    x, y = best[0], best[1]
    moved = float(np.max(np.abs(x - x0) / scale, initial=0.0))
    if moved > POLISH_MAX_MOVE:
        return None
    return np.clip(x, lo, hi), y


def kkt_step(H, JA, rhs):
    """The solution of [[H, JA^T], [JA, 0]] step = rhs: by least squares (rcond 1e-13,
    so a degenerate active set stays solvable) up to SPARSE_KKT_MIN unknowns; above,
    where the system is sparse (at most SPARSE_KKT_DENSITY of it nonzero), by scipy's
    sparse LU (SuperLU), whose O(n^3) dense cost would otherwise dominate a large run
    (3,000 unknowns: 2.3 s a step). None where the sparse LU finds it singular or its
    answer does not solve the system (a degenerate set: the caller keeps its point)."""
    nf, na = JA.shape[1], JA.shape[0]
    size = nf + na
    if not isinstance(H, np.ndarray):   # scipy sparse H and JA (a sparse run's polish)
        if size < SPARSE_KKT_MIN:
            H, JA = H.toarray(), JA.toarray()
        else:
            return _sparse_kkt_step(H, JA, rhs)
    nnz = np.count_nonzero(H) + 2 * np.count_nonzero(JA) if size >= SPARSE_KKT_MIN else 0
    if size < SPARSE_KKT_MIN or nnz > SPARSE_KKT_DENSITY * size * size:
        K = np.zeros((size, size))
        K[:nf, :nf] = H
        K[:nf, nf:] = JA.T
        K[nf:, :nf] = JA
        return np.linalg.lstsq(K, rhs, rcond=1e-13)[0]
    return _sparse_kkt_step(H, JA, rhs)


def _sparse_kkt_step(H, JA, rhs):
    import scipy.sparse as sps
    from scipy.sparse.linalg import splu

    K = sps.bmat([[sps.csc_matrix(H), sps.csc_matrix(JA.T)],
                  [sps.csc_matrix(JA), None]], format="csc")
    try:
        step = splu(K).solve(rhs)
    except RuntimeError:  # "Factor is exactly singular"
        return None
    scale = max(1.0, float(np.max(np.abs(rhs))))
    if not float(np.max(np.abs(K @ step - rhs))) <= 1e-8 * scale:
        return None
    return step


def reduced_curvature(bundle, x, y, lo, hi, active_tol: float,
                      saddle_tol: float | None = None) -> tuple:
    """(smallest eigenvalue, its direction) of the Lagrangian's Hessian on the tangent
    space of the strongly active constraints and bounds (positive multiplier), the
    eigenvalue relative to the largest |eigenvalue|; (0, None) when no direction is
    free (N&W Thm. 12.5/12.6: second-order conditions).

    Weakly active ones (multiplier 0) are left free: moving off them is feasible, and
    the curvature along d and -d is the same, so negative curvature there is a way
    down (HS33 at (0, 0, 2): x2 >= 0 with multiplier 0 hides f falling along x2). The
    direction's sign points into the box for the bounds it touches.

    ``saddle_tol``: on problems large enough for sparse Newton systems
    (symgd.constrained.sparse_newton), a sparse Cholesky first tries to prove the
    eigenvalue above -saddle_tol (relative); (0, None) when it does, saving the dense
    eigendecomposition (n^3: 1 s at n = 2,000)."""
    ck = bundle.constraints
    n = x.size
    g = np.zeros(n)
    bundle.fg(x, g)
    gl = g + (jacobian(bundle, x).T @ y if ck.m else 0.0)
    scale = np.maximum(1.0, np.abs(x))
    gtol = active_tol * max(1.0, float(np.max(np.abs(g), initial=0.0)))
    at_lo = x - lo <= ACTIVE_BOUND_REL * scale
    at_hi = hi - x <= ACTIVE_BOUND_REL * scale
    held = (at_lo & (gl > gtol)) | (at_hi & (gl < -gtol)) | (at_lo & at_hi)
    act = np.zeros(0, dtype=bool)
    if ck.m:
        c = ck.values(x)
        act = ck.equality | ((np.abs(y) > active_tol) & (c >= -active_tol))
    system = _sparse_system(bundle) if saddle_tol is not None else None
    if system is not None:   # the proof from the slots and the CSR J (no n x n matrix)
        slots = system.lagrangian_slots(bundle, x, y, n)
        if system.positive_on_tangent(slots, jacobian(bundle, x), act, held, saddle_tol):
            return 0.0, None
    H = np.zeros((n, n))
    bundle.hess(x, H)
    J = np.zeros((0, n))
    if ck.m:
        H = H + ck.weighted_hessian(x, y)
        J = ck.jacobian(x)
    rows = np.zeros((int(np.sum(held)), n))
    rows[np.arange(rows.shape[0]), np.flatnonzero(held)] = 1.0
    rows = list(rows) + list(J[act])
    if rows:
        M = np.array(rows)
        _, s, vt = np.linalg.svd(M)
        rank = int(np.sum(s > 1e-10 * max(1.0, s[0])))
        Z = vt[rank:].T
    else:
        Z = np.eye(n)
    if Z.shape[1] == 0 or not np.all(np.isfinite(H)):
        return 0.0, None
    eig, vec = np.linalg.eigh(Z.T @ H @ Z)
    big = max(float(np.max(np.abs(eig))), 1.0)
    d = Z @ vec[:, 0]
    if np.any(at_lo & (d < -1e-12)) or np.any(at_hi & (d > 1e-12)):
        d = -d
    return float(eig[0]) / big, d
