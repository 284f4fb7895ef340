"""The interior-point method's sparse primal-dual system (symgd.constrained.primal_dual):
its inertia verdicts and steps against the dense eigendecomposition, and sqp runs on
problems with hundreds of variables against answers worked here (numpy's solve of a
KKT system, a projection by hand, hand-derived KKT measures)."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symgd
from symgd.constrained import primal_dual, sparse_newton
from symgd.kernelgen.sparse_pattern import clique_neighbours, pattern_of
from constrained_helpers import count_calls, kkt_measures, rosenbrock_discs


def _systems(n, rows, ineq):
    """(SparseKKT, DenseKKT) of n variables, constraints on the variables ``rows``,
    the rows ``ineq`` inequalities (their slacks follow x)."""
    m = len(rows)
    slack = {int(i): n + k for k, i in enumerate(ineq)}
    ext = [np.array(sorted(r) + ([slack[i]] if i in slack else []), dtype=np.int64)
           for i, r in enumerate(rows)]
    N = n + len(ineq)
    chain = [np.array([i, i + 1]) for i in range(n - 1)]
    pattern = pattern_of(clique_neighbours(chain + ext, N))
    return primal_dual.SparseKKT(n, np.asarray(ineq), pattern, ext), \
        primal_dual.DenseKKT(n, np.asarray(ineq), m)


class _Dense:
    """A bundle of fixed dense matrices, in the interface primal_dual reads: the
    objective's Hessian W, the constraints' Jacobian J, no constraint curvature."""

    def __init__(self, W, J):
        self.W = W
        self.constraints = self
        self.J, self.m = J, J.shape[0]
        self.jac_coo = self.hess_coo = ()

    def hessian_coo(self):
        return None

    def hess(self, x, H):
        H[:, :] = self.W

    def jacobian(self, x):
        return self.J

    def weighted_hessian(self, x, y):
        return np.zeros_like(self.W)


def _prepared(system, W, sig, J):
    bundle = _Dense(W, J)
    x, y = np.zeros(W.shape[0]), np.zeros(J.shape[0])
    return system.prepare(system.lagrangian_hessian(bundle, x, y), sig,
                          system.jacobian(bundle, x))


def _tridiagonal(n, rng, low):
    W = np.diag(rng.uniform(low, low + 3.0, n))
    for i in range(n - 1):
        W[i, i + 1] = W[i + 1, i] = rng.uniform(-1.0, 1.0)
    return W


def _jacobian(n, rows, rng):
    J = np.zeros((len(rows), n))
    for i, r in enumerate(rows):
        J[i, r] = rng.uniform(0.5, 2.0, len(r)) * rng.choice([-1.0, 1.0], len(r))
    return J


@pytest.mark.parametrize("seed", range(6))
def test_inertia_verdicts_and_steps_match_the_eigendecomposition(seed):
    """Tridiagonal W from positive definite to strongly indefinite, Sigma > 0, 12
    constraints of 2-3 variables (7 inequalities with slacks): for every shift the
    sparse verdict ("ok" / "wrong") is the dense one, and where "ok" both solve K s =
    rhs to the same s."""
    rng = np.random.default_rng(seed)
    n = 40
    rows = [sorted(rng.choice(n, size=int(rng.integers(2, 4)), replace=False))
            for _ in range(12)]
    ineq = np.arange(5, 12)
    sparse, dense = _systems(n, rows, ineq)
    W = _tridiagonal(n, rng, low=-4.0 + seed)
    sig = rng.uniform(0.0, 2.0, n + ineq.size)
    J = _jacobian(n, rows, rng)
    assert _prepared(sparse, W, sig, J) and _prepared(dense, W, sig, J)
    rhs = rng.normal(size=n + ineq.size + len(rows))
    seen = set()
    for shift in (0.0, 1e-4, 0.3, 1.0, 3.0, 10.0, 100.0):
        (v_sparse, solve_sparse), (v_dense, solve_dense) = \
            sparse.factor(shift, 0.0), dense.factor(shift, 0.0)
        assert v_sparse == v_dense, (shift, v_sparse, v_dense)
        seen.add(v_dense)
        if v_dense == "ok":
            np.testing.assert_allclose(solve_sparse(rhs), solve_dense(rhs), rtol=1e-9,
                                       atol=1e-9)
    if seed <= 2:
        assert seen == {"ok", "wrong"}   # the shifts cross the inertia's boundary


def test_a_rank_deficient_jacobian_is_singular_until_the_constraints_are_regularised():
    """Two equality rows equal: K is singular ("singular", so the caller sets d_c);
    with d_c > 0 the sparse step is the dense one."""
    rng = np.random.default_rng(3)
    n = 30
    rows = [[2, 3], [2, 3], [10, 11, 12]]
    sparse, dense = _systems(n, rows, np.array([2]))
    J = _jacobian(n, rows, rng)
    J[1] = J[0]
    W = _tridiagonal(n, rng, low=2.0)
    sig = rng.uniform(0.1, 1.0, n + 1)
    for system in (sparse, dense):
        assert _prepared(system, W, sig, J)
        assert system.factor(0.0, 0.0)[0] == "singular"
    rhs = rng.normal(size=n + 1 + 3)
    (v1, s1), (v2, s2) = sparse.factor(0.0, 1e-6), dense.factor(0.0, 1e-6)
    assert v1 == v2 == "ok"
    np.testing.assert_allclose(s1(rhs), s2(rhs), rtol=1e-8, atol=1e-8)


def _count_sparse_factors(monkeypatch):
    return count_calls(monkeypatch, primal_dual.SparseKKT, "factor")


def test_bounds_and_pair_inequalities_give_the_projection_worked_by_hand(monkeypatch):
    """min sum (x_i - a_i)^2 s.t. x_{2k} + x_{2k+1} <= 1, 0 <= x_i <= 0.8, n = 300: each
    pair is the projection of (a_{2k}, a_{2k+1}) onto {u + v <= 1} within the box,
    worked in closed form: clip each coordinate; if the sum still exceeds 1, u =
    clip((1 + a_u - a_v) / 2, 0.2, 0.8) and v = 1 - u (the line's part in the box)."""
    calls = _count_sparse_factors(monkeypatch)
    n = 300
    rng = np.random.default_rng(11)
    a = rng.uniform(-0.5, 1.5, n)
    x = sp.symbols(f"x0:{n}", real=True)
    f = sp.Add(*[(x[i] - a[i]) ** 2 for i in range(n)])
    cons = [sp.Le(x[2 * k] + x[2 * k + 1], 1) for k in range(n // 2)]
    p = symgd.Problem(minimize=f, variables={s: {"start": 0.5, "lower": 0.0, "upper": 0.8}
                                             for s in x}, constraints=cons)
    r = symgd.solve(p, method="sqp")
    assert r.status == "converged", r.message
    assert calls, "the sparse system was not used"
    want = np.empty(n)
    for k in range(n // 2):
        u, v = np.clip(a[2 * k:2 * k + 2], 0.0, 0.8)
        if u + v > 1.0:
            u = float(np.clip((1.0 + a[2 * k] - a[2 * k + 1]) / 2.0, 0.2, 0.8))
            v = 1.0 - u
        want[2 * k:2 * k + 2] = u, v
    np.testing.assert_allclose(r.x, want, rtol=0, atol=1e-7)


def test_nonconvex_sparse_and_dense_runs_reach_the_same_kkt_point(monkeypatch):
    """Chained Rosenbrock with 120 disc constraints, n = 240: the sparse and the dense
    systems take the same steps to the same point, and its KKT conditions hold by
    hand-derived gradients."""
    calls = _count_sparse_factors(monkeypatch)
    p = rosenbrock_discs(240)
    sparse = symgd.solve(p, method="sqp")
    assert calls
    monkeypatch.setattr(sparse_newton, "MIN_VARS", 10 ** 9)
    dense = symgd.solve(rosenbrock_discs(240), method="sqp")
    assert sparse.status == dense.status == "converged", (sparse.message, dense.message)
    assert sparse.iterations == dense.iterations
    np.testing.assert_allclose(sparse.x, dense.x, rtol=0, atol=1e-8)
    viol, stat, sign, comp = kkt_measures(sparse.x, p, sparse.extra["multipliers"])
    assert viol <= 1e-8 and stat <= 1e-6 and sign <= 1e-8 and comp <= 1e-6, \
        (viol, stat, sign, comp)
