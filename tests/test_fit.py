"""Data fits: kernels against numpy, every fit method against an independent answer
(closed forms, scipy as a second method), statistics, options and the problem files."""
import math
from pathlib import Path

import numba
import numpy as np
import pytest
import sympy as sp

import symgd
import symgd.fit
from symgd.errors import InputError
from symgd.fit import codegen, parallel

a, b, c, m, x, y, z = sp.symbols("a b c m x y z")
PROBLEMS = Path(__file__).resolve().parents[1] / "problems"


def exp_data(n=400, seed=0, noise=0.02):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.0, 4.0, n)
    return X, 2.0 * np.exp(-0.7 * X) + 0.5 + noise * rng.standard_normal(n)


def exp_problem(X, Y, loss="mse", **kw):
    return symgd.Problem(model=a * sp.exp(-b * x) + c, target=y, loss=loss,
                         data={"x": X, "y": Y}, variables={a: 1.5, b: 0.5, c: 0.1}, **kw)


# ----------------------------------------------------------------------------- losses
def numpy_loss(loss, r, yv=None, delta=1.0):
    """The SPEC §1 losses per sample, written out independently in numpy."""
    if loss in ("mse", "sse"):
        return r * r
    if loss == "mae":
        return np.abs(r)
    if loss == "huber":
        return np.where(np.abs(r) <= delta, 0.5 * r * r, delta * (np.abs(r) - delta / 2))
    if loss == "logcosh":
        return np.log(np.cosh(r))
    if loss == "cross_entropy":  # r is the logit here
        return np.log1p(np.exp(r)) - yv * r


@pytest.mark.parametrize("loss", ["mse", "sse", "mae", "huber", "logcosh"])
def test_kernel_value_gradient_hessian_match_numpy(loss):
    X, Y = exp_data(300, seed=1, noise=0.5)
    K = symgd.fit.fit_kernels(exp_problem(X, Y, loss), ("fg", "fgh", "batch"), delta=0.3)
    th = np.array([1.7, 0.6, 0.3])

    def F(t):
        vals = numpy_loss(loss, t[0] * np.exp(-t[1] * X) + t[2] - Y, delta=0.3)
        return vals.sum() if loss == "sse" else vals.mean()
    g, H = np.empty(3), np.empty((3, 3))
    f = K.value_grad_hess(th, g, H)
    assert f == pytest.approx(F(th), rel=1e-12)
    assert K.value(th) == pytest.approx(F(th), rel=1e-12)
    g2 = np.empty(3)
    assert K.value_grad(th, g2) == pytest.approx(f, rel=1e-14)
    np.testing.assert_allclose(g2, g, rtol=1e-13)
    h = 1e-6
    E = np.eye(3)
    fd = np.array([(F(th + h * E[j]) - F(th - h * E[j])) / (2 * h) for j in range(3)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)
    if loss != "mae":  # mae's second derivative is 0 off the kinks, d|r| jumps at 0
        Hfd = np.empty((3, 3))
        for j in range(3):
            gp, gm = np.empty(3), np.empty(3)
            K.value_grad(th + h * E[j], gp)
            K.value_grad(th - h * E[j], gm)
            Hfd[:, j] = (gp - gm) / (2 * h)
        np.testing.assert_allclose(H, Hfd, rtol=1e-5, atol=1e-7)
    # the minibatch kernel: mean loss and gradient over an index subset, data untouched
    idx = np.array([5, 0, 299, 17, 17])
    gb = np.empty(3)
    vals = numpy_loss(loss, th[0] * np.exp(-th[1] * X[idx]) + th[2] - Y[idx], delta=0.3)
    before = K.data.array.copy()
    assert K.batch(th, idx, gb) == pytest.approx(vals.mean(), rel=1e-12)
    np.testing.assert_array_equal(K.data.array, before)


def test_losses_stable_far_out_and_mae_subgradient_zero():
    # log cosh(1000) = 1000 - log 2 (cosh overflows); its slope is tanh = 1
    X = np.array([0.0, 1.0])
    p = symgd.Problem(model=m, target=y, loss="logcosh", data={"y": np.array([-1000.0, 0.0])},
                      variables={m: 0.0})
    K = symgd.fit.fit_kernels(p, ("fg",))
    g = np.empty(1)
    f = K.value_grad(np.array([0.0]), g)
    assert f == pytest.approx((1000 - math.log(2) + 0.0) / 2, rel=1e-15)
    assert g[0] == pytest.approx(0.5, rel=1e-15)  # (tanh(1000) + tanh 0) / 2
    # cross entropy with a logit of 800: log(1 + e^800) - 0 = 800 without overflow
    p = symgd.Problem(model=m * x, target=y, loss="cross_entropy",
                      data={"x": X + 1, "y": np.array([0.0, 1.0])}, variables={m: 0.0})
    K = symgd.fit.fit_kernels(p, ("fg",))
    f = K.value_grad(np.array([800.0]), g)
    assert f == pytest.approx((800.0 + 0.0) / 2, rel=1e-15)  # 2nd sample: 1600 - 1600
    assert g[0] == pytest.approx((1.0 * 1 + 0.0 * 2) / 2)    # (sigmoid - y) x
    # mae at a zero residual: subgradient 0, so a perfect fit has gradient 0
    p = symgd.Problem(model=m * x, target=y, loss="mae", data={"x": X, "y": 3 * X},
                      variables={m: 0.0})
    K = symgd.fit.fit_kernels(p, ("fg",))
    assert K.value_grad(np.array([3.0]), g) == 0.0 and g[0] == 0.0


def test_never_an_n_term_sum_and_parallel_chunks_are_deterministic():
    # the generated module depends on the model, not on the data or its size
    X1, Y1 = exp_data(50)
    X2, Y2 = exp_data(3 * parallel.MIN_CHUNK + 7)
    K1 = symgd.fit.fit_kernels(exp_problem(X1, Y1), ("fg",))
    K2 = symgd.fit.fit_kernels(exp_problem(X2, Y2), ("fg",))
    assert K1.module_name == K2.module_name
    assert parallel.n_chunks(X2.size) == 3
    th = np.array([1.5, 0.5, 0.1])
    g1, g2 = np.empty(3), np.empty(3)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        f1 = K2.value_grad(th, g1)
        numba.set_num_threads(threads)
        f2 = K2.value_grad(th, g2)
    finally:
        numba.set_num_threads(threads)
    assert f1 == f2 and np.array_equal(g1, g2)  # fixed chunks: bitwise the same
    r = th[0] * np.exp(-th[1] * X2) + th[2] - Y2
    assert f2 == pytest.approx(np.mean(r * r), rel=1e-13)


# ----------------------------------------------------------------------------- least squares
def test_linear_least_squares_matches_normal_equations_and_ols_errors():
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, 50)
    Y = 3.0 * X - 1.0 + 0.1 * rng.standard_normal(50)
    p = symgd.Problem(model=a * x + b, target=y, loss="sse", data={"x": X, "y": Y},
                      variables={a: 0.0, b: 0.0})
    r = symgd.solve(p, method="lm")   # auto solves it in closed form (test_fit_linear.py)
    assert r.method == "lm" and r.status == "converged" and r.success
    M = np.column_stack([X, np.ones_like(X)])
    beta = np.linalg.solve(M.T @ M, M.T @ Y)            # the closed form
    np.testing.assert_allclose(r.x, beta, rtol=1e-12)
    res = Y - M @ beta
    rss = res @ res
    cov = rss / (50 - 2) * np.linalg.inv(M.T @ M)         # classical OLS errors
    d = r.to_dict()
    assert d["rss"] == pytest.approx(rss, rel=1e-10) and d["fun"] == pytest.approx(rss)
    assert d["r_squared"] == pytest.approx(1 - rss / np.sum((Y - Y.mean()) ** 2), rel=1e-12)
    assert d["stderr"]["a"] == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-9)
    assert d["stderr"]["b"] == pytest.approx(math.sqrt(cov[1, 1]), rel=1e-9)
    assert d["correlation"]["a"]["b"] == pytest.approx(
        cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]), rel=1e-9)
    assert d["n_samples"] == 50 and d["history"]["fun"][0] >= d["history"]["fun"][-1]
    # S never rises, except within its rounding (8 eps: lm's polishing steps, lm.py)
    assert all(h2 <= h1 * (1 + 8 * np.finfo(float).eps)
               for h1, h2 in zip(d["history"]["fun"], d["history"]["fun"][1:]))
    text = symgd.fit.fit_report(r, min_correlation=0.0)
    # lmfit's layout (symgd.fit.report; its numbers: tests/test_fit_report.py)
    assert "[[Fit Statistics]]" in text and "chi-square" in text and "R-squared" in text \
        and "+/-" in text and "C(a, b)" in text


@pytest.mark.parametrize("method", ["lm", "newton", "linesearch"])
def test_exponential_fit_agrees_with_scipy_curve_fit(method):
    from scipy.optimize import curve_fit
    X, Y = exp_data()
    popt, pcov = curve_fit(lambda t, A, B, C: A * np.exp(-B * t) + C, X, Y, p0=[1.5, 0.5, 0.1])
    r = symgd.solve(exp_problem(X, Y), method=method, tol=1e-10)
    assert r.status == "converged", r.message
    np.testing.assert_allclose(r.x, popt, rtol=1e-6)
    np.testing.assert_allclose([r.extra["stderr"][k] for k in "abc"],
                               np.sqrt(np.diag(pcov)), rtol=1e-5)


def test_gd_makes_progress_and_reports_history():
    X, Y = exp_data()
    r = symgd.solve(exp_problem(X, Y), method="gd", learning_rate=0.2, max_iter=300)
    h = r.history["fun"]
    assert len(h) == r.iterations + 1 and h[-1] < 0.01 * h[0]
    assert r.status in ("converged", "max_iter")


def test_per_sample_square_is_least_squares_and_equals_the_model_form():
    X, Y = exp_data(100, seed=3)
    ps = symgd.Problem(minimize=(a * sp.exp(-b * x) + c - y) ** 2, reduce="sum",
                       data={"x": X, "y": Y}, variables={a: 1.5, b: 0.5, c: 0.1})
    rs = symgd.solve(ps)
    rm = symgd.solve(exp_problem(X, Y, "sse"))
    assert rs.method == "lm" and rs.extra["loss"] == "sse"
    np.testing.assert_allclose(rs.x, rm.x, rtol=1e-10)
    assert rs.fun == pytest.approx(rm.fun, rel=1e-12)
    assert rs.extra["stderr"]["a"] == pytest.approx(rm.extra["stderr"]["a"], rel=1e-8)
    assert rs.extra["r_squared"] is None  # no target to measure against


def test_per_sample_objective_mean_and_maximize():
    rng = np.random.default_rng(2)
    X = rng.normal(3.0, 1.0, 101)
    # mean of (m - x)**4: newton; the optimum solves sum (m - x)^3 = 0 (a cubic in m)
    p = symgd.Problem(minimize=(m - x) ** 4, data={"x": X}, variables={m: 0.0})
    r = symgd.solve(p)
    assert r.method == "newton" and r.status == "converged"
    roots = np.roots([X.size, -3 * X.sum(), 3 * (X ** 2).sum(), -(X ** 3).sum()])
    real = roots[np.abs(roots.imag) < 1e-9].real
    assert r.x[0] == pytest.approx(real[0], rel=1e-9)
    assert r.fun == pytest.approx(np.mean((r.x[0] - X) ** 4), rel=1e-12)
    assert r.extra["stderr"]["m"] is None and "per-sample" in r.message
    # maximize the mean of -(m - x)**2: m = mean(x), fun = -variance
    p = symgd.Problem(maximize=-(m - x) ** 2, data={"x": X}, variables={m: 0.0})
    r = symgd.solve(p)
    assert r.x[0] == pytest.approx(X.mean(), rel=1e-10)
    assert r.fun == pytest.approx(-X.var(), rel=1e-10)
    assert r.history["fun"][-1] == pytest.approx(r.fun)


def test_huber_location_agrees_with_scipy():
    from scipy.optimize import minimize_scalar
    Y = np.array([0.1, -0.3, 0.2, 0.05, 8.0, -0.1, 0.4, 12.0])
    p = symgd.Problem(model=m, target=y, loss="huber", data={"y": Y}, variables={m: 0.0})
    r = symgd.solve(p, delta=0.5)
    assert r.method == "newton" and r.status == "converged"
    ref = minimize_scalar(lambda t: numpy_loss("huber", t - Y, delta=0.5).mean(),
                          bracket=(-1, 0, 1), tol=1e-12)
    assert r.x[0] == pytest.approx(ref.x, abs=1e-7)
    assert r.extra["stderr"]["m"] is None and "huber" in r.message


def test_logistic_regression_mle_and_errors():
    from scipy.optimize import minimize
    rng = np.random.default_rng(11)
    X1 = rng.normal(size=200)
    lab = (rng.uniform(size=200) < 1 / (1 + np.exp(-(0.3 + 1.2 * X1)))).astype(float)
    p = symgd.Problem(model=a + b * x, target=y, loss="cross_entropy",
                      data={"x": X1, "y": lab}, variables=[a, b])
    r = symgd.solve(p)
    M = np.column_stack([np.ones(200), X1])
    ref = minimize(lambda w: np.mean(np.logaddexp(0, M @ w) - lab * (M @ w)), np.zeros(2),
                   jac=lambda w: M.T @ (1 / (1 + np.exp(-M @ w)) - lab) / 200,
                   method="BFGS", options={"gtol": 1e-12})
    assert r.status == "converged" and r.method == "newton"
    np.testing.assert_allclose(r.x, ref.x, rtol=1e-7)
    s = 1 / (1 + np.exp(-M @ ref.x))
    se = np.sqrt(np.diag(np.linalg.inv((M * (s * (1 - s))[:, None]).T @ M)))
    np.testing.assert_allclose([r.extra["stderr"]["a"], r.extra["stderr"]["b"]], se, rtol=1e-6)
    assert r.extra["rss"] is None
    bad = symgd.Problem(model=a + b * x, target=y, loss="cross_entropy",
                        data={"x": [1.0, 2.0], "y": [0.0, 0.5]}, variables=[a, b])
    with pytest.raises(InputError) as info:
        symgd.solve(bad)
    assert info.value.field == "target" and "row 2" in info.value.message


# ----------------------------------------------------------------------------- statistics
def test_bound_singular_and_too_few_samples_give_null_errors():
    X = np.array([1.0, 2.0, 3.0, 4.0])
    p = symgd.Problem(model=a * x, target=y, data={"x": X, "y": 2 * X + 0.01 * X ** 2},
                      variables={a: {"start": 0.0, "upper": 1.5}})
    r = symgd.solve(p)
    assert r.x[0] == 1.5 and r.status == "converged"
    assert r.extra["stderr"]["a"] is None and "bound" in r.message
    # a*b*x: only the product is identified; J is singular at every point
    p = symgd.Problem(model=a * b * x, target=y, data={"x": X, "y": 2 * X + 0.1},
                      variables={a: 1.0, b: 1.0})
    r = symgd.solve(p)
    assert r.x[0] * r.x[1] == pytest.approx(np.dot(X, 2 * X + 0.1) / np.dot(X, X), rel=1e-9)
    assert r.extra["stderr"] == {"a": None, "b": None} and "singular" in r.message
    p = symgd.Problem(model=a * x + b, target=y, data={"x": [1.0, 2.0], "y": [3.0, 5.0]},
                      variables=[a, b])
    r = symgd.solve(p)
    np.testing.assert_allclose(r.x, [2.0, 1.0], atol=1e-10)
    assert r.extra["stderr"]["a"] is None and "n = 2, p = 2" in r.message


# ----------------------------------------------------------------------------- input errors
def test_fit_option_and_method_errors():
    X, Y = exp_data(20)
    p = exp_problem(X, Y, "mae")
    with pytest.raises(InputError) as info:
        symgd.solve(p, method="lm")
    assert info.value.field == "method" and "least-squares" in info.value.message
    with pytest.raises(InputError) as info:
        symgd.solve(exp_problem(X, Y), method="lm", dampnig=1.0)
    assert "did you mean 'damping'" in info.value.message
    with pytest.raises(InputError) as info:
        symgd.solve(exp_problem(X, Y), delta=2.0)
    assert info.value.field == "options.delta" and "huber" in info.value.message
    with pytest.raises(InputError) as info:
        symgd.solve(exp_problem(X, Y), method="analytic")
    assert info.value.field == "method"
    with pytest.raises(InputError) as info:
        symgd.solve(exp_problem(X, Y), method="linesearch", line_search="exact")
    assert info.value.field == "options.line_search"
    q = symgd.Problem(model=a * x, target=y, data={"x": X, "y": Y}, variables=[a],
                      constraints=[a <= 1])
    with pytest.raises(InputError) as info:
        symgd.solve(q)
    assert info.value.field == "constraints"
    r = symgd.Problem(minimize=(a - 1) ** 2, variables=[a])
    with pytest.raises(InputError) as info:
        symgd.solve(r, method="lm")
    assert "data" in info.value.message


def test_start_outside_the_domain_and_time_limit():
    X = np.array([1.0, 2.0, 3.0])
    p = symgd.Problem(model=sp.log(a * x), target=y, data={"x": X, "y": np.log(2 * X)},
                      variables={a: -1.0})
    with pytest.raises(InputError) as info:
        symgd.solve(p)
    assert info.value.kind == "domain" and "a=-1" in info.value.message
    X, Y = exp_data(50)
    r = symgd.solve(exp_problem(X, Y), time_limit=1e-9)
    assert r.status == "timeout" and not r.success


# ----------------------------------------------------------------------------- problem files
def test_problem_files_reach_their_known_answers():
    from scipy.optimize import curve_fit
    r = symgd.solve(symgd.load(PROBLEMS / "exp_decay_lm.yaml"))
    d = np.genfromtxt(PROBLEMS / "decay.csv", delimiter=",", names=True)
    popt, pcov = curve_fit(lambda t, A, k, B: A * np.exp(-k * t) + B, d["time"], d["counts"],
                           p0=[1, 1, 0])
    assert r.success and r.method == "lm"
    np.testing.assert_allclose(r.x, popt, rtol=1e-6)
    np.testing.assert_allclose(list(r.extra["stderr"].values()), np.sqrt(np.diag(pcov)),
                               rtol=1e-4)
    r = symgd.solve(symgd.load(PROBLEMS / "nist_misra1a.yaml"))
    assert r.success
    np.testing.assert_allclose(r.x, [2.3894212918e02, 5.5015643181e-04], rtol=1e-8)
    np.testing.assert_allclose(list(r.extra["stderr"].values()),
                               [2.7070075241e00, 7.2668688436e-06], rtol=1e-7)
    r = symgd.solve(symgd.load(PROBLEMS / "nist_mgh09.yaml"))
    assert r.success
    np.testing.assert_allclose(r.x, [1.9280693458e-01, 1.9128232873e-01, 1.2305650693e-01,
                                     1.3606233068e-01], rtol=1e-6)
    assert r.extra["rss"] == pytest.approx(3.0750560385e-04, rel=1e-9)
    r = symgd.solve(symgd.load(PROBLEMS / "logistic.yaml"))
    assert r.success and r.method == "newton"
    np.testing.assert_allclose(r.x, [0.65701349, 1.57562172, -1.37128434], atol=2e-8)


def test_sgd_problem_files():
    pytest.importorskip("symgd.methods.sgd")
    r = symgd.solve(symgd.load(PROBLEMS / "fence_fit.yaml"))
    assert r.method == "sgd" and r.extra["n_samples"] == 100
    np.testing.assert_allclose(r.x, [-1.0, 100.0], rtol=1e-3)  # y = 100 x - x^2
    assert len(r.history["fun"]) == r.iterations
    d = np.genfromtxt(PROBLEMS / "linreg.csv", delimiter=",", names=True)
    ols = np.polyfit(d["x"], d["y"], 1)                         # the closed form
    r = symgd.solve(symgd.load(PROBLEMS / "linreg_sgd.yaml"))
    assert r.success and r.method == "sgd"
    np.testing.assert_allclose(r.x, ols, atol=5e-3)
    # reproducible: the same seed gives the same run
    assert np.array_equal(symgd.solve(symgd.load(PROBLEMS / "linreg_sgd.yaml")).x, r.x)


def test_fit_derivatives_text_is_per_sample():
    from symgd.fit.report import format_fit_derivatives
    X, Y = exp_data(10)
    text = format_fit_derivatives(exp_problem(X, Y, "sse"))
    assert "residual r = model - target = a*exp(-b*x) + c - y" in text
    assert "dr/db = -a*x*exp(-b*x)" in text and "dr/dc = 1" in text
    assert "d2r/dbdb = a*x**2*exp(-b*x)" in text


def test_sgd_registry_options_are_sgd_options():
    sgd = pytest.importorskip("symgd.methods.sgd")
    from symgd import methods
    assert methods.REGISTRY["sgd"].options == sgd.SGD_OPTIONS
    # a file written for sgd can be solved with lm: sgd's options are left out
    X, Y = exp_data(30)
    r = symgd.solve(exp_problem(X, Y, options={"optimizer": "adam", "epochs": 5}),
                    method="lm")
    assert r.status == "converged"
    assert r.path[0] == "options not used by lm, ignored: optimizer, epochs"


@pytest.mark.parametrize("method", ["lm", "newton"])
def test_many_parameters_use_array_accumulators(method):
    # 12 > codegen.SCALAR_MAX parameters: JᵀJ and the Hessian are summed in arrays
    rng = np.random.default_rng(8)
    k = 12
    F = rng.normal(size=(k, 80))
    Y = rng.normal(size=k) @ F + 0.1 * rng.normal(size=80)
    w = sp.symbols(f"w0:{k}")
    f = sp.symbols(f"f0:{k}")
    p = symgd.Problem(model=sum(wi * fi for wi, fi in zip(w, f)), target=y, loss="sse",
                      data={**{fi.name: F[i] for i, fi in enumerate(f)}, "y": Y},
                      variables=list(w))
    assert k > codegen.SCALAR_MAX
    # newton's test |g| <= tol max(1, |f|) meets the rounding of an 80-term sum near
    # 1e-13: tol 1e-10 (parameters to ~1e-12); lm's cosine test is scale-free
    r = symgd.solve(p, method=method, tol=1e-12 if method == "lm" else 1e-10)
    assert r.status == "converged"
    beta = np.linalg.lstsq(F.T, Y, rcond=None)[0]          # the closed form
    np.testing.assert_allclose(r.x, beta, rtol=1e-9, atol=1e-12)


def test_vectorisable_exp_is_within_two_ulp_of_libm():
    from numba import njit

    from symgd.fit.vmath import vexp

    @njit
    def run(xs, out):
        for i in range(xs.size):
            out[i] = vexp(xs[i])
    rng = np.random.default_rng(4)
    xs = np.concatenate([np.linspace(-760.0, 720.0, 100_001), rng.uniform(-40, 40, 100_000),
                         [0.0, -0.0, 1e-300, 709.78, 709.79, -745.13, -745.14]])
    out = np.empty_like(xs)
    run(xs, out)
    with np.errstate(over="ignore"):
        ref = np.exp(xs)
    normal = np.isfinite(ref) & (ref >= np.finfo(float).tiny)
    ulp = np.abs(out[normal] - ref[normal]) / np.spacing(ref[normal])
    assert ulp.max() <= 2.0
    sub = np.isfinite(ref) & ~normal  # subnormal and zero results: absolute error
    assert np.all(np.abs(out[sub] - ref[sub]) <= 2 * 5e-324)
    assert np.array_equal(np.isinf(out), np.isinf(ref))
    special = np.array([np.nan, np.inf, -np.inf])
    o = np.empty(3)
    run(special, o)
    assert np.isnan(o[0]) and o[1] == np.inf and o[2] == 0.0
