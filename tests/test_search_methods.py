"""random_search and local_search (issue 12 item 7): the points they try are the
documented stream (checked against a numpy transcription of SplitMix64 and of the
(1+1)-ES written out here), bounds always kept, f never rising for local search,
same seed same run, and never a 'converged' they did not test."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symgd
from symgd.errors import InputError
from symgd.methods import resolve_options, runners
from symgd.methods.search_loops import FAIL_SHRINK, SUCCESS_GROW, uniforms
from symgd.solver import compiled

PROBLEMS = Path(__file__).resolve().parents[1] / "problems"
X, Y = sp.symbols("x y")
SEARCH = ["random_search", "local_search"]


def splitmix_reference(seed, count):
    """SplitMix64 written out with Python integers (Steele, Lea, Flood 2014)."""
    mask = (1 << 64) - 1
    out = []
    for k in range(count):
        z = (seed + (k + 1) * 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z = z ^ (z >> 31)
        out.append((z >> 11) * 2.0 ** -53)
    return np.array(out)


def test_the_stream_is_splitmix64():
    assert np.array_equal(uniforms(5, 0, 50), splitmix_reference(5, 50))
    assert np.array_equal(uniforms(-7, 0, 20), splitmix_reference((-7) % (1 << 64), 20))
    u = uniforms(0, 0, 100_000)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005


def bounded_quadratic(**kw):
    return symgd.Problem(minimize=(X - 0.3) ** 2 + (Y + 0.2) ** 2,
                         variables={X: {"start": -0.9, "lower": -1.0, "upper": 1.0},
                                    Y: {"start": 0.9, "lower": -1.0, "upper": 1.0}}, **kw)


def test_random_search_is_the_best_of_the_documented_points():
    n, N, seed = 2, 2000, 5
    r = symgd.solve(bounded_quadratic(), method="random_search", samples=N, seed=seed)
    # the same points, drawn and evaluated in numpy: sample j, coordinate i is number
    # j n + i of the stream, scaled to the box [-1, 1]^2
    P = -1.0 + 2.0 * uniforms(seed, 0, N * n).reshape(N, n)
    f = (P[:, 0] - 0.3) ** 2 + (P[:, 1] + 0.2) ** 2
    start_f = (-0.9 - 0.3) ** 2 + (0.9 + 0.2) ** 2
    assert f.min() < start_f
    best = P[np.argmin(f)]
    assert np.array_equal(r.x, best)
    assert r.fun == pytest.approx(f.min(), rel=1e-14)
    assert r.status == "max_iter" and not r.success
    assert r.iterations == N and r.evaluations["f"] == N + 1 and r.evaluations["grad"] == 0
    assert "no gradient test" in r.message and "raise samples" in r.message
    # and the probabilistic bound: a disc of radius 0.05 around the minimiser covers
    # pi 0.05^2 / 4 of the box, so N points all miss it with probability
    # (1 - 0.00196)^2000 = 0.02; for this seed one hit it
    assert np.hypot(r.x[0] - 0.3, r.x[1] + 0.2) < 0.05


def test_random_search_box_around_the_start_where_bounds_are_missing():
    # x free (start 4: box 4 +- 2 * 4), y >= -1 with start 0 (box [-1, 2])
    p = symgd.Problem(minimize=(X - 7) ** 2 + (Y - 5) ** 2,
                      variables={X: 4.0, Y: {"start": 0.0, "lower": -1.0}})
    N, seed = 500, 9
    r = symgd.solve(p, method="random_search", samples=N, seed=seed, radius=2.0)
    U = uniforms(seed, 0, 2 * N).reshape(N, 2)
    P = np.column_stack([-4.0 + 16.0 * U[:, 0], -1.0 + 3.0 * U[:, 1]])
    f = (P[:, 0] - 7) ** 2 + (P[:, 1] - 5) ** 2
    assert np.array_equal(r.x, P[np.argmin(f)])
    assert r.x[1] <= 2.0  # y's box ends at 0 + 2 max(1, 0)
    assert r.fun == pytest.approx(f.min(), rel=1e-14)


def es_reference(f, x0, lower, upper, step, seed, budget, tol):
    """The (1+1)-ES with the 1/5th success rule, written out in numpy from the
    documented stream (normals by Box-Muller from uniforms 2k, 2k + 1)."""
    x = np.array(x0, float)
    n = x.size
    scale = np.maximum(1.0, np.abs(x))
    both = np.isfinite(lower) & np.isfinite(upper)
    scale = np.where(both, np.minimum(scale, upper - lower), scale)
    fx, sigma, fs = f(x), step, [f(x)]
    for j in range(budget):
        if sigma <= tol:
            return x, fx, fs, "stalled"
        u = uniforms(seed, 2 * j * n, 2 * n)
        z = np.sqrt(-2.0 * np.log(1.0 - u[0::2])) * np.cos(2.0 * np.pi * u[1::2])
        xt = np.clip(x + sigma * scale * z, lower, upper)
        ft = f(xt)
        if ft < fx:
            x, fx, sigma = xt, ft, min(sigma * SUCCESS_GROW, 1e3)
        else:
            sigma *= FAIL_SHRINK
        fs.append(fx)
    return x, fx, fs, "max_iter"


def trace_of(problem, method, x0, **options):
    comp = compiled(problem)
    opts = resolve_options(method, options)
    opts["_trace_rows"] = 100_000
    return getattr(runners, method)(comp.kernels, np.array(x0, float), comp.lower,
                                    comp.upper, opts, None)


def test_local_search_follows_the_one_fifth_rule_and_never_rises():
    rosen = lambda v: (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2  # noqa: E731
    p = symgd.Problem(minimize=(1 - X) ** 2 + 100 * (Y - X ** 2) ** 2,
                      variables={X: -1.2, Y: 1.0})
    o = trace_of(p, "local_search", [-1.2, 1.0], samples=3000, seed=2)
    fs = o.trace[:, 0]
    assert fs.size == o.iterations + 1
    assert np.all(np.diff(fs) <= 0.0)  # monotone: a trial is kept only when f falls
    inf = np.full(2, np.inf)
    x, fx, ref, status = es_reference(rosen, [-1.2, 1.0], -inf, inf, 0.1, 2, 3000, 1e-8)
    assert o.status == status
    assert np.allclose(o.x, x, rtol=1e-12, atol=1e-14)
    assert np.allclose(fs, ref, rtol=1e-10, atol=1e-300)
    assert fx < 0.05 * rosen([-1.2, 1.0])


def test_local_search_stalls_honestly_and_keeps_bounds():
    # (x - 3)^2 + (y + 1)^2 on 0 <= x <= 2, y >= 0: the box point (2, 0), f = 2
    p = symgd.load(PROBLEMS / "bounded_quadratic.yaml")
    r = symgd.solve(p, method="local_search", samples=20_000, seed=1)
    assert r.status == "stalled" and not r.success
    assert "no gradient test" in r.message and "below tol" in r.message
    assert 0.0 <= r.x[0] <= 2.0 and r.x[1] >= 0.0
    assert np.allclose(r.x, [2.0, 0.0], atol=1e-6)
    assert r.fun == pytest.approx((r.x[0] - 3) ** 2 + (r.x[1] + 1) ** 2, rel=1e-15)
    o = trace_of(p, "local_search", [1.0, 1.0], samples=20_000, seed=1)
    assert np.all(np.diff(o.trace[:, 0]) <= 0.0)


@pytest.mark.parametrize("method", SEARCH)
@pytest.mark.parametrize("name", ["himmelblau", "rosenbrock", "beale", "booth", "saddle"])
def test_never_converged(method, name):
    p = symgd.load(PROBLEMS / f"{name}.yaml")
    r = symgd.solve(p, method=method, samples=2000)
    assert r.status in ("max_iter", "stalled", "unbounded"), r.message
    assert not r.success
    assert r.path[-1] == f"{method}: {r.status}"


@pytest.mark.parametrize("method", SEARCH)
def test_same_seed_same_run(method):
    p = symgd.load(PROBLEMS / "himmelblau.yaml")
    a = symgd.solve(p, method=method, samples=500, seed=3)
    b = symgd.solve(p, method=method, samples=500, seed=3)
    c = symgd.solve(p, method=method, samples=500, seed=4)
    assert np.array_equal(a.x, b.x) and a.fun == b.fun and a.iterations == b.iterations
    assert not np.array_equal(a.x, c.x)
    # a chunked run (time_limit) draws the same numbers as a run in one call
    d = symgd.solve(p, method=method, samples=500, seed=3, time_limit=600)
    assert np.array_equal(a.x, d.x)


@pytest.mark.parametrize("option,value", [("samples", 0), ("samples", 2.5),
                                          ("radius", 0.0), ("radius", -1.0),
                                          ("step", 0.0), ("step", math.inf)])
def test_bad_options(option, value):
    method = "random_search" if option == "radius" else "local_search"
    with pytest.raises(InputError) as e:
        symgd.solve(bounded_quadratic(), method=method, **{option: value})
    assert e.value.field == f"options.{option}"


def test_max_iter_is_the_budget_when_samples_is_none():
    r = symgd.solve(bounded_quadratic(), method="random_search", max_iter=37)
    assert r.iterations == 37
    r = symgd.solve(bounded_quadratic(), method="random_search", max_iter=37, samples=50)
    assert r.iterations == 50


@pytest.mark.parametrize("method", SEARCH)
def test_on_a_data_fit(method):
    # exp-decay fit (sse): f is the loss written out in numpy at the returned point
    p = symgd.load(PROBLEMS / "exp_decay_lm.yaml")
    data = np.loadtxt(PROBLEMS / "decay.csv", delimiter=",", skiprows=1)
    t, y = data[:, 0], data[:, 1]
    r = symgd.solve(p, method=method, samples=3000, seed=0)
    A, k, B = r.x
    sse = float(np.sum((A * np.exp(-k * t) + B - y) ** 2))
    assert r.fun == pytest.approx(sse, rel=1e-10)
    start = float(np.sum((1.0 * np.exp(-t) - y) ** 2))
    assert sse < start
    assert r.status in ("max_iter", "stalled") and not r.success


def test_multistart_of_local_search_uses_a_seed_per_start():
    p = symgd.load(PROBLEMS / "himmelblau.yaml")
    r = symgd.solve(p, method="local_search", samples=600, starts=8, seed=1)
    assert all(run["status"] in ("max_iter", "stalled") for run in r.runs)
    assert not r.success  # no run converged: the best f with its own status
    assert r.fun == min(run["fun"] for run in r.runs)
    assert "multistart: 0 of 8 converged" in " ".join(r.path)
    one = symgd.solve(p, method="local_search", samples=600, seed=1 + 3,
                      x0=np.array(list(r.runs[3]["start"].values())))
    assert [one.x[0], one.x[1]] == list(r.runs[3]["x"].values())
