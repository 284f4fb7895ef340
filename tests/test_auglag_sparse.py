"""auglag's sparse Newton systems (symgd.constrained.sparse_newton) on problems with
hundreds of variables: a direction equal to the dense solve, a convex problem against
its KKT system solved here with numpy, and a nonconvex one whose sparse and dense runs
end at the same point, with the KKT conditions rechecked here from hand-derived
gradients (not symgd's kernels)."""
from __future__ import annotations

import numpy as np
import pytest

import symgd
from symgd.constrained import sparse_newton
from symgd.kernelgen.sparse_pattern import clique_neighbours, pattern_of
from constrained_helpers import (convex_chain, count_calls, kkt_measures,
                                 rosenbrock_discs, rosenbrock_hessian)


def test_direction_is_the_dense_newton_step_where_hess_l_is_positive_definite():
    """A tridiagonal positive definite H plus rho grad c grad c^T for two pair
    constraints: with no shift and the radius not reached, the sparse step is
    -H_L^-1 g (numpy's dense solve), bounds-held variables take -g_i / H_ii."""
    n = 30
    rng = np.random.default_rng(2)
    H = np.diag(rng.uniform(3.0, 4.0, n))
    for i in range(n - 1):
        H[i, i + 1] = H[i + 1, i] = rng.uniform(-1.0, 1.0)
    cons = (np.array([3, 17]), np.array([0, 29]))
    J = np.zeros((2, n))
    J[0, [3, 17]] = [1.0, -2.0]
    J[1, [0, 29]] = [0.5, 1.5]
    rho = 3.0
    cliques = [np.array([i, i + 1]) for i in range(n - 1)]
    system = sparse_newton.SparseSystem(n, pattern_of(clique_neighbours(cliques + list(cons),
                                                                        n)), cons)
    g = rng.normal(size=n)
    fixed = np.zeros(n, dtype=bool)
    fixed[[5, 6]] = True
    scale = rng.uniform(0.5, 2.0, n)
    vals = system.values(H, J, np.array([True, True]), rho)
    d = system.direction(vals, g, fixed, scale, radius=1e6)
    HL = H + rho * J.T @ J
    free = ~fixed
    want = np.zeros(n)
    want[free] = np.linalg.solve(HL[np.ix_(free, free)], -g[free])
    want[fixed] = -g[fixed] / np.diag(HL)[fixed]
    np.testing.assert_allclose(d, want, rtol=1e-10, atol=1e-12)
    # held to the radius: a shorter step, still downhill
    short = system.direction(system.values(H, J, np.array([True, True]), rho), g, fixed,
                             scale, radius=0.05)
    assert np.linalg.norm((short / scale)[free]) <= 0.05 * (1 + 1e-12)
    assert float(g[free] @ short[free]) < 0.0


def _count_sparse_steps(monkeypatch):
    return count_calls(monkeypatch, sparse_newton.SparseSystem, "direction")


@pytest.mark.parametrize("method", ["auglag", "sqp"])
def test_convex_chain_with_pair_equalities_matches_numpys_kkt_solve(monkeypatch, method):
    """min sum (x_i - a_i)^2 + sum (x_{i+1} - x_i)^2 s.t. x_{2k} + x_{2k+1} = b_k, n =
    400: the KKT system [[2I + 2D^T D, A^T], [A, 0]] (x, -lambda) = (2a, b), D the
    difference matrix, solved densely here. auglag's sparse Newton steps, or sqp's
    sparse primal-dual system (symgd.constrained.primal_dual), are what ran."""
    from symgd.constrained import primal_dual
    calls = _count_sparse_steps(monkeypatch) if method == "auglag" else \
        count_calls(monkeypatch, primal_dual.SparseKKT, "factor")
    p, want = convex_chain(400)
    r = symgd.solve(p, method=method)
    assert r.status == "converged", r.message
    assert calls, "the sparse system was not used"
    np.testing.assert_allclose(r.x, want, rtol=0, atol=1e-7)


@pytest.mark.parametrize("n", [240])
def test_nonconvex_sparse_and_dense_runs_reach_the_same_kkt_point(monkeypatch, n):
    calls = _count_sparse_steps(monkeypatch)
    p = rosenbrock_discs(n)
    sparse = symgd.solve(p, method="auglag")
    assert calls
    monkeypatch.setattr(sparse_newton, "MIN_VARS", 10 ** 9)
    dense = symgd.solve(rosenbrock_discs(n), method="auglag")
    assert sparse.status == dense.status == "converged", (sparse.message, dense.message)
    np.testing.assert_allclose(sparse.x, dense.x, rtol=0, atol=1e-6)
    for r in (sparse, dense):
        viol, stat, sign, comp = kkt_measures(r.x, p, r.extra["multipliers"])
        assert viol <= 1e-8 and stat <= 1e-6 and sign <= 1e-8 and comp <= 1e-6, \
            (viol, stat, sign, comp)


def test_the_sparse_second_order_proof_sees_the_tangent_space_only():
    """H with one negative eigenvalue along x_7: positive definite on the tangent space
    of an active constraint whose gradient is e_7 + 0.1 e_8 (or with x_7 held by a
    bound), so proved; not proved with the constraint inactive and x_7 free (a
    direction of negative curvature is feasible). Checked against the dense reduced
    Hessian's eigenvalues."""
    n = 30
    H = 2.0 * np.eye(n)
    for i in range(n - 1):
        H[i, i + 1] = H[i + 1, i] = 0.3
    H[7, 7] = -1.0
    cons = (np.array([7, 8]),)
    J = np.zeros((1, n))
    J[0, [7, 8]] = [1.0, 0.1]
    cliques = [np.array([i, i + 1]) for i in range(n - 1)]
    system = sparse_newton.SparseSystem(n, pattern_of(clique_neighbours(cliques + list(cons),
                                                                        n)), cons)
    none = np.zeros(n, dtype=bool)
    held = none.copy()
    held[7] = True
    assert system.positive_on_tangent(H, J, np.array([True]), none, 1e-6)
    assert system.positive_on_tangent(H, J, np.array([False]), held, 1e-6)
    assert not system.positive_on_tangent(H, J, np.array([False]), none, 1e-6)
    # the dense truth: the null space of J's row, and of nothing
    _, _, vt = np.linalg.svd(J)
    Z = vt[1:].T
    assert np.linalg.eigvalsh(Z.T @ H @ Z)[0] > 0 > np.linalg.eigvalsh(H)[0]


@pytest.mark.parametrize("size", [1.0, 1e6])
def test_the_proof_is_not_fooled_by_a_large_constraint_gradient(size):
    """Negative curvature along the tangent direction (-0.1, 1) of a constraint with
    gradient size (1, 0.1) in (x_7, x_8): never proved, whatever the gradient's size
    (the rows are normalised before weighting, so the rounding of rho J J^T cannot
    swamp the curvature); the dense reduced Hessian agrees that it is negative."""
    n = 12
    H = 2.0 * np.eye(n)
    H[7, 7], H[8, 8] = 0.0, -0.5
    H[7, 8] = H[8, 7] = 0.2
    cons = (np.array([7, 8]),)
    J = np.zeros((1, n))
    J[0, [7, 8]] = [size, 0.1 * size]
    system = sparse_newton.SparseSystem(n, pattern_of(clique_neighbours(list(cons), n)), cons)
    assert not system.positive_on_tangent(H, J, np.array([True]), np.zeros(n, bool), 1e-6)
    _, _, vt = np.linalg.svd(J)
    assert np.linalg.eigvalsh(vt[1:] @ H @ vt[1:].T)[0] < -0.1


def test_past_the_dense_limit_the_constrained_bundle_scatters_the_sparse_hessian(
        monkeypatch):
    """A templated objective past TEMPLATED_HESSIAN_MAX_VARS has no dense Hessian
    kernel; for the constrained methods it gets hess_sparse, which ConstrainedBundle.hess
    scatters into the dense matrix (no differenced gradients): equal to the chained
    Rosenbrock Hessian worked by hand."""
    from symgd.constrained.kernels import ConstrainedBundle, constraint_kernels
    from symgd.kernelgen import kernels
    from symgd.solver import compiled
    monkeypatch.setattr(kernels, "TEMPLATED_HESSIAN_MAX_VARS", 50)
    n = 120
    p = rosenbrock_discs(n)
    K = compiled(p, need_hessian=False, want_hessian=True).kernels
    assert not K.has_hessian and K.has_sparse_hessian
    x = np.random.default_rng(3).uniform(-1.5, 1.5, n)
    H = np.full((n, n), np.nan)
    ConstrainedBundle(K, constraint_kernels(p)).hess(x, H)
    np.testing.assert_allclose(H, rosenbrock_hessian(x), rtol=1e-13, atol=1e-10)
