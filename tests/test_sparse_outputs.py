"""Large constrained runs hold no m x n or n x n matrix: the Jacobian as CSR of fixed
structure (symgd.constrained.sparse_jacobian) and hess L in the sparse pattern's
slots, from the kernels' nonzeros, equal to the dense kernels' matrices and to the
chained Rosenbrock Hessian worked by hand; auglag and sqp runs that never call the
dense kernels, with their answers rechecked from hand-derived gradients."""
from __future__ import annotations

import numpy as np
import pytest

import symgd
from symgd.constrained.kernels import ConstrainedBundle, ConstraintKernels, constraint_kernels
from symgd.constrained.sparse_jacobian import JacobianLayout
from symgd.constrained.sparse_newton import SparseSystem, objective_cliques
from symgd.kernelgen.kernels import Kernels
from symgd.solver import compiled
from constrained_helpers import kkt_measures, rosenbrock_discs, rosenbrock_hessian

N = 240


def _bundle(p):
    K = compiled(p, need_hessian=False, want_hessian=True).kernels
    return ConstrainedBundle(K, constraint_kernels(p), objective_cliques(p))


def test_the_csr_jacobian_is_the_dense_one_with_unit_slack_columns():
    p = rosenbrock_discs(N)
    ck = constraint_kernels(p)
    x = np.random.default_rng(1).uniform(-1.5, 1.5, N)
    J = ck.jacobian(x)
    layout = JacobianLayout(ck.variables, N)
    np.testing.assert_array_equal(layout.matrix(ck, x).toarray(), J)
    np.testing.assert_allclose(layout.row_norms(layout.data(ck, x)), np.sum(J * J, axis=1),
                               rtol=1e-15)
    # sqp's A = [J, I]: each (inequality) row's slack column appended
    m = ck.m
    slack = [np.append(v, N + i) for i, v in enumerate(ck.variables)]
    A = JacobianLayout(slack, N + m, n_x=N).matrix(ck, x).toarray()
    np.testing.assert_array_equal(A, np.hstack([J, np.eye(m)]))
    with pytest.raises(KeyError):
        layout.entries([0], [5])   # x5 is not in constraint 0 (x0, x1)


def test_hess_l_in_slots_is_the_hand_worked_matrix():
    """hess f (chained Rosenbrock, by hand) + sum_k y_k 2 I on each disc's pair, in the
    slots of the run's pattern, scattered back: the dense matrix entry for entry."""
    p = rosenbrock_discs(N)
    bundle = _bundle(p)
    assert bundle.hessian_coo() is not None and len(bundle.constraints.hess_coo[0])
    system = SparseSystem.for_run(bundle)
    rng = np.random.default_rng(2)
    x = rng.uniform(-1.5, 1.5, N)
    y = rng.normal(size=N // 2)
    want = rosenbrock_hessian(x)
    for k in range(N // 2):
        want[2 * k, 2 * k] += 2 * y[k]
        want[2 * k + 1, 2 * k + 1] += 2 * y[k]
    got = system.matrix(system.lagrangian_slots(bundle, x, y, N)).toarray()
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-10)


def _no_dense_matrices(monkeypatch):
    """Every kernel that writes an m x n or n x n matrix fails the test if called."""
    def refuse(*_a, **_k):
        raise AssertionError("a dense matrix was formed")
    for cls, name in ((ConstraintKernels, "jacobian"), (ConstraintKernels, "weighted_hessian"),
                      (Kernels, "hess"), (Kernels, "sparse_hess_dense")):
        monkeypatch.setattr(cls, name, refuse)


@pytest.mark.parametrize("method", ["auglag", "sqp"])
def test_runs_form_no_dense_matrix_and_end_at_a_kkt_point(monkeypatch, method):
    p = rosenbrock_discs(N)
    _bundle(p)   # compiled before the dense kernels are refused (the cache is shared)
    _no_dense_matrices(monkeypatch)
    r = symgd.solve(p, method=method)
    assert r.status == "converged", r.message
    viol, stat, sign, comp = kkt_measures(r.x, p, r.extra["multipliers"])
    assert viol <= 1e-8 and stat <= 1e-6 and sign <= 1e-8 and comp <= 1e-6, \
        (viol, stat, sign, comp)


@pytest.mark.parametrize("method", ["auglag", "sqp"])
def test_bound_constrained_runs_form_no_dense_matrix_and_agree_with_lbfgs(monkeypatch, method):
    """Bounds alone (no constraint rows): the same sparse path, and the answer of
    lbfgs (projected, no Hessian) from the same start."""
    import sympy as sp
    x = sp.symbols(f"x0:{N}", real=True)
    f = sp.Add(*[100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(N - 1)])
    p = symgd.Problem(minimize=f, variables={s: {"start": 0.5, "lower": -0.5, "upper": 0.8}
                                             for s in x})
    ref = symgd.solve(p, method="lbfgs", tol=1e-12)
    compiled(p, need_hessian=False, want_hessian=True)
    _no_dense_matrices(monkeypatch)
    r = symgd.solve(p, method=method)
    assert ref.status == r.status == "converged", (ref.message, r.message)
    np.testing.assert_allclose(r.x, ref.x, rtol=0, atol=1e-6)
    assert abs(r.fun - ref.fun) <= 1e-9 * abs(ref.fun)
