"""Iterative methods through the public API, against answers worked by hand."""
import math

import numpy as np
import pytest
import sympy as sp

import symgd

x, y, z = sp.symbols("x y z")
ROSEN = (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


@pytest.fixture(scope="module")
def rosen():
    return symgd.Problem(minimize=ROSEN, variables={x: -1.2, y: 1.0})


def test_newton_rosenbrock_converges_quadratically(rosen):
    r = symgd.solve(rosen, method="newton", tol=1e-12)
    assert r.status == "converged" and r.success
    # The minimiser (1, 1) solves grad = 0 by hand: y = x^2 and x = 1.
    np.testing.assert_allclose(r.x, [1.0, 1.0], atol=1e-10)
    assert r.fun < 1e-20
    assert r.iterations <= 30
    assert r.to_dict()["x"] == pytest.approx({"x": 1.0, "y": 1.0}, abs=1e-10)
    assert r.nit == r.iterations and r.nfev == r.evaluations["f"] >= r.iterations
    assert r.evaluations["hess"] == r.iterations


def test_newton_converges_quadratically_near_minimum():
    # f = exp(x) - 2x has its minimum at ln 2; Newton from nearby: |e_{k+1}| ~ C |e_k|^2.
    p = symgd.Problem(minimize=sp.exp(x) - 2 * x, variables={x: 1.0})
    errs = []
    for it in range(1, 6):
        r = symgd.solve(p, method="newton", max_iter=it, tol=1e-300)
        errs.append(abs(r.x[0] - math.log(2)))
    # Errors 0.2, 0.02, 2e-4, 2e-8, ...: each about the square of the previous (C ~ 0.5).
    for a, b in zip(errs, errs[1:]):
        if b > 1e-15:
            assert b <= 2.0 * a * a


@pytest.mark.parametrize("line_search", ["armijo", "wolfe"])
def test_linesearch_on_quadratic(line_search):
    # 2x^2 + 1.5y^2 + z^2 + xy + yz - x - 2y - 3z: A = [[4,1,0],[1,3,1],[0,1,2]], b = (1,2,3);
    # A x = b by elimination: x = (1-y)/4, z = (3-y)/2, then 9y = 1: (2/9, 1/9, 13/9),
    # and f = -b.x/2 = -(2/9 + 2/9 + 39/9)/2 = -43/18.
    f = 2 * x ** 2 + sp.Rational(3, 2) * y ** 2 + z ** 2 + x * y + y * z - x - 2 * y - 3 * z
    p = symgd.Problem(minimize=f, variables=[x, y, z])
    r = symgd.solve(p, method="linesearch", line_search=line_search, tol=1e-10)
    assert r.status == "converged"
    np.testing.assert_allclose(r.x, [2 / 9, 1 / 9, 13 / 9], atol=1e-9)
    assert r.fun == pytest.approx(-43 / 18, abs=1e-14)


def test_gd_fixed_step_on_quadratic():
    # f = (x-3)^2 + 2 (y+1)^2; gd with lr 0.1 contracts by (1 - 0.2) and (1 - 0.4) per step.
    p = symgd.Problem(minimize=(x - 3) ** 2 + 2 * (y + 1) ** 2, variables=[x, y])
    r = symgd.solve(p, method="gd", learning_rate=0.1, tol=1e-10)
    assert r.status == "converged"
    np.testing.assert_allclose(r.x, [3.0, -1.0], atol=1e-9)
    # Iterations: the slow mode 0.8^k * 6 (gradient 2(x-3)) must fall to 1e-10: k ~ 111.
    assert 100 <= r.iterations <= 125


@pytest.mark.parametrize("schedule", ["constant", {"name": "step", "step_size": 50, "gamma": 0.9},
                                      {"name": "exponential", "gamma": 0.999},
                                      {"name": "inverse_time", "decay": 0.001}])
def test_gd_schedules_reach_minimum(schedule):
    p = symgd.Problem(minimize=(x - 3) ** 2 + 2 * (y + 1) ** 2, variables=[x, y])
    r = symgd.solve(p, method="gd", learning_rate=0.2, schedule=schedule, tol=1e-9,
                    max_iter=20000)
    assert r.status == "converged", r.message
    np.testing.assert_allclose(r.x, [3.0, -1.0], atol=1e-8)


def test_learning_rate_schedule_values():
    from symgd.methods.schedules import learning_rate, pack_schedule
    code, p0, p1, p2 = pack_schedule({"name": "step", "step_size": 10, "gamma": 0.5},
                                     default_t_max=100)
    assert learning_rate(code, 25.0, 1.0, p0, p1, p2) == 0.25  # 0.5^floor(25/10)
    code, p0, p1, p2 = pack_schedule({"name": "cosine", "t_max": 100}, default_t_max=1)
    assert learning_rate(code, 50.0, 1.0, p0, p1, p2) == pytest.approx(0.5)
    assert learning_rate(code, 100.0, 1.0, p0, p1, p2) == pytest.approx(0.0)
    code, p0, p1, p2 = pack_schedule({"name": "triangular", "lr_min": 0.1, "step_size": 10},
                                     default_t_max=1)
    assert learning_rate(code, 0.0, 1.0, p0, p1, p2) == pytest.approx(0.1)
    assert learning_rate(code, 10.0, 1.0, p0, p1, p2) == pytest.approx(1.0)
    assert learning_rate(code, 15.0, 1.0, p0, p1, p2) == pytest.approx(0.55)
    code, p0, p1, p2 = pack_schedule({"name": "inverse_time", "decay": 0.5}, default_t_max=1)
    assert learning_rate(code, 4.0, 1.0, p0, p1, p2) == pytest.approx(1 / 3)


def test_maximize_reports_user_sign():
    # A(l) = 100 l - l^2: A' = 100 - 2l = 0 at l = 50, A(50) = 2500.
    l = sp.Symbol("l")
    p = symgd.Problem(maximize=100 * l - l ** 2, variables={l: 10})
    for method in ("newton", "linesearch"):
        r = symgd.solve(p, method=method, tol=1e-13)
        assert r.status == "converged"
        assert r.x[0] == pytest.approx(50.0, abs=1e-9)
        assert r.fun == pytest.approx(2500.0, rel=1e-14)
        assert r.jac[0] == pytest.approx(0.0, abs=1e-6)


def test_problem_is_not_mutated(rosen):
    before = (rosen.objective, rosen.start.tolist(), dict(rosen.options), rosen.sense)
    symgd.solve(rosen, method="newton", tol=1e-9, x0=[0.0, 0.0])
    assert (rosen.objective, rosen.start.tolist(), dict(rosen.options), rosen.sense) == before
    with pytest.raises(AttributeError):
        rosen.sense = "maximize"


def test_bounds_are_kept_by_every_method():
    # min (x-3)^2 + (y+1)^2 on 0 <= x <= 2, y >= 0: the box point nearest (3, -1) is (2, 0).
    p = symgd.Problem(minimize=(x - 3) ** 2 + (y + 1) ** 2,
                      variables={x: {"start": 1.0, "lower": 0, "upper": 2},
                                 y: {"start": 1.0, "lower": 0}})
    for method, opts in [("newton", {}), ("linesearch", {}), ("linesearch", {"line_search": "wolfe"}),
                         ("gd", {"learning_rate": 0.1})]:
        r = symgd.solve(p, method=method, **opts)
        assert r.status == "converged", (method, r.message)
        np.testing.assert_allclose(r.x, [2.0, 0.0], atol=1e-9)
        assert r.fun == pytest.approx(2.0)


def test_newton_on_saddle_is_not_a_minimum():
    # x^2 - y^2 from (1, 0): the gradient's y part is 0 on y = 0, so Newton walks to the
    # saddle (0, 0); the Hessian diag(2, -2) shows it is not a minimum.
    p = symgd.Problem(minimize=x ** 2 - y ** 2, variables={x: 1.0, y: 0.0})
    r = symgd.solve(p, method="newton")
    assert r.status == "stalled" and not r.success
    assert "saddle point" in r.message


def test_newton_modified_hessian_descends_from_indefinite_region():
    # Himmelblau from (0, 0): the Hessian there is [[-42, 0], [0, -26]] (negative definite),
    # so a plain Newton step would climb to the maximum; the modified step descends to a
    # minimum (f = 0).
    f = (x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2
    r = symgd.solve(symgd.Problem(minimize=f, variables=[x, y]), method="newton")
    assert r.status == "converged"
    assert r.fun == pytest.approx(0.0, abs=1e-16)


def test_max_iter_status_and_message(rosen):
    r = symgd.solve(rosen, method="linesearch", max_iter=5)
    assert r.status == "max_iter" and not r.success
    assert r.iterations == 5 and "max_iter" in r.message


def test_diverging_learning_rate_is_detected():
    # gd on x^2 with lr 1.5: x <- x - 3x = -2x, |x| doubles every step.
    p = symgd.Problem(minimize=x ** 2, variables={x: 1.0})
    r = symgd.solve(p, method="gd", learning_rate=1.5)
    assert r.status == "diverged"
    assert r.iterations <= 10
    assert "learning_rate 0.15" in r.message
    assert r.x[0] == 1.0  # the best point seen is the start


def test_unbounded_objective():
    p = symgd.Problem(minimize=x ** 3 + y ** 2, variables={x: -1.0, y: 0.5})
    r = symgd.solve(p, method="linesearch")
    assert r.status == "unbounded"
    assert np.all(np.isfinite(r.x))


def test_time_limit_returns_best_point(rosen):
    r = symgd.solve(rosen, method="gd", learning_rate=1e-5, max_iter=10**9, time_limit=0.3)
    assert r.status == "timeout"
    assert r.time_s < 1.5
    assert np.all(np.isfinite(r.x)) and r.fun < 24.2  # better than the start's f = 24.2


def test_start_outside_domain_is_an_input_error():
    p = symgd.Problem(minimize=sp.log(x) + x ** 2, variables={x: -1.0})
    with pytest.raises(symgd.InputError) as err:
        symgd.solve(p, method="newton")
    assert "x=-1" in str(err.value) and "domain" in str(err.value)


def test_nonfinite_trial_points_backtrack():
    # log(x) - x on x > 0 has its maximum at x = 1; from x = 0.1 the first Newton/gradient
    # steps overshoot into x < 0 where log is nan: the line search must shrink instead.
    p = symgd.Problem(maximize=sp.log(x) - x, variables={x: 0.1})
    for method in ("newton", "linesearch"):
        r = symgd.solve(p, method=method)
        assert r.status == "converged", (method, r.message)
        assert r.x[0] == pytest.approx(1.0, abs=1e-7)


def test_option_errors_name_the_option(rosen):
    with pytest.raises(symgd.InputError) as err:
        symgd.solve(rosen, method="newton", tl=1e-3)
    assert err.value.field == "options.tl" and "did you mean 'tol'" in err.value.message
    with pytest.raises(symgd.InputError) as err:
        symgd.solve(rosen, method="newtn")
    assert "newton" in err.value.message
    with pytest.raises(symgd.InputError):
        symgd.solve(rosen, method="gd", learning_rate=-1)
    with pytest.raises(symgd.InputError) as err:
        symgd.solve(rosen, method="sgd")
    assert "planned" in err.value.message or "data" in err.value.message


def test_constraints_refused_by_unconstrained_methods():
    p = symgd.Problem(minimize=x ** 2 + y ** 2, variables=[x, y], constraints=[sp.Eq(x + y, 1)])
    with pytest.raises(symgd.InputError) as err:
        symgd.solve(p, method="newton")
    assert "analytic" in err.value.message and err.value.field == "constraints"


def test_x0_override(rosen):
    r = symgd.solve(rosen, method="newton", x0={"x": 2.0, "y": 2.0})
    assert r.status == "converged"
    np.testing.assert_allclose(r.x, [1.0, 1.0], atol=1e-8)


def test_nonsmooth_objective_compiles():
    # |x - 1| + (y - 2)^2 + Max(x, y) compiles (Abs, Max, sign and Heaviside in derivatives).
    p = symgd.Problem(minimize=sp.Abs(x - 1) + (y - 2) ** 2 + sp.Max(x, y) / 10,
                      variables={x: 0.0, y: 0.0})
    r = symgd.solve(p, method="linesearch", max_iter=200)
    assert r.fun <= 0.2 + 1e-3 + 1e-6  # at (1, 2): 0 + 0 + 0.2; subgradient methods stall near it
