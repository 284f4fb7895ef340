"""Fits linear in their parameters (symgd/fit/linear.py) and IRLS for the mae
(symgd/fit/irls.py): closed forms against independent answers (numpy's lstsq, a small
example worked by hand, a brute-force search over the lines through two data points,
HiGHS on the full LP), and honest statuses on kinked losses (SPEC §2)."""
import math
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symgd
from symgd.fit import irls, linear
from symgd.fit.spec import fit_spec

a, b, c, x, y = sp.symbols("a b c x y")
PROBLEMS = Path(__file__).resolve().parents[1] / "problems"


def fence_problem():
    return symgd.load(PROBLEMS / "fence_fit.yaml")


def noisy_line(n=400, seed=7):
    """A line with Student-t noise (2 degrees of freedom) and 5% gross outliers."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-5.0, 5.0, n)
    Y = 1.5 - 0.8 * X + rng.standard_t(2, n)
    Y[: n // 20] += rng.uniform(20.0, 60.0, n // 20)
    return X, Y


def best_line_through_two_points(X, Y):
    """The least mean |residual| over all lines through two of the samples (an optimal
    LAD line passes through two of them), by brute force, vectorised in blocks."""
    i, j = np.triu_indices(X.size, 1)
    keep = X[j] != X[i]
    i, j = i[keep], j[keep]
    slope = (Y[j] - Y[i]) / (X[j] - X[i])
    icpt = Y[i] - slope * X[i]
    best = math.inf
    for s in range(0, slope.size, 5000):
        res = Y[None, :] - icpt[s:s + 5000, None] - slope[s:s + 5000, None] * X[None, :]
        best = min(best, float(np.abs(res).mean(axis=1).min()))
    return best


def mae_cosine(X, Y, theta, eps):
    """SPEC §2's IRLS fixed-point test, written out again: the cosine of the weighted
    least-squares problem with weights 1/max(|r|, eps) made at theta itself."""
    J = np.column_stack([np.ones_like(X), X])
    r = J @ theta - Y
    w = 1.0 / np.maximum(np.abs(r), eps)
    g = J.T @ (w * r)
    colw = np.sqrt((w[:, None] * J * J).sum(axis=0))
    return float(np.max(np.abs(g) / (colw * math.sqrt(float(w @ (r * r))))))


# ----------------------------------------------------------------------------- detection
def test_linearity_is_detected_symbolically():
    X = np.linspace(0.0, 1.0, 5)
    lin = symgd.Problem(model=a * sp.sin(x) + b * x ** 2 + 3, target=sp.log(y + 2),
                        loss="mae", data={"x": X, "y": X}, variables={a: 0, b: 0})
    spec = fit_spec(lin)
    form = linear.linear_form(spec)
    assert form is not None
    xs, ys = spec.data_symbols   # the Problem's own symbols (sorted by name)
    assert form.basis == (sp.sin(xs), xs ** 2)
    assert sp.simplify(form.offset - (3 - sp.log(ys + 2))) == 0
    for model, loss in [(a * sp.exp(-b * x), "mae"), (a * b * x, "mse"),
                        (a * x + b, "huber"), (a * x + b, "logcosh")]:
        p = symgd.Problem(model=model, target=y, loss=loss, data={"x": X, "y": X},
                          variables={a: 1, b: 1})
        assert linear.linear_form(fit_spec(p)) is None, (model, loss)
    # a per-sample square of a linear residual is linear least squares too
    sq = symgd.Problem(minimize=(a * x + b - y) ** 2, data={"x": X, "y": X},
                       variables={a: 0, b: 0})
    assert linear.linear_form(fit_spec(sq)) is not None


# ----------------------------------------------------------------------------- the seed
def test_fence_fit_mae_auto_is_solved_exactly():
    r = symgd.solve(fence_problem(), method="auto")
    assert r.success and r.status == "solved"
    assert r.method == "analytic" and r.requested_method == "auto"
    assert abs(r.x[0] + 1.0) < 1e-6 and abs(r.x[1] - 100.0) < 1e-4
    assert r.fun < 1e-9   # the data lie on the model: the mean |r| is rounding only
    assert any("least absolute deviations" in s and "LP dual" in s for s in r.path)
    assert "certified by LP duality" in r.message
    assert r.extra["n_samples"] == 100
    assert r.extra["stderr"] == {"a": None, "b": None}
    assert "standard errors are not estimated for mae" in r.message
    assert r.extra["r_squared"] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("method", ["gd", "sgd"])
def test_fence_fit_gd_and_sgd_stay_iterative_and_honest(method):
    r = symgd.solve(fence_problem(), method=method, max_iter=300, epochs=60)
    assert r.method == method and r.requested_method == method
    assert r.path[-1] == f"{method}: {r.status}"
    if r.status == "converged":   # only if SPEC §2's test holds at the returned point
        g, f = np.abs(r.jac), abs(r.fun)
        assert float(np.max(g * np.maximum(np.abs(r.x), 1.0))) / max(f, 1.0) <= 1e-8 \
            or method == "sgd"
    else:
        assert r.status in ("max_iter", "stalled")
        assert not r.success


@pytest.mark.parametrize("method", ["newton", "linesearch"])
def test_explicit_methods_on_a_kinked_loss_never_claim_convergence_falsely(method):
    r = symgd.solve(fence_problem(), method=method)
    assert r.method == method
    assert r.status != "converged" or (
        float(np.max(np.abs(r.jac) * np.maximum(np.abs(r.x), 1.0)))
        / max(abs(r.fun), 1.0) <= 1e-8)


# ----------------------------------------------------------------------------- LAD
def test_noisy_lad_line_matches_brute_force_over_pairs_of_points():
    X, Y = noisy_line()
    p = symgd.Problem(model=a + b * x, target=y, loss="mae", data={"x": X, "y": Y},
                      variables={a: 0.0, b: 0.0})
    r = symgd.solve(p)
    assert r.status == "solved" and r.method == "analytic"
    best = best_line_through_two_points(X, Y)
    assert r.fun == pytest.approx(best, rel=1e-12)
    assert r.fun == pytest.approx(float(np.mean(np.abs(Y - r.x[0] - r.x[1] * X))),
                                  rel=1e-12)


def test_large_lad_by_irls_and_reduced_lp_matches_the_full_lp(monkeypatch):
    """Above the gate auto runs IRLS and closes it with the LP on the samples nearest
    its fit; the answer must be the full LP's optimum (HiGHS, interior point)."""
    from scipy.optimize import linprog
    rng = np.random.default_rng(3)
    n = 3000
    X = rng.uniform(0.0, 2.0, n)
    Y = 0.3 + 1.7 * X - 0.4 * X ** 2 + rng.laplace(0.0, 0.2, n)
    Y[rng.random(n) < 0.1] += 25.0
    monkeypatch.setattr(linear, "LP_MAX_SAMPLES", 500)
    p = symgd.Problem(model=a + b * x + c * x ** 2, target=y, loss="mae",
                      data={"x": X, "y": Y}, variables={a: 0.0, b: 0.0, c: 0.0})
    r = symgd.solve(p)
    assert r.status == "solved" and r.method == "analytic"
    assert any("IRLS" in s and "> 500" in s for s in r.path)
    # the primal LP with slacks, written out independently
    D = np.column_stack([np.ones(n), X, X ** 2])
    A = np.hstack([D, np.eye(n), -np.eye(n)])
    cost = np.concatenate([np.zeros(3), np.ones(2 * n)])
    res = linprog(cost, A_eq=A, b_eq=Y, bounds=[(None, None)] * 3 + [(0, None)] * (2 * n),
                  method="highs")
    assert res.status == 0
    assert r.fun == pytest.approx(res.fun / n, rel=1e-10)


def test_irls_alone_agrees_with_the_lp_and_reports_its_fixed_point(monkeypatch):
    """IRLS forced (gate 100, the reduced LP disabled): its objective is within the
    bound n eps / 2 of the LP's (|r| - eps/2 <= Huber_eps(r) <= |r|), its status is
    converged only where the fixed-point test holds when recomputed here."""
    X, Y = noisy_line(n=400, seed=11)
    lp = symgd.solve(symgd.Problem(model=a + b * x, target=y, loss="mae",
                                   data={"x": X, "y": Y}, variables={a: 0.0, b: 0.0}))
    assert lp.status == "solved"
    monkeypatch.setattr(linear, "LP_MAX_SAMPLES", 100)
    monkeypatch.setattr(linear, "reduced_lp", lambda *args, **kw: None)
    p = symgd.Problem(model=a + b * x, target=y, loss="mae", data={"x": X, "y": Y},
                      variables={a: 0.0, b: 0.0})
    r = symgd.solve(p)
    assert r.method == "irls" and r.requested_method == "auto"
    eps = irls.IRLS_EPS * float(np.max(np.abs(Y)))
    cos = mae_cosine(X, Y, r.x, eps)
    if r.status == "converged":
        assert cos <= 1e-8
    else:
        assert r.status in ("max_iter", "stalled") and cos > 1e-8
    assert r.status == "converged"  # on this data the fixed point is reached
    assert lp.fun <= r.fun <= lp.fun + eps / 2 + 1e-14 * lp.fun
    # the message's duality interval contains the LP's optimum
    lo_hi = re.search(r"lies in \[([-0-9.e+]+), ([-0-9.e+]+)\]", r.message)
    assert lo_hi is not None
    lo, hi = float(lo_hi.group(1)), float(lo_hi.group(2))
    assert lo <= lp.fun * 400 * (1 + 1e-11) and hi >= lp.fun * 400 * (1 - 1e-11)
    # and a small max_iter is reported as such, not as convergence
    r2 = symgd.solve(p, max_iter=2)
    assert r2.status == "max_iter" and not r2.success
    assert mae_cosine(X, Y, r2.x, eps) > 1e-8


def test_irls_linear_against_the_lp_directly():
    X, Y = noisy_line(n=1000, seed=5)
    D = np.column_stack([np.ones_like(X), X])
    o = irls.irls_linear(D, Y, tol=1e-8, max_iter=2000)
    lp = linear.lad_lp(D, Y, ["a", "b"])
    n, eps = X.size, o.eps
    P_lp = float(np.abs(Y - D @ lp.theta).sum())
    P_irls = float(np.abs(Y - D @ o.theta).sum())
    assert P_lp <= P_irls * (1 + 1e-14) and P_irls <= P_lp + n * eps / 2
    assert (o.status == "converged") == (mae_cosine(X, Y, o.theta, eps) <= 1e-8)


# ----------------------------------------------------------------------------- least squares
def test_linear_least_squares_matches_numpy_lstsq_on_a_polynomial():
    rng = np.random.default_rng(2)
    X = rng.uniform(-2.0, 3.0, 250)
    Y = 0.5 - 1.2 * X + 0.3 * X ** 2 + 0.05 * X ** 3 + 0.2 * rng.standard_normal(250)
    d = sp.symbols("d")
    p = symgd.Problem(model=a + b * x + c * x ** 2 + d * x ** 3, target=y, loss="sse",
                      data={"x": X, "y": Y}, variables={a: 0, b: 0, c: 0, d: 0})
    r = symgd.solve(p)
    assert r.status == "solved" and r.method == "analytic"
    V = np.vander(X, 4, increasing=True)
    ref, rss, *_ = np.linalg.lstsq(V, Y, rcond=None)
    np.testing.assert_allclose(r.x, ref, rtol=1e-10, atol=1e-12)
    assert r.fun == pytest.approx(float(rss[0]), rel=1e-10)
    assert r.extra["rss"] == pytest.approx(float(rss[0]), rel=1e-10)
    # standard errors: sqrt(s² diag (VᵀV)⁻¹), s² = RSS / (n - p)
    se = np.sqrt(rss[0] / (250 - 4) * np.diag(np.linalg.inv(V.T @ V)))
    np.testing.assert_allclose([r.extra["stderr"][k] for k in "abcd"], se, rtol=1e-8)


def test_linear_least_squares_hand_worked_example():
    # y = a + b x through (0, 1), (1, 3), (2, 4): normal equations
    #   3a + 3b = 8,  3a + 5b = 11   ->  b = 3/2,  a = 7/6;  residuals -1/6, 1/3, -1/6
    #   mse = (1/36 + 1/9 + 1/36) / 3 = 1/18
    p = symgd.Problem(model=a + b * x, target=y, loss="mse",
                      data={"x": [0.0, 1.0, 2.0], "y": [1.0, 3.0, 4.0]},
                      variables={a: 0, b: 0})
    r = symgd.solve(p)
    assert r.status == "solved"
    assert r.x[0] == pytest.approx(7 / 6, rel=1e-14)
    assert r.x[1] == pytest.approx(3 / 2, rel=1e-14)
    assert r.fun == pytest.approx(1 / 18, rel=1e-12)


def test_rank_deficient_design_is_reported():
    X = np.linspace(0.0, 4.0, 30)
    Y = 2.0 * X + 0.1 * np.sin(7 * X)
    p = symgd.Problem(model=a * x + b * x, target=y, loss="mse", data={"x": X, "y": Y},
                      variables={a: 5.0, b: -1.0})
    r = symgd.solve(p)
    assert "rank 1 < 2" in r.message and "not determined" in r.message
    assert "a, b" in r.message
    assert "infinitely many" in r.message
    # the minimum-norm minimiser splits the slope evenly; the sum is lstsq's slope
    s = float(np.linalg.lstsq(X[:, None], Y, rcond=None)[0][0])
    assert r.x[0] == pytest.approx(s / 2, rel=1e-10)
    assert r.x[1] == pytest.approx(s / 2, rel=1e-10)
    assert r.extra["stderr"] == {"a": None, "b": None}
    # mae on the same design: solved by LP, and the same words
    r2 = symgd.solve(symgd.Problem(model=a * x + b * x, target=y, loss="mae",
                                   data={"x": X, "y": Y}, variables={a: 5.0, b: -1.0}))
    assert r2.status == "solved" and "not determined" in r2.message


def test_per_sample_square_of_a_linear_residual_is_solved_in_closed_form():
    rng = np.random.default_rng(4)
    X = rng.uniform(0.0, 1.0, 50)
    Y = 3.0 * X - 1.0 + 0.01 * rng.standard_normal(50)
    p = symgd.Problem(minimize=(a * x + b - y) ** 2, data={"x": X, "y": Y},
                      variables={a: 0, b: 0})
    r = symgd.solve(p)
    assert r.method == "analytic" and r.status == "solved"
    ref = np.polyfit(X, Y, 1)
    np.testing.assert_allclose(r.x, ref, rtol=1e-10)


def test_bounds_violated_by_the_closed_form_fall_back_to_iterative_methods():
    X, Y = noisy_line(n=200, seed=3)
    for loss, method in (("mse", "lm"), ("mae", "irls")):
        p = symgd.Problem(model=a + b * x, target=y, loss=loss, data={"x": X, "y": Y},
                          variables={a: {"start": 0.0, "upper": 0.5}, b: 0.0})
        r = symgd.solve(p)
        assert r.method == method, r.path
        assert any("outside the bounds of a" in s for s in r.path)
        assert r.x[0] == pytest.approx(0.5)
        if loss == "mse":   # a held at 0.5: the slope is lstsq's on y - 0.5
            s = float(np.linalg.lstsq(X[:, None], Y - 0.5, rcond=None)[0][0])
            assert r.x[1] == pytest.approx(s, rel=1e-8)


# ----------------------------------------------------------------------------- nonlinear mae
def test_nonlinear_mae_under_auto_runs_irls_not_newton():
    from scipy.optimize import minimize
    rng = np.random.default_rng(8)
    X = rng.uniform(0.0, 4.0, 300)
    Y = 2.0 * np.exp(-0.7 * X) + rng.laplace(0.0, 0.05, 300)
    Y[:10] += 3.0
    p = symgd.Problem(model=a * sp.exp(-b * x), target=y, loss="mae",
                      data={"x": X, "y": Y}, variables={a: 1.0, b: 0.3})
    r = symgd.solve(p)
    assert r.method == "irls" and r.requested_method == "auto"
    assert not any(s.startswith("newton") or "chose newton" in s for s in r.path)
    assert any("IRLS over lm" in s for s in r.path)
    # the fixed-point test recomputed here, from x alone
    e = np.exp(-r.x[1] * X)
    res = r.x[0] * e - Y
    J = np.column_stack([e, -r.x[0] * X * e])
    eps = irls.IRLS_EPS * float(np.max(np.abs(Y)))
    w = 1.0 / np.maximum(np.abs(res), eps)
    cos = float(np.max(np.abs(J.T @ (w * res))
                       / (np.sqrt((w[:, None] * J * J).sum(0)) * math.sqrt(w @ res ** 2))))
    assert (r.status == "converged") == (cos <= 1e-8)
    assert r.status == "converged"
    # a second method: Nelder-Mead on the mean |r| from the same start finds no better
    nm = minimize(lambda t: np.mean(np.abs(t[0] * np.exp(-t[1] * X) - Y)), [1.0, 0.3],
                  method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-14,
                                                 "maxiter": 20000})
    assert r.fun <= nm.fun + 1e-9
    np.testing.assert_allclose(r.x, nm.x, rtol=1e-4)


def test_auto_falls_back_honestly_where_numpy_cannot_take_the_model(monkeypatch):
    """No design matrix (numpy cannot evaluate the terms): mse goes to lm; a nonlinear
    mae that IRLS cannot evaluate goes to sgd with a decaying schedule and patience,
    never to newton, and path says why."""
    X, Y = noisy_line(n=300, seed=9)
    monkeypatch.setattr(linear, "design", lambda *args, **kw: None)
    r = symgd.solve(symgd.Problem(model=a + b * x, target=y, loss="mse",
                                  data={"x": X, "y": Y}, variables={a: 0.0, b: 0.0}))
    assert r.method == "lm" and r.status == "converged"
    assert any("numpy cannot evaluate" in s and "lm instead" in s for s in r.path)
    np.testing.assert_allclose(r.x, np.polyfit(X, Y, 1)[::-1], rtol=1e-8)

    monkeypatch.setattr(irls, "residual_jacobian", lambda *args, **kw: (None, "no numpy"))
    r2 = symgd.solve(symgd.Problem(model=a * sp.exp(b * x), target=y, loss="mae",
                                   data={"x": X, "y": Y}, variables={a: 1.0, b: 0.0}),
                     epochs=20)
    assert r2.method == "sgd"
    assert any("but no numpy: sgd with a cosine schedule and patience" in s
               for s in r2.path)
    assert not any(s.startswith("newton") or "chose newton" in s for s in r2.path)
    assert r2.status in ("converged", "max_iter", "stalled")
