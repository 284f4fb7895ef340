"""Fits whose model is linear in its parameters: closed forms (SPEC §2, the ``auto`` row).

Such a fit has per-sample residual

    r_i(theta) = sum_j theta_j phi_j(data_i) + c(data_i) = (X theta - y)_i,   y = -c,

with X the n x p design matrix (column j = phi_j over the samples, free of the
parameters). Detection is symbolic (``linear_form``); X and y are evaluated with numpy
and checked against the compiled kernels (symgd.fit.numpy_eval).

mse / sse: min ||X theta - y||², solved by the SVD of the column-scaled X (X D⁻¹, D =
diag ||X_j||; Golub & Van Loan, Matrix Computations, 4th ed., 2013, §5.5). Singular
values below max(n, p) eps s_max make X rank deficient: the parameters moving along the
null space are named, and x is the minimum-norm minimiser (no component along it).

mae: least absolute deviations, min sum_i |y_i - x_i theta|, a linear program. Its dual
(Charnes, Cooper & Ferguson, Management Science 1, 1955; Koenker, Quantile Regression,
2005, §6.2)

    max yᵀd   subject to   Xᵀd = 0,   -1 <= d_i <= 1

has n bounded variables and p equality rows (the primal, with 2n slacks, took 2.2 s at
n = 1e4 in bench/lad.py and 244 s at 1e5 in issue 10's trial, against 0.09 s and 0.6 s
for the dual). theta are the multipliers of the
equality rows: scipy's ``eqlin.marginals`` are d(min -yᵀd)/d b_eq = -theta. The answer
is polished to the vertex it lies on (p samples fitted exactly, as every basic LAD
solution is) and certified by weak duality: for any d with Xᵀd = 0 and |d| <= 1,

    yᵀd = (y - X theta)ᵀ d <= sum_i |y_i - x_i theta|   for every theta,

so D = yᵀd (d projected onto null(Xᵀ) and scaled into the box) bounds the optimum from
below and P - D, P = sum |y - X theta|, bounds how far x is from optimal. A gap within
rounding is the optimality proof the message reports.

Above ``LP_MAX_SAMPLES`` samples ``auto`` runs IRLS instead (symgd.fit.irls), to a
loose fixed point, and closes it with the LP on the samples nearest the IRLS fit, the
others held at the signs of their residuals (Portnoy & Koenker 1997; ``reduced_lp``),
certified on all samples as above. bench/lad.py, 2 cores, p = 2: the full dual LP takes
0.09 s (simplex) at n = 1e4, 0.6 s (interior point) at 1e5 and 10.5 s at 1e6; IRLS
alone 0.15 s, 0.4 s and 9.3 s; IRLS with the reduced LP 0.011 s, 0.10 s and 1.5 s, to
the same certified optimum. Where the reduced LP does not close, IRLS goes on to its own
fixed point and reports IRLS's status.

Bounds on the variables: the closed form is used when it lies inside them (the loss
being convex, it is then the bounded optimum too); otherwise the caller runs the
iterative path (lm for mse/sse, IRLS over lm for mae) and says so in ``path``.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field

import numpy as np

from symgd.fit import numpy_eval
from symgd.outcome import Outcome
from symgd import clock  # deadlines on the clock tests can replace

EPS = np.finfo(float).eps
LOSSES = ("mse", "sse", "mae")
LP_MAX_SAMPLES = 10_000       # mae gate: above it auto runs IRLS (bench/lad.py)
LP_SIMPLEX_MAX = 20_000       # HiGHS dual simplex up to here, interior point above
MAX_DESIGN_ENTRIES = 20_000_000   # n * p: X in memory (160 MB) at most
IRLS_START_TOL = 1e-3         # large n: IRLS this far, then the reduced LP
GLOB_MIN_PER_PARAM = 50       # reduced LP: at least 50 p samples,
GLOB_SQRT_FACTOR = 3.0        # and 3 sqrt(n p) (Portnoy & Koenker use O(sqrt(n p)))
# HiGHS's default 1e-7 feasibility tolerances stop the dual simplex up to 4e-11 (relative)
# short of the optimum at n = 1e5 (bench/lad.py); 1e-9 closes it at no cost in time
HIGHS_TOLERANCES = {"primal_feasibility_tolerance": 1e-9, "dual_feasibility_tolerance": 1e-9}
GAP_RTOL = 1e-9               # duality gap accepted, relative to the objective
NULL_TOL = 1e-8               # a parameter moves along a null direction


@dataclass(frozen=True)
class LinearForm:
    """r = sum_j theta_j basis[j] + offset, basis and offset free of the parameters."""

    basis: tuple
    offset: object   # a sympy expression


@functools.lru_cache(maxsize=64)
def linear_form(spec) -> LinearForm | None:
    """The LinearForm of a fit with loss mse, sse or mae (a model fit, or a per-sample
    square recognised as mse/sse) whose residual is linear in the parameters; else None.

    Linear means every derivative dr/dtheta_j is free of the parameters (Derivative
    objects left unevaluated count as not free).
    """
    recorded = getattr(spec, "linear", None)
    if recorded is not None:  # from the warm index (symgd.warm_fit.RecordedForm)
        return recorded
    if spec.loss not in LOSSES or spec.value is None:
        return None
    import sympy as sp  # not at import: a warm auto fit runs without sympy
    r = spec.value
    params = set(spec.symbols)
    basis = []
    for s in spec.symbols:
        d = sp.diff(r, s)
        if d.has(sp.Derivative) or (d.free_symbols & params) or d.has(sp.nan, sp.zoo):
            return None
        basis.append(d)
    offset = r.xreplace({s: sp.S.Zero for s in spec.symbols})
    if offset.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or (offset.free_symbols & params):
        return None
    return LinearForm(tuple(basis), offset)


def design(form: LinearForm, spec, data):
    """(X, y) over the samples, X of shape (n, p) and y = -offset, or None when numpy
    cannot evaluate them (finite, real) or X would exceed MAX_DESIGN_ENTRIES."""
    n, p = data.n_samples, len(form.basis)
    if n * p > MAX_DESIGN_ENTRIES:
        return None
    fn = numpy_eval.columns_function(list(form.basis) + [form.offset], spec.data_symbols)
    if fn is None:
        return None
    cols = numpy_eval.evaluate(fn, numpy_eval.data_arrays(spec, data), n)
    if cols is None:
        return None
    X = np.empty((n, p))
    for j in range(p):
        X[:, j] = cols[j]
    return X, -np.array(cols[p])


def agrees(spec, K, X, y, x0) -> bool:
    """X theta - y matches the kernels' residuals at the start and at a second point
    (a guard against numpy and the kernels reading a function differently)."""
    x1 = x0 + 1.0 + 0.5 * np.abs(x0)
    return all(numpy_eval.agrees_with_kernels(K, t, X @ t - y) for t in (x0, x1))


# ----------------------------------------------------------------------------- rank
@dataclass
class Rank:
    """The SVD of the column-scaled design X D⁻¹ = U diag(s) Vt, truncated to rank."""

    scale: np.ndarray      # D: column norms (1 for a zero column)
    U: np.ndarray          # n x rank: an orthonormal basis of range(X)
    s: np.ndarray          # the rank leading singular values
    Vt: np.ndarray         # p x p (all right singular vectors)
    rank: int

    def null_space(self) -> np.ndarray:
        """p x (p - rank): directions in theta along which X theta does not change."""
        N = self.Vt[self.rank:].T / self.scale[:, None]
        if N.size:
            N, _ = np.linalg.qr(N)
        return N


def rank_analysis(X) -> Rank:
    n, p = X.shape
    D = np.sqrt(np.einsum("ij,ij->j", X, X))
    D[~(D > 0.0)] = 1.0
    U, s, Vt = np.linalg.svd(X / D, full_matrices=False)
    tol = (s[0] if s.size else 0.0) * max(n, p) * EPS
    r = int(np.sum(s > tol)) if s.size and s[0] > 0.0 else 0
    return Rank(D, U[:, :r], s[:r], Vt, r)


def undetermined_text(N, names) -> str:
    """Words for the null space N: which parameters the data do not determine, and the
    directions along which the fit does not change."""
    moving = [names[j] for j in range(N.shape[0]) if np.max(np.abs(N[j])) > NULL_TOL]
    dirs = []
    for k in range(N.shape[1]):
        v = N[:, k] / np.max(np.abs(N[:, k]))
        terms = [f"{v[j]:+.6g} {names[j]}" for j in range(v.size) if abs(v[j]) > NULL_TOL]
        dirs.append("(" + " ".join(terms).lstrip("+") + ")")
    return (f"{', '.join(moving)} are not determined by the data: the fit is the same "
            f"along {'; '.join(dirs)}")


def _minimum_norm(theta, N):
    """theta without its component along the null space N (orthonormal columns)."""
    return theta - N @ (N.T @ theta) if N.size else theta


# ----------------------------------------------------------------------------- solutions
@dataclass
class LinearAnswer:
    """What a closed form produced: theta, how (``how``: words for ``path``), the
    status and message, iterations of the solver inside (LP iterations, IRLS sweeps),
    and what produced theta (``method``: 'analytic', or 'irls' when IRLS's own fixed
    point is the answer)."""

    theta: np.ndarray
    status: str
    how: str
    message: str
    iterations: int = 0
    method: str = "analytic"
    history: list = field(default_factory=list)


def least_squares(X, y, names, R: Rank | None = None) -> LinearAnswer:
    """min ||X theta - y||² by the SVD of the column-scaled X; minimum-norm when X is
    rank deficient (and the message says which parameters the data leave free)."""
    R = rank_analysis(X) if R is None else R
    p = X.shape[1]
    phi = R.Vt[:R.rank].T @ ((R.U.T @ y) / R.s)
    theta = phi / R.scale
    how = f"SVD of the column-scaled design, rank {R.rank} of {p}"
    if R.rank == p:
        msg = (f"linear least squares: the unique minimiser (design of full rank {p}, "
               f"condition number {R.s[0] / R.s[-1]:.3g} after column scaling)")
        return LinearAnswer(theta, "solved", how, msg)
    N = R.null_space()
    theta = _minimum_norm(theta, N)
    msg = (f"linear least squares: the design has rank {R.rank} < {p} parameters; "
           f"{undetermined_text(N, names)}; x is the minimiser of least norm, one of "
           "infinitely many")
    return LinearAnswer(theta, "solved", how, msg)


def _vertex(X, y, theta, P, d=None):
    """The basic solution next to theta: p samples with linearly independent rows,
    fitted exactly: first those whose dual value d_i lies inside (-1, 1) (complementary
    slackness puts their residual at zero), then those of smallest |residual|. Returned
    with its objective when that is no worse than P (the LP's own theta carries the
    solver's rounding), else (theta, P)."""
    n, p = X.shape
    k = min(n, 4 * p + 16)
    res = np.abs(y - X @ theta)
    if d is not None:
        inside = np.flatnonzero(np.abs(d) < 1.0 - 1e-9)
        res = res.copy()
        res[inside] = -1.0 / (1.0 + res[inside])   # ahead of all others, by |r|
    cand = np.argpartition(res, k - 1)[:k] if k < n else np.arange(n)
    cand = cand[np.argsort(res[cand], kind="stable")]
    Q = np.zeros((p, 0))
    rows = []
    for i in cand:
        v = X[i]
        w = v - Q @ (Q.T @ v)
        nw = float(np.linalg.norm(w))
        if nw > 1e-10 * float(np.linalg.norm(v)):
            Q = np.column_stack([Q, w / nw])
            rows.append(int(i))
            if len(rows) == p:
                break
    if len(rows) < p:
        return theta, P
    XB, yB = X[rows], y[rows]
    try:
        tv = np.linalg.solve(XB, yB)
        tv = tv + np.linalg.solve(XB, yB - XB @ tv)   # one step of iterative refinement
    except np.linalg.LinAlgError:
        return theta, P
    Pv = float(np.sum(np.abs(y - X @ tv)))
    return (tv, Pv) if Pv <= P else (theta, P)


def duality_bound(X, y, d, R: Rank, theta) -> tuple:
    """(P, D, tol): the LAD objective at theta, the dual bound from d made exactly
    feasible (projected onto null(Xᵀ), scaled into the box), and the gap within rounding."""
    d = np.asarray(d, dtype=float)
    d = d - R.U @ (R.U.T @ d)
    big = float(np.max(np.abs(d))) if d.size else 0.0
    if big > 1.0:
        d = d / big
    P = float(np.sum(np.abs(y - X @ theta)))
    D = float(y @ d)
    rounding = 64.0 * EPS * float(np.sum(np.abs(y)) + np.sum(np.abs(X) @ np.abs(theta)))
    return P, D, GAP_RTOL * P + rounding


def lad_lp(X, y, names, R: Rank | None = None, *, time_limit=None,
           solver: str | None = None) -> LinearAnswer | None:
    """Least absolute deviations by the dual LP with HiGHS; None when HiGHS does not
    report an optimum (the caller then runs IRLS). ``solver``: 'highs-ds' or
    'highs-ipm' (default: dual simplex up to LP_SIMPLEX_MAX samples, else IPM)."""
    from scipy.optimize import linprog

    R = rank_analysis(X) if R is None else R
    n, p = X.shape
    cs, sy = _lp_scales(X, y)   # theta is scaled back below
    method = solver or ("highs-ds" if n <= LP_SIMPLEX_MAX else "highs-ipm")
    simplex = method == "highs-ds"
    opts = dict(HIGHS_TOLERANCES)
    if time_limit is not None:
        opts["time_limit"] = max(float(time_limit), 1e-3)
    res = linprog(-y / sy, A_eq=np.ascontiguousarray((X / cs).T), b_eq=np.zeros(p),
                  bounds=(-1.0, 1.0), method=method, options=opts)
    marg = getattr(getattr(res, "eqlin", None), "marginals", None)
    if res.status != 0 or marg is None or not np.all(np.isfinite(marg)):
        return None
    theta = -np.asarray(marg, dtype=float) * sy / cs
    P = float(np.sum(np.abs(y - X @ theta)))
    if R.rank == p:
        theta, P = _vertex(X, y, theta, P, res.x)
    N = R.null_space()
    theta = _minimum_norm(theta, N)
    P, D, tol = duality_bound(X, y, res.x, R, theta)
    solver = "dual simplex" if simplex else "interior point with crossover"
    how = f"LP dual, HiGHS {solver}"
    gap = P - D
    if not gap <= tol:
        return LinearAnswer(theta, "stalled", how,
                            f"the LP's answer is not certified: sum |r| = {P:.17g} but the "
                            f"dual bound is {D:.17g} (gap {gap:.3g} > {tol:.3g})",
                            int(getattr(res, "nit", 0) or 0))
    msg = f"least absolute deviations by linear programming; {_certified(P, D, tol)}"
    if R.rank < p:
        msg += f"; the design has rank {R.rank} < {p}: {undetermined_text(N, names)}"
    return LinearAnswer(theta, "solved", how, msg, int(getattr(res, "nit", 0) or 0))


def _lp_scales(X, y):
    """Column and objective scales that give HiGHS unit rows and costs."""
    cs = np.max(np.abs(X), axis=0) if X.shape[0] else np.ones(X.shape[1])
    cs[~(cs > 0.0)] = 1.0
    sy = float(np.max(np.abs(y))) if y.size else 0.0
    return cs, (sy if sy > 0.0 else 1.0)


def reduced_lp(X, y, theta, *, deadline=None):
    """The dual LP on the samples nearest the fit theta, the others held at the signs of
    their residuals (Portnoy & Koenker, "The Gaussian hare and the Laplacian tortoise",
    Statistical Science 12, 1997, §3): with M the m samples of smallest |r| and G the
    rest, s_G = sign(r_G),

        max y_Mᵀ d_M   subject to   X_Mᵀ d_M = -X_Gᵀ s_G,   -1 <= d_M <= 1.

    If the new theta leaves every sample of G on the side of its sign, (d_M, s_G) is
    feasible and complementary for the full dual, so theta is optimal for all samples;
    else m doubles (and theta moves to the new fit). Returns (theta, d, m, LP
    iterations) or None when m would pass n/2, or HiGHS fails."""
    from scipy.optimize import linprog

    n, p = X.shape
    cs, sy = _lp_scales(X, y)
    m = max(GLOB_MIN_PER_PARAM * p, int(GLOB_SQRT_FACTOR * math.sqrt(n * p)))
    nit = 0
    while 2 * m <= n:
        if deadline is not None and clock.now() >= deadline:
            return None
        r = y - X @ theta
        rounding = 64.0 * EPS * (np.abs(y) + np.abs(X) @ np.abs(theta))
        near = np.abs(r) <= rounding        # no sign to hold: must be free in the LP
        if 2 * int(near.sum()) > n:
            return None
        order = np.argpartition(np.abs(r), m - 1)[:m]
        M = np.zeros(n, dtype=bool)
        M[order] = True
        M |= near
        s = np.sign(r[~M])
        res = linprog(-y[M] / sy, A_eq=np.ascontiguousarray((X[M] / cs).T),
                      b_eq=-(X[~M] / cs).T @ s, bounds=(-1.0, 1.0), method="highs-ds",
                      options=dict(HIGHS_TOLERANCES))
        nit += int(getattr(res, "nit", 0) or 0)
        marg = getattr(getattr(res, "eqlin", None), "marginals", None)
        if res.status == 0 and marg is not None and np.all(np.isfinite(marg)):
            theta = -np.asarray(marg, dtype=float) * sy / cs
            rG = y[~M] - X[~M] @ theta
            tolG = 64.0 * EPS * (np.abs(y[~M]) + np.abs(X[~M]) @ np.abs(theta))
            if not np.any(s * rG < -tolG):
                d = np.empty(n)
                d[M] = res.x
                d[~M] = s
                return theta, d, int(M.sum()), nit
        elif res.status not in (0, 2):     # 2: infeasible for this m, take more samples
            return None
        m *= 2
    return None


def lad_large(X, y, names, R: Rank, *, tol, max_iter, deadline=None) -> LinearAnswer:
    """Least absolute deviations for many samples: IRLS to IRLS_START_TOL, then the
    reduced LP (reduced_lp) certified by LP duality on all samples; if the reduced LP
    does not close, IRLS on to its own fixed point at ``tol`` (status as IRLS's)."""
    from symgd.fit.irls import irls_linear

    n, p = X.shape
    o = irls_linear(X, y, tol=max(tol, IRLS_START_TOL), max_iter=max_iter,
                    deadline=deadline)
    if o.status == "interrupted":
        return LinearAnswer(o.theta, o.status, "IRLS", o.message, o.iterations, "irls",
                            o.history)
    if o.d is not None:
        P, D, gtol = duality_bound(X, y, o.d, R, o.theta)
        if P - D <= gtol:
            return LinearAnswer(o.theta, "solved", "IRLS, certified by LP duality",
                                f"least absolute deviations by IRLS ({o.iterations} "
                                f"reweightings); {_certified(P, D, gtol)}", o.iterations,
                                history=o.history)
    got = reduced_lp(X, y, o.theta, deadline=deadline)
    if got is not None:
        theta, d, m, nit = got
        P = float(np.sum(np.abs(y - X @ theta)))
        if R.rank == p:
            theta, P = _vertex(X, y, theta, P, d)
        N = R.null_space()
        theta = _minimum_norm(theta, N)
        P, D, gtol = duality_bound(X, y, d, R, theta)
        if P - D <= gtol:
            msg = (f"least absolute deviations: IRLS ({o.iterations} reweightings), then "
                   f"the LP on the {m} samples nearest its fit with the other {n - m} held "
                   f"at the signs of their residuals; {_certified(P, D, gtol)} (all "
                   "samples)")
            if R.rank < p:
                msg += f"; the design has rank {R.rank} < {p}: {undetermined_text(N, names)}"
            return LinearAnswer(theta, "solved", f"IRLS, then the LP on the {m} samples "
                                "nearest its fit (HiGHS dual simplex)", msg,
                                o.iterations + nit, history=o.history)
    left = max(max_iter - o.iterations, 0)
    o2 = irls_linear(X, y, tol=tol, max_iter=left, deadline=deadline, theta0=o.theta)
    k = o.iterations + o2.iterations
    msg = o2.message.replace(f"after {o2.iterations} reweightings", f"after {k} reweightings")
    if o2.d is not None:
        P, D, _ = duality_bound(X, y, o2.d, R, o2.theta)
        msg += f"; by LP duality the least sum |r| lies in [{D:.12g}, {P:.12g}]"
    return LinearAnswer(o2.theta, o2.status, "IRLS (the reduced LP did not close)", msg, k,
                        "irls", o.history + o2.history)


def _certified(P, D, gtol) -> str:
    return (f"optimality certified by LP duality: sum |r| = {P:.12g}, dual bound "
            f"{D:.12g}, gap {max(P - D, 0.0):.3g} <= {gtol:.3g}")


# ----------------------------------------------------------------------------- the run
@dataclass
class LinearRun:
    """What run_linear did: an outcome (symgd.outcome.Outcome) and the method that
    produced x ('analytic' or 'irls'), or a fallback method with the reason."""

    outcome: object = None
    method: str | None = None
    note: str = ""
    fallback: str | None = None
    timings: dict = field(default_factory=dict)


def _fallback(spec, why) -> LinearRun:
    if spec.loss == "mae":
        return LinearRun(fallback="irls", note=f"{why}: IRLS over lm instead")
    return LinearRun(fallback="lm", note=f"{why}: lm instead")


def _in_box(theta, lo, hi) -> bool:
    return bool(np.all(theta >= lo) and np.all(theta <= hi))


def run_linear(spec, K, data, form, x0, lo, hi, opts, deadline, *,
               lp_max_samples: int | None = None) -> LinearRun:
    """The closed form of a linear fit (least squares, LAD by LP) or, for mae above the
    LP gate, IRLS on the design; a fallback method when none applies."""
    names = spec.names
    plist = ", ".join(names)
    t0 = time.perf_counter()
    built = design(form, spec, data)
    if built is None:
        why = ("the design matrix would hold more than "
               f"{MAX_DESIGN_ENTRIES:.3g} numbers" if data.n_samples * spec.p >
               MAX_DESIGN_ENTRIES else "numpy cannot evaluate the model's terms")
        return _fallback(spec, f"model linear in {plist}, but {why}")
    X, y = built
    if not agrees(spec, K, X, y, x0):
        return _fallback(spec, f"model linear in {plist}, but numpy and the compiled "
                               "kernels disagree on its residuals")
    timings = {"design": time.perf_counter() - t0}
    t1 = time.perf_counter()
    R = rank_analysis(X)
    n = data.n_samples
    gate = LP_MAX_SAMPLES if lp_max_samples is None else lp_max_samples
    if spec.loss == "mae" and n > gate:
        ans = lad_large(X, y, names, R, tol=opts["tol"], max_iter=opts["max_iter"],
                        deadline=deadline)
        what = (f"linear least absolute deviations by IRLS (model linear in {plist}; "
                f"{n} samples > {gate}, where the full LP is the slower, bench/lad.py; "
                f"{ans.how})")
    elif spec.loss == "mae":
        left = None if deadline is None else deadline - clock.now()
        ans = lad_lp(X, y, names, R, time_limit=left)
        if ans is None:
            return _fallback(spec, f"HiGHS reported no optimum for the LAD linear program "
                                   f"(model linear in {plist})")
        what = f"linear least absolute deviations (model linear in {plist}; {ans.how})"
    else:
        ans = least_squares(X, y, names, R)
        what = f"linear least squares (model linear in {plist}; {ans.how})"
    timings["analytic"] = time.perf_counter() - t1
    if not _in_box(ans.theta, lo, hi):
        out = [names[j] for j in range(spec.p) if not lo[j] <= ans.theta[j] <= hi[j]]
        return _fallback(spec, f"{what} lies outside the bounds of {', '.join(out)}")
    out = Outcome(ans.status, ans.theta.copy(), iterations=ans.iterations,
                  evaluations={"design": 1}, message=ans.message,
                  history=[K.scale * h for h in ans.history])
    return LinearRun(out, ans.method, what, timings=timings)

