"""The compiled constraint kernels (symgd.constrained.kernels): values, Jacobian and the
weighted Hessian sum against sympy's dense derivatives evaluated independently, and the
sparse derivation that keeps their cost to each constraint's own variables."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symgd
from symgd.constrained.kernels import constraint_kernels, sparse_constraint_derivatives


def chained(n):
    """Rosenbrock in n variables with n/2 disc constraints on pairs and one linear
    equality coupling the first and last variables."""
    x = sp.symbols(f"x0:{n}", real=True)
    f = sp.Add(*[100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(n - 1)])
    cons = [sp.Le(x[i] ** 2 + x[i + 1] ** 2, 1.5) for i in range(0, n - 1, 2)]
    cons.append(sp.Eq(x[0] + sp.sin(x[n - 1]) * x[1], 0.3))
    return symgd.Problem(minimize=f, variables={s: 0.5 for s in x}, constraints=cons), x


def test_kernels_equal_sympys_dense_derivatives():
    p, x = chained(9)
    ck = constraint_kernels(p)
    values = [c.g_le for c in p.constraints]
    m, n = len(values), len(x)
    rng = np.random.default_rng(4)
    J_sym = sp.Matrix(values).jacobian(x)
    for _ in range(3):
        at = rng.uniform(-1.5, 1.5, n)
        y = rng.normal(size=m)
        sub = dict(zip(x, at))
        c_ref = np.array([float(v.subs(sub)) for v in values])
        J_ref = np.array(J_sym.subs(sub), dtype=float)
        H_ref = sum(y[i] * np.array(sp.hessian(values[i], x).subs(sub), dtype=float)
                    for i in range(m))
        np.testing.assert_allclose(ck.values(at), c_ref, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(ck.jacobian(at), J_ref, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(ck.weighted_hessian(at, y), H_ref, rtol=1e-13, atol=1e-12)


def test_sparse_derivation_differentiates_each_constraint_by_its_own_variables():
    """60 constraints in 120 variables: at most 2 first and 3 second derivatives per
    pair constraint (the dense derivation took m n + m n^2 = 871,200)."""
    p, x = chained(120)
    values = [c.g_le for c in p.constraints]
    calls = []

    def diff(e, s):
        calls.append(s)
        return sp.diff(e, s)

    jac, hess = sparse_constraint_derivatives(values, list(x), diff)
    assert len(calls) <= 5 * len(values) + 10
    assert set(jac) == {(i, j) for i in range(60) for j in (2 * i, 2 * i + 1)} | \
        {(60, 0), (60, 1), (60, 119)}
    assert jac[(3, 7)] == 2 * x[7] and hess[(6, 6)] == [(3, 2)]
    assert hess[(1, 119)] == [(60, sp.cos(x[119]))]
    assert list(jac) == sorted(jac) and list(hess) == sorted(hess)


def test_repeated_constraints_compile_as_loops_and_equal_the_hand_derivatives(monkeypatch):
    """30 disc constraints x_i^2 + x_{i+1}^2 <= 1.5 (i even) are one template, compiled
    as a loop (symgd.kernelgen.constraint_codegen); the coupling equality stays
    straight-line. Values, Jacobian and weighted Hessian equal the hand-derived ones,
    and the same problem compiled all straight-line gives the same numbers."""
    from symgd.kernelgen import constraint_codegen
    made = []
    real = constraint_codegen.constraint_loop_source
    monkeypatch.setattr(constraint_codegen, "constraint_loop_source",
                        lambda *a, **kw: made.append(1) or real(*a, **kw))
    n = 60
    p, x = chained(n)
    ck = constraint_kernels(p)
    assert made, "the constraints were not compiled as loops"
    rng = np.random.default_rng(8)
    at = rng.uniform(-1.5, 1.5, n)
    y = rng.normal(size=ck.m)
    c = np.array([at[i] ** 2 + at[i + 1] ** 2 - 1.5 for i in range(0, n - 1, 2)] +
                 [at[0] + np.sin(at[n - 1]) * at[1] - 0.3])
    J = np.zeros((ck.m, n))
    H = np.zeros((n, n))
    for k, i in enumerate(range(0, n - 1, 2)):
        J[k, [i, i + 1]] = 2 * at[i], 2 * at[i + 1]
        H[i, i] += 2 * y[k]
        H[i + 1, i + 1] += 2 * y[k]
    J[-1, [0, 1, n - 1]] = 1.0, np.sin(at[n - 1]), np.cos(at[n - 1]) * at[1]
    H[1, n - 1] = H[n - 1, 1] = y[-1] * np.cos(at[n - 1])
    H[n - 1, n - 1] += -y[-1] * np.sin(at[n - 1]) * at[1]
    np.testing.assert_allclose(ck.values(at), c, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(ck.jacobian(at), J, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(ck.weighted_hessian(at, y), H, rtol=1e-14, atol=1e-14)
    assert [v.tolist() for v in ck.variables] == \
        [[i, i + 1] for i in range(0, n - 1, 2)] + [[0, 1, n - 1]]
    from symgd.kernelgen import templates
    monkeypatch.setattr(templates, "MIN_GROUP", 10 ** 9)   # all straight-line
    flat = constraint_kernels(chained(n)[0])
    np.testing.assert_allclose(flat.weighted_hessian(at, y), H, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(flat.jacobian(at), J, rtol=1e-14, atol=1e-14)


def _scatter(coo, values, shape, symmetric):
    out = np.zeros(shape)
    np.add.at(out, coo, values)
    if symmetric:   # one triangle written: mirror the off-diagonal entries
        out = out + out.T - np.diag(np.diag(out))
    return out


@pytest.mark.parametrize("loops", [True, False])
def test_the_nonzero_kernels_equal_the_dense_ones_on_large_problems(monkeypatch, loops):
    """From sparse_newton.MIN_VARS variables the module also writes J's and the weighted
    Hessian's nonzeros alone (cjac_nz, chess_nz); scattered at their layout they are
    the dense kernels' matrices, for loops and for straight-line rows. Below that size
    the module has no such kernels."""
    from symgd.kernelgen import templates
    if not loops:
        monkeypatch.setattr(templates, "MIN_GROUP", 10 ** 9)
    n = 240
    p, _ = chained(n)
    ck = constraint_kernels(p)
    rng = np.random.default_rng(4)
    at = rng.uniform(-1.5, 1.5, n)
    y = rng.normal(size=ck.m)
    assert ck.jac_coo[0].size == 2 * (n // 2) + 3
    np.testing.assert_array_equal(
        _scatter(ck.jac_coo, ck.jacobian_nz(at), (ck.m, n), False), ck.jacobian(at))
    np.testing.assert_allclose(
        _scatter(ck.hess_coo, ck.weighted_hessian_nz(at, y), (n, n), True),
        ck.weighted_hessian(at, y), rtol=1e-15, atol=1e-15)
    assert constraint_kernels(chained(12)[0]).jac_coo == ()
