"""Newton on a banded Hessian (symgd.methods.loops.newton_loop on a band; issue 14, item 3).

The band factorisation is checked against numpy's dense Cholesky, the band kernel
against the dense Hessian kernel, and the banded Newton against the dense Newton
(newton_loop) on the same problems: the same iterates, since both run the same
algorithm (modified Cholesky with the same shifts) on the same matrix.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symgd
from symgd.kernelgen import band, kernels, templates
from symgd.methods.linalg import (band_cholesky, band_solve, cholesky_solve, modified_cholesky,
                                  modified_factor)


def chained_rosenbrock(n, name, lower=None):
    w = sp.IndexedBase("w")
    j = sp.Symbol("j", integer=True)
    start = [-1.2 if i % 2 == 0 else 1.0 for i in range(n)]
    variables = {w[q]: ({"start": s, "lower": lower} if lower is not None else s)
                 for q, s in enumerate(start)}
    return symgd.Problem(
        minimize=sp.Sum(100 * (w[j + 1] - w[j] ** 2) ** 2 + (1 - w[j]) ** 2, (j, 0, n - 2)),
        variables=variables, name=name)


def to_band(A, b):
    n = A.shape[0]
    B = np.zeros((n, b + 1))
    for i in range(n):
        for k in range(min(b, i) + 1):
            B[i, k] = A[i, i - k]
    return B


def random_banded(n, b, rng, shift):
    A = np.zeros((n, n))
    for i in range(n):
        for j in range(max(0, i - b), i + 1):
            A[i, j] = A[j, i] = rng.standard_normal()
    return A + shift * np.eye(n)


@pytest.mark.parametrize("n,b", [(1, 0), (7, 1), (30, 3), (40, 10)])
def test_band_cholesky_matches_numpy(n, b):
    rng = np.random.default_rng(n + b)
    A = random_banded(n, b, rng, shift=3.0 * (b + 1))
    L = np.zeros((n, b + 1))
    assert band_cholesky(to_band(A, b), 0.0, L)
    np.testing.assert_allclose(L, to_band(np.linalg.cholesky(A), b), rtol=1e-12, atol=1e-12)
    r = rng.standard_normal(n)
    out = np.empty(n)
    band_solve(L, r, out)
    np.testing.assert_allclose(A @ out, r, rtol=1e-10, atol=1e-10)


def test_band_modified_cholesky_shifts_as_the_dense_one():
    rng = np.random.default_rng(5)
    n, b = 25, 2
    A = random_banded(n, b, rng, shift=0.0)   # indefinite
    L_band, L_dense = np.zeros((n, b + 1)), np.zeros((n, n))
    tau_band = modified_factor(to_band(A, b), L_band, True)
    tau_dense = modified_cholesky(A, L_dense)
    assert tau_band > 0 and tau_band == tau_dense
    r = rng.standard_normal(n)
    d_band, d_dense = np.empty(n), np.empty(n)
    band_solve(L_band, r, d_band)
    cholesky_solve(L_dense, r, d_dense)
    np.testing.assert_allclose(d_band, d_dense, rtol=1e-10)
    np.testing.assert_allclose((A + tau_band * np.eye(n)) @ d_band, r, rtol=1e-9, atol=1e-9)


def test_band_kernel_is_the_band_of_the_dense_hessian():
    x = sp.symbols("x0:30", real=True)
    # a templated chain plus leftover terms reaching across three indices
    f = sum(100 * (x[k + 1] - x[k] ** 2) ** 2 + (1 - x[k]) ** 2 for k in range(29)) + \
        sp.exp(x[3] * x[6]) + x[20] ** 2 * x[17]
    p = symgd.Problem(minimize=f, variables=list(x), name="band_kernel")
    parts = templates.split(p.minimized_objective(), p.symbols)
    b = band.bandwidth(parts, p.symbols)
    assert b == 3
    k = kernels.compile_templated(p, parts, with_hessian=True, band=b)
    assert k.band == 3 and k.hess_band
    rng = np.random.default_rng(1)
    for _ in range(3):
        xv = rng.uniform(-1, 1, 30)
        H = np.zeros((30, 30))
        k.hess(xv, H)
        B = np.zeros((30, b + 1))
        from symgd.kernelgen.fastcall import call_mat
        call_mat(k.hess_band, xv, B)
        np.testing.assert_array_equal(B, to_band(H, b))
        assert not np.any(np.triu(H, b + 1))   # nothing outside the band


@pytest.mark.parametrize("lower", [None, 0.0])
def test_banded_newton_takes_the_dense_newtons_steps(monkeypatch, lower):
    n = 40
    banded = symgd.solve(chained_rosenbrock(n, f"band_{lower}", lower), method="newton")
    monkeypatch.setattr(kernels, "band_pays", lambda n, b: False)
    dense = symgd.solve(chained_rosenbrock(n, f"dense_{lower}", lower), method="newton")
    assert banded.status == dense.status == "converged"
    assert banded.iterations == dense.iterations
    np.testing.assert_allclose(banded.x, dense.x, rtol=1e-9, atol=1e-12)
    if lower is not None:   # the bounded minimum is the global one, x = 1
        np.testing.assert_allclose(banded.x, 1.0, atol=1e-8)


def test_newton_past_the_dense_limit_runs_on_the_band_or_is_refused(monkeypatch):
    monkeypatch.setattr(kernels, "TEMPLATED_HESSIAN_MAX_VARS", 20)
    lo = chained_rosenbrock(30, "band_only", lower=0.0)
    r = symgd.solve(lo, method="newton")
    assert r.success and np.max(np.abs(r.x - 1.0)) < 1e-8
    # one term holds every variable: the Hessian is dense in any order
    x = sp.symbols("y0:30", real=True)
    wide = symgd.Problem(minimize=sum((x[k] - 1) ** 2 + x[k] ** 4 for k in range(30))
                         + sum(x) ** 2, variables=list(x), name="wide")
    with pytest.raises(symgd.InputError, match="method=lbfgs"):
        symgd.solve(wide, method="newton")
    assert symgd.solve(wide, method="lbfgs").success


def test_a_pattern_banded_only_after_renumbering_is_factored_as_a_band(monkeypatch):
    """Terms coupling x_k with x_{n-1-k}: half-bandwidth n - 1 in the given order, 1 after
    reverse Cuthill-McKee; newton runs on that band and takes the dense Newton's steps."""
    n = 40
    x = sp.symbols(f"z0:{n}", real=True)
    f = sum(10 * (x[k] - x[n - 1 - k] ** 2) ** 2 + (1 - x[k]) ** 2 + 0.1 * x[k] ** 4
            for k in range(n))

    def problem(name):
        return symgd.Problem(minimize=f, variables={s: 0.3 * ((-1) ** k) for k, s in
                                                    enumerate(x)}, name=name)

    p = problem("rcm_check")
    parts = templates.split(p.minimized_objective(), p.symbols)
    b, pos = band.ordering(parts, p.symbols)
    assert band.bandwidth(parts, p.symbols) == n - 1 and pos is not None and b <= 2
    banded = symgd.solve(problem("rcm"), method="newton")
    monkeypatch.setattr(kernels, "band_pays", lambda n, b: False)
    dense = symgd.solve(problem("rcm_dense"), method="newton")
    assert banded.status == dense.status == "converged"
    assert banded.iterations == dense.iterations
    np.testing.assert_allclose(banded.x, dense.x, rtol=1e-9, atol=1e-12)


def test_renumbered_band_with_bounds_takes_the_dense_steps(monkeypatch):
    n = 40
    x = sp.symbols(f"u0:{n}", real=True)
    f = sum(10 * (x[k] - x[n - 1 - k] ** 2) ** 2 + (1 - x[k]) ** 2 - 0.5 * x[k]
            + 0.01 * k * x[k] for k in range(n))

    def problem(name):
        return symgd.Problem(minimize=f, variables={
            s: {"start": 0.3 * (-1) ** k, "lower": 0.2, "upper": 0.9}
            for k, s in enumerate(x)}, name=name)

    banded = symgd.solve(problem("rcm_bounds"), method="newton")
    monkeypatch.setattr(kernels, "band_pays", lambda n, b: False)
    dense = symgd.solve(problem("rcm_bounds_dense"), method="newton")
    assert banded.status == dense.status == "converged"
    held = np.sum(np.isclose(banded.x, 0.9)) + np.sum(np.isclose(banded.x, 0.2))
    assert held >= 10   # the bounds are active: the decoupling path runs
    assert banded.iterations == dense.iterations
    np.testing.assert_allclose(banded.x, dense.x, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("method", ["newton", "lbfgs"])
def test_claims_on_templated_kernels_hold_when_recomputed_from_several_starts(method):
    """Every 'converged' from seeded starts is rechecked with sympy's own gradient of the
    objective (lambdify, not symgd's loop kernels): the relative gradient is small and
    f is what symgd reported."""
    n = 30
    p = chained_rosenbrock(n, f"recheck_{method}")
    f = p.minimized_objective()
    grad = sp.lambdify(p.symbols, [sp.diff(f, s) for s in p.symbols], "math")
    fun = sp.lambdify(p.symbols, f, "math")
    rng = np.random.default_rng(11)
    claims = 0
    for _ in range(4):
        r = symgd.solve(p, method=method, x0=rng.uniform(-2.0, 2.0, n), max_iter=20000)
        if not r.success:
            continue
        claims += 1
        x = np.asarray(r.x)
        g = np.array(grad(*x))
        fx = fun(*x)
        assert fx == pytest.approx(r.fun, rel=1e-9, abs=1e-12)
        assert np.max(np.abs(g) * np.maximum(np.abs(x), 1.0)) / max(abs(fx), 1.0) <= 1e-6
    assert claims >= 3
