"""method: auto — the closed form first, polished by Newton; otherwise an iterative method,
with every step recorded in `path`."""
import numpy as np
import pytest
import sympy as sp

import symgd

x, y, z, w = sp.symbols("x y z w")


def test_auto_answers_from_the_closed_form_and_polishes():
    f = (x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2  # Himmelblau
    r = symgd.solve(symgd.Problem(minimize=f, variables={x: 0.0, y: 0.0}))
    assert r.method == "analytic" and r.requested_method == "auto"
    assert r.status == "solved" and r.success
    assert r.path[0].startswith("analytic: solved") and "polish" in r.path[-1]
    assert r.fun == pytest.approx(0.0, abs=1e-20)
    assert len(r.analytic.critical_points) == 9 and r.analytic.global_ is True


def test_auto_falls_back_to_newton_without_a_closed_form():
    # d/dx [cosh(x) + x e^-x / 10] = 0 is transcendental: no closed form.
    f = sp.cosh(x) + (y - 1) ** 2 + sp.exp(-x) * x / 10
    r = symgd.solve(symgd.Problem(minimize=f, variables={x: 1.0, y: 0.0}), timeout=5,
                    tol=1e-13)
    assert r.success
    if r.method != "analytic":
        assert any(p.startswith("auto chose newton") for p in r.path)
        assert r.path[0].startswith("analytic: ")
    # cosh(x) + x e^-x / 10 has its minimum where sinh(x) + (1 - x) e^-x / 10 = 0
    from scipy.optimize import brentq
    x_star = brentq(lambda t: np.sinh(t) + (1 - t) * np.exp(-t) / 10, -1, 1, xtol=1e-15)
    assert r.x_dict["x"] == pytest.approx(x_star, abs=1e-9)
    assert r.x_dict["y"] == pytest.approx(1.0, abs=1e-9)


def test_auto_closed_form_timeout_then_iterative():
    # A dense quartic in 4 variables: the Groebner basis takes far longer than 1 s. The
    # cross terms are small enough (AM-GM) that the leading form stays positive definite,
    # so a minimum exists and Newton must find a point with a vanishing gradient.
    vs = [x, y, z, w]
    f = sum(v ** 4 for v in vs) + sum(sp.Rational(i + 1, 10) * vs[i] * vs[(i + 1) % 4] ** 2
                                      * vs[(i + 2) % 4] for i in range(4)) \
        + x * y * z * w / 10 + sum(vs)
    r = symgd.solve(symgd.Problem(minimize=f, variables=vs), timeout=1)
    assert r.path[0].startswith("analytic: timeout") or r.path[0].startswith("analytic: no_closed")
    assert r.method == "newton" and r.timings["analytic"] < 2.5
    assert r.status in ("converged", "stalled")


def test_auto_constrained_uses_the_closed_form():
    l_, w_ = sp.symbols("l w")
    p = symgd.Problem(maximize=l_ * w_, variables={l_: 10, w_: 10},
                      constraints=["2*l + 2*w == 200"])
    r = symgd.solve(p)
    assert r.method == "analytic" and r.success
    assert r.x_dict == pytest.approx({"l": 50.0, "w": 50.0})
    assert r.fun == pytest.approx(2500.0)
    assert r.to_dict()["multipliers"] == {"2*l + 2*w == 200": pytest.approx(25.0)}
    assert r.to_dict()["max_violation"] == 0.0
    assert r.path[-1].startswith("newton (KKT): polished the closed-form point")


def test_kkt_polish_on_an_algebraic_point_with_a_bound_held():
    # min (x - 3)^2 + (y - 3)^2 s.t. x + y <= 3, x <= 1: the bound holds x = 1 and the
    # constraint y = 2 (by hand: the unconstrained minimum (3, 3) violates both).
    x, y = sp.symbols("x y")
    p = symgd.Problem(minimize=(x - 3)**2 + (y - 3)**2,
                      variables={x: {"start": 0, "upper": 1}, y: 0}, constraints=["x + y <= 3"])
    r = symgd.solve(p)
    assert r.x.tolist() == [1.0, 2.0]
    assert "active: x + y <= 3, x <= 1" in r.path[-1]
    # x + y = 1 on the circle x^2 + y^2 = 2 ... min x + y over the circle and the
    # cubic y = x^3: the points (1, 1) and (-1, -1); the minimum is (-1, -1), f = -2.
    p = symgd.Problem(minimize=x + y, variables=[x, y],
                      constraints=["x**2 + y**2 == 2", "x**3 - y == 0"])
    r = symgd.solve(p)
    assert r.x.tolist() == [-1.0, -1.0] and r.fun == -2.0
    assert "polished" in r.path[-1]


def test_kkt_polish_by_itself_converges_from_a_perturbed_point():
    from symgd.kkt_polish import polish
    # min x + y on the unit circle: (-1/sqrt 2, -1/sqrt 2); Newton on the KKT equations
    # from a point 1e-7 away returns to it to full precision, in a few steps.
    x, y = sp.symbols("x y")
    p = symgd.Problem(minimize=x + y, variables=[x, y], constraints=["x**2 + y**2 == 1"])
    q = polish(p, np.array([-0.7071068, -0.7071067]))
    assert q is not None and 1 <= q.iterations <= 5
    np.testing.assert_allclose(q.x, [-2 ** -0.5, -2 ** -0.5], rtol=1e-15)
    # a start far from any KKT point (moved more than 1e-6) is not accepted
    assert polish(p, np.array([-0.5, -0.9])) is None


def test_auto_skips_the_closed_form_of_a_large_nonlinear_system_but_not_a_quadratic():
    n = 30
    v = sp.symbols(f"v0:{n}", real=True)
    rosen = sum(100 * (v[i + 1] - v[i] ** 2) ** 2 + (1 - v[i]) ** 2 for i in range(n - 1))
    r = symgd.solve(symgd.Problem(minimize=rosen, variables={s: 0.5 for s in v}))
    assert r.path[0].startswith("analytic: no_closed_form (not tried: 30 variables")
    assert r.status == "converged"
    assert np.allclose(r.x, 1.0, atol=1e-6)           # the chained Rosenbrock minimum
    # sum (v_i - i)^2 + (v_i - v_{i+1})^2 / 4: a quadratic, so the closed form still runs;
    # its minimiser solves the tridiagonal system checked here with numpy
    quad = sum((v[i] - i) ** 2 for i in range(n)) + \
        sum((v[i] - v[i + 1]) ** 2 / 4 for i in range(n - 1))
    r2 = symgd.solve(symgd.Problem(minimize=quad, variables=list(v)))
    assert r2.method == "analytic"
    A = np.diag(np.full(n, 2.0)) + np.diag(np.r_[0.5, np.full(n - 2, 1.0), 0.5])
    A -= np.diag(np.full(n - 1, 0.5), 1) + np.diag(np.full(n - 1, 0.5), -1)
    assert np.allclose(r2.x, np.linalg.solve(A, 2.0 * np.arange(n)), atol=1e-9)
