"""One pipeline (issue 11): the registry is the only dispatch, fits run the same
compiled loops as objectives, and a bundle evaluated in Python drives those loops."""
from __future__ import annotations

import cProfile
import dataclasses
import pstats

import numpy as np
import pytest
import sympy as sp

import symgd
from symgd import methods
from symgd.kernelgen.pybundle import PythonBundle
from symgd.errors import InputError
from symgd.finish import SolveContext
from symgd.methods import runners

x, y, a, b, c, t, u = sp.symbols("x y a b c t u")
ROSEN = (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def rosen_problem():
    return symgd.Problem(minimize=ROSEN, variables={x: -1.2, y: 1.0})


def exp_fit(n=400, seed=0):
    rng = np.random.default_rng(seed)
    T = np.linspace(0.0, 4.0, n)
    U = 2.0 * np.exp(-1.3 * T) + 0.5 + 0.01 * rng.standard_normal(n)
    return symgd.Problem(model=a * sp.exp(-b * t) + c, target=u, loss="mse",
                         data={"t": T, "u": U}, variables={a: 1.5, b: 0.5, c: 0.1}), T, U


# --------------------------------------------------------------------------- registry
def test_a_new_method_is_one_registry_entry_and_one_runner(monkeypatch):
    calls = []

    def my_runner(bundle, x0, lower, upper, opts, deadline):
        calls.append(opts["learning_rate"])
        return runners.newton(bundle, x0, lower, upper, {**opts, "c1": 1e-4}, deadline)

    spec = methods.MethodSpec("mysearch", {"learning_rate": 0.5}, 500, my_runner,
                              needs_hessian=True, gradient_test=True,
                              summary="a test method")
    monkeypatch.setitem(methods.REGISTRY, "mysearch", spec)
    r = symgd.solve(rosen_problem(), method="mysearch", tol=1e-10)
    assert calls == [0.5] and r.method == "mysearch" and r.status == "converged"
    np.testing.assert_allclose(r.x, [1.0, 1.0], atol=1e-6)   # the minimum, by hand


def test_every_available_method_has_a_runner_or_is_composed_by_the_solver():
    for name, spec in methods.REGISTRY.items():
        if spec.planned:
            continue
        assert (spec.run is not None) != (name in ("auto", "analytic")), name


def test_auto_internal_paths_are_not_methods_a_user_can_name():
    for name in ("linear", "irls"):
        with pytest.raises(InputError) as info:
            symgd.solve(rosen_problem(), method=name)
        assert "unknown method" in info.value.message and "auto" in info.value.message


def test_data_methods_refuse_problems_without_data():
    for name in ("lm", "sgd"):
        with pytest.raises(InputError) as info:
            symgd.solve(rosen_problem(), method=name)
        assert "needs a problem with data" in info.value.message


def test_the_solve_context_is_frozen():
    ctx = SolveContext("newton", {}, 0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.requested = "gd"


# --------------------------------------------------------------------------- fits compiled
@pytest.mark.parametrize("method", ["newton", "linesearch"])
def test_full_batch_fit_matches_scipy(method):
    from scipy.optimize import curve_fit
    p, T, U = exp_fit()
    popt, _ = curve_fit(lambda s, A, B, C: A * np.exp(-B * s) + C, T, U, p0=[1.5, 0.5, 0.1],
                        jac=lambda s, A, B, C: np.column_stack(
                            [np.exp(-B * s), -A * s * np.exp(-B * s), np.ones_like(s)]))
    r = symgd.solve(p, method=method, tol=1e-10, max_iter=100_000)
    assert r.status == "converged", r.message
    np.testing.assert_allclose(r.x, popt, rtol=1e-6)
    # the reported loss is the mean squared residual at r.x (recomputed here)
    res = r.x[0] * np.exp(-r.x[1] * T) + r.x[2] - U
    assert r.fun == pytest.approx(np.mean(res ** 2), rel=1e-12)
    assert len(r.history["fun"]) == r.iterations + 1
    assert r.history["fun"][0] >= r.history["fun"][-1]


def _python_calls(fn) -> int:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    return pstats.Stats(prof).total_calls


def test_fit_loops_run_no_python_between_iterations():
    """A fit's gd run makes as many Python calls for 400 iterations as for 20: the
    iterations run inside the compiled loop (a callback would add calls per pass).
    Keeping the history adds one call each time its array doubles (32, 64, ... rows):
    a handful of calls per doubling, log2(400 / 32) < 4 doublings."""
    p, _, _ = exp_fit()
    run = lambda k, h=True: symgd.solve(p, method="gd", learning_rate=0.05, max_iter=k,
                                        tol=1e-300, history=h)
    assert run(5).iterations == 5          # compile and cache everything first
    assert run(400).iterations == 400
    few = _python_calls(lambda: run(20, False))
    many = _python_calls(lambda: run(400, False))
    assert many <= few + 20, (few, many)
    few = _python_calls(lambda: run(20))
    many = _python_calls(lambda: run(400))
    assert many <= few + 20 + 4 * 15, (few, many)


# --------------------------------------------------------------------------- Python bundles
def _rosen_numpy():
    def fun(v):
        return (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2

    def fg(v, g):
        g[0] = -2 * (1 - v[0]) - 400 * v[0] * (v[1] - v[0] ** 2)
        g[1] = 200 * (v[1] - v[0] ** 2)
        return fun(v)

    def hess(v, H):
        H[0, 0] = 2 - 400 * (v[1] - 3 * v[0] ** 2)
        H[0, 1] = H[1, 0] = -400 * v[0]
        H[1, 1] = 200

    return fun, fg, hess


def test_a_python_bundle_drives_the_same_compiled_newton_loop():
    opts = methods.resolve_options("newton", {"tol": 1e-10})
    lo, hi = np.full(2, -np.inf), np.full(2, np.inf)
    x0 = np.array([-1.2, 1.0])
    py = runners.newton(PythonBundle(2, *_rosen_numpy()), x0, lo, hi, opts, None)
    compiled = symgd.solve(rosen_problem(), method="newton", tol=1e-10)
    assert py.status == "converged" and py.iterations == compiled.iterations
    np.testing.assert_allclose(py.x, [1.0, 1.0], atol=1e-9)


def test_a_python_bundle_error_is_raised_after_the_loop_and_ctrl_c_interrupts():
    fun, fg, hess = _rosen_numpy()
    calls = []

    def failing_fg(v, g):
        calls.append(1)
        if len(calls) == 3:
            raise ValueError("device lost")
        return fg(v, g)

    opts = methods.resolve_options("linesearch", {})
    lo, hi = np.full(2, -np.inf), np.full(2, np.inf)
    with pytest.raises(ValueError, match="device lost"):
        runners.linesearch(PythonBundle(2, fun, failing_fg), np.array([-1.2, 1.0]), lo, hi,
                           opts, None)

    def interrupted_fg(v, g):
        calls.append(1)
        if len(calls) > 10:
            raise KeyboardInterrupt
        return fg(v, g)

    out = runners.linesearch(PythonBundle(2, fun, interrupted_fg), np.array([-1.2, 1.0]),
                             lo, hi, opts, None)
    assert out.status == "interrupted" and np.all(np.isfinite(out.x))


# --------------------------------------------------------------------------- statistics
def test_sgd_statistics_wait_until_read_and_match_the_ols_formula():
    rng = np.random.default_rng(4)
    T = rng.uniform(-1, 1, 300)
    U = 1.5 * T - 0.5 + 0.1 * rng.standard_normal(300)
    p = symgd.Problem(model=a * t + c, target=u, loss="mse", data={"t": T, "u": U},
                      variables={a: 0.0, c: 0.0})
    r = symgd.solve(p, method="sgd", epochs=30, learning_rate=0.05, seed=1)
    assert r.extra["n_samples"] == 300 and len(r.history["fun"]) == r.iterations
    # at r.x: s2 (XᵀX)^-1, the classical formula, worked here with numpy
    X = np.column_stack([T, np.ones_like(T)])
    res = X @ r.x - U
    cov = (res @ res) / (300 - 2) * np.linalg.inv(X.T @ X)
    assert r.extra["stderr"]["a"] == pytest.approx(np.sqrt(cov[0, 0]), rel=1e-9)
    assert r.extra["rss"] == pytest.approx(res @ res, rel=1e-12)
    assert r.to_dict()["stderr"]["c"] == pytest.approx(np.sqrt(cov[1, 1]), rel=1e-9)
