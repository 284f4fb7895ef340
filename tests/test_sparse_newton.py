"""Newton on a general sparse Hessian (issue 14, item 3): the minimum-degree pattern,
the fixed-pattern Cholesky against numpy, and whole solves against answers worked by
hand (ARWHEAD) and against dense Newton's iterates (a 2-D grid, with bounds)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import sympy as sp

import symgd
from symgd.kernelgen import kernels, templates
from symgd.kernelgen.sparse_pattern import minimum_degree, pattern
from symgd.methods import runners
from symgd.methods import sparse_linalg as SL
from symgd.methods.linalg import modified_cholesky
from symgd.methods.options import resolve_options


def _arwhead(n):
    """ARWHEAD (Conn, Gould, Lescrenier & Toint 1994): sum_{i<n-1} (-4 x_i + 3) +
    (x_i^2 + x_{n-1}^2)^2. By hand: each term (x_i^2 + z^2)^2 - 4 x_i + 3 with z = 0
    is (x_i^2 - 1)^2 + 2 (x_i - 1)^2 >= 0 ... = 0 at x_i = 1, and z != 0 only adds, so
    f* = 0 at x_i = 1, x_{n-1} = 0."""
    x = sp.symbols(f"x0:{n}", real=True)
    f = sum((-4 * x[i] + 3) + (x[i] ** 2 + x[n - 1] ** 2) ** 2 for i in range(n - 1))
    return x, f


def _grid(k, name):
    """sum over grid edges (x_a - x_b)^2 + sum_m x_m^4/4 - c_m x_m (strictly convex)."""
    n = k * k
    x = sp.symbols(f"x0:{n}", real=True)
    at = lambda i, j: x[i * k + j]  # noqa: E731
    terms = [(at(i, j) - at(i, j + 1)) ** 2 for i in range(k) for j in range(k - 1)]
    terms += [(at(i, j) - at(i + 1, j)) ** 2 for i in range(k - 1) for j in range(k)]
    terms += [x[m] ** 4 / 4 - (1 + sp.Rational(m % 7, 7)) * x[m] for m in range(n)]
    return x, symgd.Problem(minimize=sp.Add(*terms), variables={s: 0.0 for s in x},
                            name=name)


def _packed_structure(P):
    flat = P.packed()
    W = np.zeros((-(-flat.size // P.n), P.n))
    W.ravel()[:flat.size] = flat
    return SL.structure(W, 0, P.n, P.nnz)


def _dense_of(P, values):
    col = np.repeat(np.arange(P.n), np.diff(P.colptr))
    D = np.zeros((P.n, P.n))
    D[P.rowidx, col] = values
    return D


def test_minimum_degree_orders_an_arrowhead_hub_last_without_fill():
    n = 30
    adj = [{n - 1} for _ in range(n - 1)] + [set(range(n - 1))]
    order, columns = minimum_degree(adj)
    assert order[-1] == n - 1
    assert sum(len(c) for c in columns) == n - 1   # one entry a leaf: no fill at all


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_cholesky_and_solve_match_numpy(seed):
    rng = np.random.default_rng(seed)
    x, problem = _grid(6, f"grid_chol_{seed}")
    parts = templates.split(problem.minimized_objective(), problem.symbols)
    P = pattern(parts, problem.symbols)
    struct = _packed_structure(P)
    # a random symmetric positive definite matrix on the pattern (in its order)
    A = rng.standard_normal(P.nnz)
    A[P.colptr[:-1]] = 0.0
    D = _dense_of(P, A)
    D = D + D.T - np.diag(np.diag(D))
    shift = np.abs(D).sum(axis=1).max() + 1.0
    A[P.colptr[:-1]] = shift
    D[np.diag_indices(P.n)] = shift
    L = np.zeros(P.nnz)
    assert SL.sparse_cholesky(A, 0.0, L, *struct, np.empty(P.n))
    Ld = _dense_of(P, L)
    assert np.allclose(Ld, np.linalg.cholesky(D), rtol=1e-12, atol=1e-12)
    b = rng.standard_normal(P.n)
    out = np.empty(P.n)
    SL.sparse_solve(L, struct[0], struct[1], b, out)
    assert np.allclose(D @ out, b, rtol=0, atol=1e-12 * np.abs(b).max() * shift)


def test_modified_sparse_factor_picks_the_dense_shift():
    x, problem = _grid(5, "grid_shift")
    parts = templates.split(problem.minimized_objective(), problem.symbols)
    P = pattern(parts, problem.symbols)
    struct = _packed_structure(P)
    rng = np.random.default_rng(5)
    A = rng.standard_normal(P.nnz)          # indefinite
    D = _dense_of(P, A)
    D = D + D.T - np.diag(np.diag(D))
    tau_sparse = SL.modified_sparse_factor(A, np.zeros(P.nnz), *struct, np.empty(P.n))
    tau_dense = modified_cholesky(D, np.zeros((P.n, P.n)))
    assert tau_sparse > 0.0
    assert tau_sparse == tau_dense


def test_hess_sparse_writes_the_dense_hessian():
    x, f = _arwhead(40)
    problem = symgd.Problem(minimize=f, variables={s: 1.0 for s in x}, name="arw_kernel")
    parts = templates.split(problem.minimized_objective(), problem.symbols)
    P = pattern(parts, problem.symbols)
    assert P.nnz == 2 * 40 - 1                       # the arrowhead fills nothing
    K = kernels.compile_templated(problem, parts, with_hessian=True, sparse=P)
    xv = np.random.default_rng(0).standard_normal(40)
    H = np.empty((40, 40))
    K.hess(xv, H)
    from symgd.kernelgen.fastcall import call_vec
    A = np.empty(P.nnz)
    call_vec(K.hess_sparse, xv, A)
    D = _dense_of(P, A)
    D = D + D.T - np.diag(np.diag(D))
    inv = np.empty(40, dtype=np.int64)
    inv[P.pos] = np.arange(40)
    assert np.array_equal(D[np.ix_(P.pos, P.pos)], H)


def test_newton_solves_arwhead_on_the_sparse_hessian():
    n = 120
    x, f = _arwhead(n)
    problem = symgd.Problem(minimize=f, variables={s: 1.0 for s in x},
                            name=f"arwhead_{n}")
    expected = np.ones(n)
    expected[-1] = 0.0
    grad = sp.lambdify([x], [sp.diff(f, x[0]), sp.diff(f, x[n - 1])])
    for start in (1.0, -0.5, 2.0):
        r = symgd.solve(problem, method="newton", x0=np.full(n, start))
        assert r.status == "converged"
        assert np.max(np.abs(r.x - expected)) < 1e-7
        assert abs(r.fun) < 1e-10
        # the claim rechecked with sympy's gradient at the returned point
        assert max(abs(v) for v in grad(r.x)) < 1e-6


def test_sparse_newton_takes_dense_newtons_steps_with_bounds():
    x, problem = _grid(6, "grid_vs_dense")
    parts = templates.split(problem.minimized_objective(), problem.symbols)
    P = pattern(parts, problem.symbols)
    K = kernels.compile_templated(problem, parts, with_hessian=True, sparse=P)
    dense = dataclasses.replace(K, hess_sparse=0, sparse_nnz=-1)
    n = len(x)
    lower, upper = np.full(n, -np.inf), np.full(n, 1.1)   # the bound holds some
    x0 = np.linspace(-1.0, 1.0, n)
    opts = resolve_options("newton", {"max_iter": 50, "tol": 1e-10})
    a = runners.newton(K, x0, lower, upper, opts, None)
    b = runners.newton(dense, x0, lower, upper, opts, None)
    assert a.status == b.status == "converged"
    assert a.iterations == b.iterations
    assert np.allclose(a.x, b.x, rtol=1e-12, atol=1e-12)
    assert np.any(a.x == 1.1)


def test_auto_choice_of_structure():
    """An arrowhead gets the sparse factor; a chain keeps its band."""
    x, f = _arwhead(200)
    arrow = symgd.Problem(minimize=f, variables={s: 1.0 for s in x}, name="arw_choice")
    from symgd import solver
    k = solver.compiled(arrow, need_hessian=True).kernels
    assert k.sparse_nnz == 2 * 200 - 1 and k.band < 0
    y = sp.symbols("y0:200", real=True)
    chain = symgd.Problem(minimize=sum(100 * (y[i + 1] - y[i] ** 2) ** 2 + (1 - y[i]) ** 2
                                       for i in range(199)),
                          variables={s: 0.5 for s in y}, name="chain_choice")
    k2 = solver.compiled(chain, need_hessian=True).kernels
    assert k2.band == 1 and k2.sparse_nnz < 0


def test_a_term_coupling_every_variable_refuses_newton_before_compiling():
    """(sum x)^2 has n (n+1)/2 Hessian entries of straight-line code: newton is
    refused with advice instead of compiling them, and lbfgs solves it (its answer
    rechecked with sympy's gradient)."""
    n = 60
    x = sp.symbols(f"x0:{n}", real=True)
    f = sp.Add(*x) ** 2 + sum((x[i] - sp.Rational(i, n)) ** 4 for i in range(n))
    problem = symgd.Problem(minimize=f, variables={s: 0.0 for s in x}, name="coupled_rest")
    with pytest.raises(symgd.InputError, match="lbfgs"):
        symgd.solve(problem, method="newton")
    r = symgd.solve(problem, method="lbfgs", tol=1e-10)
    assert r.status == "converged"
    grad = sp.lambdify([x], [sp.diff(f, s) for s in x])
    assert max(abs(v) for v in grad(r.x)) < 1e-6
