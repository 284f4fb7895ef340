"""line_search: exact, against the closed-form step of a quadratic and numpy's roots."""
import numpy as np
import pytest
import sympy as sp

import symgd
from symgd.methods.polyline import exact_step, real_roots_in

x, y, z = sp.symbols("x y z")


def test_first_step_is_the_closed_form_quadratic_step():
    # f = x^T A x / 2 - b^T x: along d = -g the exact step is a* = g.g / g.A g.
    A = np.array([[4.0, 1, 0], [1, 3, 1], [0, 1, 2]])
    b = np.array([1.0, 2, 3])
    f = 2 * x ** 2 + sp.Rational(3, 2) * y ** 2 + z ** 2 + x * y + y * z - x - 2 * y - 3 * z
    p = symgd.Problem(minimize=f, variables={x: 1.0, y: -1.0, z: 0.5})
    x0 = np.array([1.0, -1.0, 0.5])
    g = A @ x0 - b
    a_star = g @ g / (g @ A @ g)
    r = symgd.solve(p, method="linesearch", line_search="exact", max_iter=1)
    np.testing.assert_allclose(r.x, x0 - a_star * g, rtol=1e-14)
    # and the new gradient is orthogonal to the step direction
    g1 = A @ r.x - b
    assert abs(g1 @ g) <= 1e-13 * (g @ g)
    full = symgd.solve(p, method="linesearch", line_search="exact", tol=1e-12)
    assert full.status == "converged"
    np.testing.assert_allclose(full.x, np.linalg.solve(A, b), atol=1e-11)


def test_quartic_step_minimises_the_line():
    # f = x^4 + y^2 from (1, 1): phi(a) = (1 - 4a)^4 + (1 - 2a)^2; its minimiser solves
    # -16 (1 - 4a)^3 - 4 (1 - 2a) = 0, found here by numpy as the check.
    p = symgd.Problem(minimize=x ** 4 + y ** 2, variables={x: 1.0, y: 1.0})
    r = symgd.solve(p, method="linesearch", line_search="exact", max_iter=1)
    a = sp.Symbol("a")
    dphi = sp.Poly(sp.diff((1 - 4 * a) ** 4 + (1 - 2 * a) ** 2, a), a)
    roots = [rt.real for rt in np.roots([float(c) for c in dphi.all_coeffs()])
             if abs(rt.imag) < 1e-12 and rt.real > 0]
    best = min(roots, key=lambda t: (1 - 4 * t) ** 4 + (1 - 2 * t) ** 2)
    np.testing.assert_allclose(r.x, [1 - 4 * best, 1 - 2 * best], rtol=1e-12)


def test_polynomial_falling_along_the_line_is_unbounded():
    p = symgd.Problem(minimize=x ** 3 + y ** 2, variables={x: -1.0, y: 1.0})
    r = symgd.solve(p, method="linesearch", line_search="exact")
    assert r.status == "unbounded" and not r.success


def test_exact_needs_a_polynomial():
    p = symgd.Problem(minimize=sp.exp(x) + y ** 2, variables=[x, y])
    with pytest.raises(symgd.InputError) as err:
        symgd.solve(p, method="linesearch", line_search="exact")
    assert err.value.field == "options.line_search" and "polynomial" in err.value.message


@pytest.mark.parametrize("roots", [[0.5, 1.5, 2.5], [0.1, 0.1000001, 3.0], [1.0, 1.0, 2.0],
                                   [0.25, 0.5, 0.75, 1.0, 1.25, 1.5]])
def test_real_roots_match_the_construction(roots):
    c = np.polynomial.polynomial.polyfromroots(roots)
    out = np.empty(len(c) + 1)
    k = real_roots_in(c, len(c) - 1, 0.0, 10.0, out)
    found = np.unique(np.round(out[:k], 6))
    np.testing.assert_allclose(found, np.unique(np.round(roots, 6)), atol=2e-6)


def test_exact_step_respects_a_bound():
    # phi(a) = (a - 3)^2 has its minimiser at 3, but a bound stops the line at a_max = 1
    c = np.array([9.0, -6.0, 1.0])
    a, fa, unb = exact_step(c, 2, 1.0)
    assert (a, fa, unb) == (1.0, 4.0, False)
    a, fa, unb = exact_step(c, 2, np.inf)
    assert a == pytest.approx(3.0, rel=1e-15) and fa == pytest.approx(0.0, abs=1e-15)
