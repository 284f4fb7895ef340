"""symgd.solver's decisions: which path runs for which problem (SPEC §2's auto), what
is refused and why, and that a repeated solve builds nothing again."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symgd
from symgd import solver
from symgd.errors import InputError

x, y, z, a, b, c, t, u = sp.symbols("x y z a b c t u")


def fit(model, loss="mse", n=60, variables=None, seed=0):
    rng = np.random.default_rng(seed)
    T = np.linspace(0.0, 3.0, n)
    U = 1.0 + 2.0 * T + 0.05 * rng.standard_normal(n)
    return symgd.Problem(model=model, target=u, loss=loss, data={"t": T, "u": U},
                         variables=variables or {a: 0.5, c: 0.5}), T, U


def test_auto_fits_a_linear_model_in_closed_form():
    p, T, U = fit(a * t + c)
    r = symgd.solve(p)
    assert r.method == "analytic" and "linear least squares" in r.path[0]
    np.testing.assert_allclose(r.x, np.polyfit(T, U, 1), rtol=1e-12)  # by numpy


def test_auto_fits_a_nonlinear_least_squares_model_with_lm():
    p, _, _ = fit(a * sp.exp(b * t) + c, variables={a: 1.0, b: 0.1, c: 0.0})
    r = symgd.solve(p)
    assert r.method == "lm" and r.path[0].startswith("auto chose lm")


def test_auto_takes_irls_for_a_nonlinear_mae_fit():
    p, _, _ = fit(a * sp.exp(b * t) + c, loss="mae", variables={a: 1.0, b: 0.1, c: 0.0})
    r = symgd.solve(p)
    assert r.method == "irls" and "IRLS" in r.path[0]


def test_auto_without_data_runs_newton_beside_the_closed_form():
    p = symgd.Problem(minimize=(x - 1) ** 2 + (y + 2) ** 2, variables={x: 0.0, y: 0.0})
    r = symgd.solve(p)
    assert r.status == "solved" and r.method == "analytic"
    assert r.x.tolist() == [1.0, -2.0]


def test_exact_line_search_is_refused_for_fits_and_non_polynomials():
    p, _, _ = fit(a * t + c)
    with pytest.raises(InputError) as info:
        symgd.solve(p, method="linesearch", line_search="exact")
    assert "not available for data fits" in info.value.message
    q = symgd.Problem(minimize=sp.exp(x) - x, variables={x: 1.0})
    with pytest.raises(InputError) as info:
        symgd.solve(q, method="linesearch", line_search="exact")
    assert "polynomial" in info.value.message


def test_constrained_problem_names_the_methods_that_enforce_constraints():
    p = symgd.Problem(minimize=x ** 2 + y ** 2, variables=[x, y], constraints=[sp.Eq(x + y, 1)])
    with pytest.raises(InputError) as info:
        symgd.solve(p, method="newton")
    assert "auto" in info.value.message and "analytic" in info.value.message
    assert info.value.field == "constraints"


def test_options_of_another_method_are_noted_not_refused():
    p = symgd.Problem(minimize=(x - 3) ** 2, variables={x: 0.0})
    r = symgd.solve(p, method="newton", learning_rate=0.1)
    assert r.status == "converged" and r.x[0] == pytest.approx(3.0)
    assert "options not used by newton, ignored: learning_rate" in r.message


def test_a_repeated_solve_builds_no_kernels_again():
    p = symgd.Problem(minimize=(x - 2) ** 4 + (y - x) ** 2, variables={x: 0.0, y: 0.0})
    symgd.solve(p, method="newton")
    k = solver.kernels_of(p)
    assert k is not None
    r = symgd.solve(p, method="linesearch")
    assert solver.kernels_of(p) is k and r.timings["derive"] == 0.0
