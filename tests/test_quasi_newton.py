"""bfgs and lbfgs (issue 12): answers against hand-worked closed forms and second
methods (scipy, lm, newton), success claims recomputed from the returned point with
gradients written out here in numpy, bounds by the projected step on the free
variables, and what auto does with them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import minimize, rosen, rosen_der, rosen_hess

import symgd
from symgd import calculus, choose
from symgd.errors import InputError
from symgd.methods import resolve_options, runners
from symgd.problem import load_text
from symgd.solver import compiled

QN = ["bfgs", "lbfgs"]
PROBLEMS = Path(__file__).resolve().parents[1] / "problems"
X, Y = sp.symbols("x y")
W = sp.IndexedBase("w")
J = sp.Symbol("j", integer=True)


def relative_gradient(x, g, f, lower=None, upper=None):
    """SPEC §2's test, written out: max_i |g_i| max(|x_i|, 1) / max(|f|, 1) over the
    components not held at a bound (at a bound with g pushing outward)."""
    lower = np.full(x.size, -np.inf) if lower is None else np.asarray(lower, float)
    upper = np.full(x.size, np.inf) if upper is None else np.asarray(upper, float)
    held = ((x <= lower) & (g > 0)) | ((x >= upper) & (g < 0))
    r = np.where(held, 0.0, np.abs(g) * np.maximum(np.abs(x), 1.0))
    return float(np.max(r)) / max(abs(f), 1.0)


def trace_of(problem, method, x0, **options):
    """(outcome, f per iteration) from the method's runner on the compiled problem."""
    comp = compiled(problem)
    opts = resolve_options(method, options)
    opts["_trace_rows"] = 1000
    run = getattr(runners, method)
    out = run(comp.kernels, np.array(x0, float), comp.lower, comp.upper, opts, None)
    return out, out.trace[:, 0]


# ------------------------------------------------------------------------ Rosenbrock
def rosen2(v):
    return (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2


def rosen2_grad(v):
    return np.array([-2 * (1 - v[0]) - 400 * v[0] * (v[1] - v[0] ** 2),
                     200 * (v[1] - v[0] ** 2)])


@pytest.mark.parametrize("method", QN)
def test_rosenbrock_from_several_starts(method):
    p = symgd.Problem(minimize=(1 - X) ** 2 + 100 * (Y - X ** 2) ** 2,
                      variables={X: -1.2, Y: 1.0})
    for start in [(-1.2, 1.0), (2.0, -1.0), (-1.0, -1.0), (0.0, 0.0), (1.5, 2.5), (-3.0, 5.0)]:
        r = symgd.solve(p, method=method, x0=np.array(start))
        assert r.status == "converged", (start, r.message)
        # the claim recomputed from the returned point, with the gradient written here
        assert relative_gradient(r.x, rosen2_grad(r.x), rosen2(r.x)) <= 1e-8
        assert r.fun == pytest.approx(rosen2(r.x), rel=1e-12, abs=1e-300)
        assert r.fun <= rosen2(start)
        # the only stationary point is (1, 1), where the Hessian has condition ~2500
        assert np.max(np.abs(r.x - 1.0)) < 1e-6
        assert r.nit < 100  # superlinear: scipy's BFGS needs 32-34 from (-1.2, 1)


def chained_rosenbrock(n, start):
    return symgd.Problem(
        minimize=sp.Sum(100 * (W[J + 1] - W[J] ** 2) ** 2 + (1 - W[J]) ** 2, (J, 0, n - 2)),
        variables={W[q]: s for q, s in enumerate(start)})


@pytest.mark.parametrize("method", QN)
def test_chained_rosenbrock_60(method):
    # scipy's rosen is the same chained sum: its gradient and Hessian check the answer
    n = 60
    start = np.array([-1.2 if i % 2 == 0 else 1.0 for i in range(n)])
    r = symgd.solve(chained_rosenbrock(n, start), method=method)
    assert r.status == "converged", r.message
    assert relative_gradient(r.x, rosen_der(r.x), rosen(r.x)) <= 1e-8
    assert np.max(np.abs(r.x - 1.0)) < 1e-6  # the global minimum, f = 0
    ref = minimize(rosen, start, jac=rosen_der, method="L-BFGS-B",
                   options={"gtol": 1e-10, "ftol": 0.0, "maxiter": 10_000})
    assert np.max(np.abs(r.x - ref.x)) < 1e-6
    # from random starts: whatever is reported converged is a local minimum by scipy's
    # own gradient and Hessian, and no worse than the start
    rng = np.random.default_rng(3)
    for _ in range(3):
        x0 = rng.uniform(-2.0, 2.0, n)
        r = symgd.solve(chained_rosenbrock(n, x0), method=method)
        assert r.status == "converged", r.message
        assert relative_gradient(r.x, rosen_der(r.x), rosen(r.x)) <= 1e-8
        assert np.linalg.eigvalsh(rosen_hess(r.x))[0] > 0.0
        assert rosen(r.x) <= rosen(x0)


@pytest.mark.parametrize("method", QN)
def test_chunked_run_restarts_its_memory_and_still_converges(method):
    # A time limit makes the driver call the loop in chunks (16 iterations first): the
    # memory is rebuilt from the newest pair kept in the work array at each call.
    n = 60
    start = np.array([-1.2 if i % 2 == 0 else 1.0 for i in range(n)])
    r = symgd.solve(chained_rosenbrock(n, start), method=method, time_limit=600)
    assert r.status == "converged", r.message
    assert np.max(np.abs(r.x - 1.0)) < 1e-6


# --------------------------------------------------------------------------- bounds
BOX3 = """variables:
  x: {start: 0.5, lower: 0, upper: 1}
  y: {start: 0.5, lower: 0, upper: 1}
  z: {start: 0.5, lower: 0, upper: 1}
minimize: x**2 + y**2 + z**2 + x*y + y*z - 4*x + y - z
"""


@pytest.mark.parametrize("method", QN)
def test_bound_constrained_quadratic_kkt_point(method):
    # f = x'Ax/2 - b'x, A = [[2,1,0],[1,2,1],[0,1,2]] (positive definite), b = (4,-1,1),
    # on [0,1]^3. By hand: with x = 1 (upper) and y = 0 (lower), df/dz = y + 2z - 1 = 0
    # gives z = 1/2 inside; then df/dx = 2x + y - 4 = -2 < 0 (pushes x up: KKT at its
    # upper bound) and df/dy = x + 2y + z + 1 = 2.5 > 0 (pushes y down: KKT at its
    # lower bound). Convex, so (1, 0, 1/2) is the minimum: f = 1 + 1/4 - 4 - 1/2 = -3.25.
    p = load_text(BOX3, file="<box3>")
    for start in [(0.5, 0.5, 0.5), (0, 0, 0), (1, 1, 1), (0.9, 0.1, 0.0), (0.0, 1.0, 1.0)]:
        r = symgd.solve(p, method=method, x0=np.array(start, float))
        assert r.status == "converged", (start, r.message)
        assert np.max(np.abs(r.x - [1.0, 0.0, 0.5])) < 1e-7
        assert r.fun == pytest.approx(-3.25, abs=1e-12)
        g = np.array([2 * r.x[0] + r.x[1] - 4, r.x[0] + 2 * r.x[1] + r.x[2] + 1,
                      r.x[1] + 2 * r.x[2] - 1])
        assert relative_gradient(r.x, g, r.fun, [0, 0, 0], [1, 1, 1]) <= 1e-8
        assert np.all((r.x >= 0) & (r.x <= 1))


UPHILL = """variables:
  x: {start: 0, lower: 0}
  y: {start: 1, lower: 0}
minimize: 0.5*(x**2 + 1.8*x*y + y**2) + 0.1*x - 0.9*y
"""
A_UP = np.array([[1.0, 0.9], [0.9, 1.0]])
B_UP = np.array([0.1, -0.9])


def f_up(v):
    return 0.5 * v @ A_UP @ v + B_UP @ v


def test_projecting_the_unconstrained_step_goes_uphill_here():
    # Why the loops never project an unconstrained quasi-Newton step: at (0, 1) the
    # exact Newton step -A^-1 g = (-4.79, 4.21) is clipped to (0, 1 + 4.21 a), along
    # which f rises for every step length (the case the projected step must avoid).
    x0 = np.array([0.0, 1.0])
    d = -np.linalg.solve(A_UP, A_UP @ x0 + B_UP)
    for a in np.geomspace(1e-8, 10.0, 50):
        assert f_up(np.maximum(x0 + a * d, 0.0)) > f_up(x0)


@pytest.mark.parametrize("method", QN)
def test_uphill_example_kkt_point_and_f_falls_every_iteration(method):
    # By hand: the unconstrained minimum -A^-1 b = (-4.79, 5.21) breaks x >= 0. With x
    # = 0, f = y^2/2 - 0.9 y is least at y = 0.9, where df/dy = 0 and df/dx = 0.9 y +
    # 0.1 = 0.91 > 0 (pushes x down: KKT at its bound). Convex: the minimum is (0, 0.9),
    # f = 0.405 - 0.81 = -0.405.
    p = load_text(UPHILL, file="<uphill>")
    for start in [(0.0, 1.0), (2.0, 3.0), (5.0, 0.1), (0.3, 0.0), (10.0, 10.0), (1e-3, 5.0)]:
        out, f = trace_of(p, method, start)
        assert out.status == "converged", start
        assert np.max(np.abs(out.x - [0.0, 0.9])) < 1e-8
        assert f_up(out.x) == pytest.approx(-0.405, abs=1e-14)
        assert f[0] == pytest.approx(f_up(np.array(start)))
        assert len(f) == out.iterations + 1 and np.all(np.diff(f) < 0.0), f
        # the memory models the problem on the free variables: a few steps, no zigzag
        assert out.iterations <= 6
    r = symgd.solve(p, method=method)
    assert r.status == "converged" and r.x == pytest.approx([0.0, 0.9], abs=1e-8)


# ----------------------------------------------------------------------- data, sense
@pytest.mark.parametrize("method", QN)
def test_exp_decay_fit_matches_lm(method):
    path = PROBLEMS / "exp_decay_lm.yaml"
    ref = symgd.solve(path, method="lm", tol=1e-12)
    assert ref.status == "converged"
    # the file's curve_fit answer, to its 8 digits
    assert ref.x == pytest.approx([4.98553076, 0.39710656, 0.99482497], abs=1e-8)
    r = symgd.solve(path, method=method)
    assert r.status == "converged", r.message
    assert np.max(np.abs(r.x - ref.x)) < 1e-6
    assert r.fun == pytest.approx(ref.fun, rel=1e-10)


def test_auto_fit_above_50_parameters_runs_lbfgs_and_matches_newton():
    # logcosh is not least squares: above 50 parameters auto runs lbfgs. Convex in the
    # parameters (a linear model), so newton (asked for by name) finds the same minimum.
    rng = np.random.default_rng(0)
    t = np.linspace(-1.0, 1.0, 200)
    p = 51
    a = sp.symbols(f"a0:{p}")
    xs = sp.Symbol("t")
    model = sum(a[k] * sp.cos(k * sp.acos(xs)) for k in range(p))  # Chebyshev basis
    yv = np.sin(3 * t) + 0.1 * rng.standard_normal(t.size)
    prob = symgd.Problem(model=model, target=sp.Symbol("y"), loss="logcosh",
                         data={"t": t, "y": yv}, variables=list(a))
    r = symgd.solve(prob, tol=1e-10)
    assert r.method == "lbfgs" and any("auto chose lbfgs" in s for s in r.path), r.path
    assert r.status == "converged", r.message
    ref = symgd.solve(prob, method="newton", tol=1e-10)
    assert ref.status == "converged"
    assert abs(r.fun - ref.fun) <= 1e-9 * abs(ref.fun)


@pytest.mark.parametrize("method", QN)
def test_maximize(method):
    # 5 - (x-1)^2 - (x-y)^2 is concave with its maximum 5 at x = y = 1
    p = load_text("variables: {x: -2, y: 3}\nmaximize: 5 - (x - 1)**2 - (x - y)**2\n",
                  file="<max>")
    r = symgd.solve(p, method=method)
    assert r.status == "converged"
    assert r.x == pytest.approx([1.0, 1.0], abs=1e-8)
    assert r.fun == pytest.approx(5.0, abs=1e-14)


# ------------------------------------------------------------- statuses and options
@pytest.mark.parametrize("method", QN)
def test_saddle_unbounded_and_max_iter_are_no_success(method):
    saddle = load_text("variables: {x: 0.5, y: 0}\nminimize: x**2 - y**2\n", file="<s>")
    r = symgd.solve(saddle, method=method)
    assert r.status == "stalled" and "saddle point" in r.message
    falling = load_text("variables: {x: 1, y: 1}\nminimize: x**3 + y**2\n", file="<u>")
    assert symgd.solve(falling, method=method).status == "unbounded"
    r = symgd.solve(PROBLEMS / "rosenbrock.yaml", method=method, max_iter=5)
    assert r.status == "max_iter" and r.nit == 5


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "ten", 10 ** 6])
def test_bad_memory_is_an_input_error_naming_the_field(bad):
    with pytest.raises(InputError) as err:
        symgd.solve(PROBLEMS / "rosenbrock.yaml", method="lbfgs", memory=bad)
    assert err.value.field == "options.memory"


@pytest.mark.parametrize("memory", [1, 3, 30])
def test_memory_sizes_reach_the_same_answer(memory):
    r = symgd.solve(PROBLEMS / "rosenbrock.yaml", method="lbfgs", memory=memory)
    assert r.status == "converged" and np.max(np.abs(r.x - 1.0)) < 1e-6


# ----------------------------------------------------------------------------- auto
def test_auto_runs_lbfgs_above_50_variables():
    assert choose.iterative_choice(50)[0] == "newton"
    assert choose.iterative_choice(51)[0] == "lbfgs"
    n = 60
    start = np.array([-1.2 if i % 2 == 0 else 1.0 for i in range(n)])
    r = symgd.solve(chained_rosenbrock(n, start), timeout=2)
    assert any(s.startswith("auto chose lbfgs (60 variables > 50") for s in r.path), r.path
    assert r.status == "converged"
    assert np.max(np.abs(r.x - 1.0)) < 1e-6


def test_auto_runs_lbfgs_when_the_hessian_passes_the_operation_limit(monkeypatch):
    limited = calculus.check_size
    monkeypatch.setattr(calculus, "check_size",
                        lambda exprs, what, limit=None: limited(exprs, what, limit=5))
    # a problem of its own (no kernels cached from other tests), with no closed form
    p = load_text("variables: {x: 0.25, y: -0.5}\n"
                  "minimize: exp(x - 0.7071) + exp(0.7071 - x) + (y - sin(x))**2 + "
                  "cosh(y - 0.1234)\n", file="<limit>")
    r = symgd.solve(p, timeout=1)
    assert any(s.startswith("auto chose lbfgs (newton cannot run: the Hessian has")
               for s in r.path), r.path
    assert r.status in ("converged", "solved")
    # the minimum by hand: df/dx = 2 sinh(x - 0.7071) - 2 (y - sin x) cos x and
    # df/dy = 2 (y - sin x) + sinh(y - 0.1234) vanish there; checked numerically
    x, y = r.x
    gx = 2 * np.sinh(x - 0.7071) - 2 * (y - np.sin(x)) * np.cos(x)
    gy = 2 * (y - np.sin(x)) + np.sinh(y - 0.1234)
    assert max(abs(gx), abs(gy)) < 1e-7
