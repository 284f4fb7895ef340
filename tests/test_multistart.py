"""Multistart (options.starts, issue 12 item 7): the runs, the best of them, honest
statuses, determinism, bounds, the batched compiled call against single runs, and
time_limit. Minima are checked against hand-known values and numpy written out here."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symgd
from symgd import multistart, report
from symgd.errors import InputError

PROBLEMS = Path(__file__).resolve().parents[1] / "problems"
X, Y = sp.symbols("x y")
# Himmelblau's four global minima, f = 0 (x^2 + y - 11 = 0 and x + y^2 - 7 = 0)
HIMMELBLAU_MINIMA = np.array([[3.0, 2.0], [-2.805118, 3.131313], [-3.779310, -3.283186],
                              [3.584428, -1.848127]])


def himmelblau(v):
    x, y = v
    return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2


def himmelblau_problem():
    return symgd.load(PROBLEMS / "himmelblau.yaml")


def quartic(**kw):
    """f = x^4 - 3x^2 + x: a local minimum near 1.13 and the global one near -1.30."""
    return symgd.Problem(minimize=X ** 4 - 3 * X ** 2 + X, variables={X: 1.0}, **kw)


def quartic_minima():
    # the roots of f' = 4x^3 - 6x + 1 where f'' = 12x^2 - 6 > 0, by numpy
    roots = np.sort(np.roots([4.0, 0.0, -6.0, 1.0]).real)
    return roots[0], roots[2]


def which_minimum(x):
    d = np.max(np.abs(HIMMELBLAU_MINIMA - np.asarray(x)), axis=1)
    return int(np.argmin(d)), float(np.min(d))


@pytest.mark.parametrize("method", ["newton", "bfgs"])
def test_himmelblau_64_starts_find_all_four_minima(method):
    r = symgd.solve(himmelblau_problem(), method=method, starts=64)
    assert r.status == "converged" and r.success
    assert len(r.runs) == 64
    found = set()
    for run in r.runs:
        assert set(run) == {"start", "status", "fun", "x", "iterations"}
        if run["status"] == "converged":
            x = np.array([run["x"]["x"], run["x"]["y"]])
            k, dist = which_minimum(x)
            assert dist < 1e-5, run  # Himmelblau has no other local minimum
            assert himmelblau(x) < 1e-10
            found.add(k)
    assert found == {0, 1, 2, 3}
    k, dist = which_minimum(r.x)
    assert dist < 1e-5
    assert himmelblau(r.x) < 1e-12  # recomputed here, not read from the Result
    assert r.fun == pytest.approx(himmelblau(r.x), abs=1e-14)
    ok = sum(run["status"] == "converged" for run in r.runs)
    best = [p for p in r.path if p.startswith("multistart:")]
    assert best and best[0].startswith(f"multistart: {ok} of 64 converged; best from start ")
    j = int(best[0].rsplit(" ", 1)[1])
    assert np.allclose([r.runs[j]["x"]["x"], r.runs[j]["x"]["y"]], r.x, rtol=0, atol=0)
    # start 0 is the file's start, the others lie in 0 +- 10 (no bounds)
    assert r.runs[0]["start"] == {"x": 0.0, "y": 0.0}
    starts = np.array([[s["start"]["x"], s["start"]["y"]] for s in r.runs])
    assert np.all(np.abs(starts) <= 10.0)
    assert len({tuple(s) for s in starts}) == 64
    # evaluations count every run; iterations are the best run's
    assert r.evaluations["f"] >= sum(run["iterations"] for run in r.runs)
    assert r.iterations == r.runs[j]["iterations"]


def test_two_minima_single_start_worse_eight_starts_global():
    lo, hi = quartic_minima()
    f = lambda v: v ** 4 - 3 * v ** 2 + v  # noqa: E731
    assert f(lo) < f(hi) - 2.0  # -3.51 against -1.07
    one = symgd.solve(quartic(), method="newton")
    assert one.status == "converged" and one.x[0] == pytest.approx(hi, abs=1e-9)
    assert one.runs is None and "runs" not in one.to_dict()
    many = symgd.solve(quartic(), method="newton", starts=8)
    assert many.status == "converged"
    assert many.x[0] == pytest.approx(lo, abs=1e-9)
    assert many.fun == pytest.approx(f(lo), abs=1e-12)
    assert many.to_dict()["runs"][0]["x"]["x"] == pytest.approx(hi, abs=1e-9)
    assert {round(r["x"]["x"], 6) for r in many.runs} == {round(lo, 6), round(hi, 6)}


def test_maximize_runs_are_in_the_users_sense():
    p = symgd.Problem(maximize=-(X ** 4 - 3 * X ** 2 + X), variables={X: 1.0})
    r = symgd.solve(p, method="bfgs", starts=8)
    lo, _ = quartic_minima()
    assert r.x[0] == pytest.approx(lo, abs=1e-8)
    assert r.fun == pytest.approx(-(lo ** 4 - 3 * lo ** 2 + lo), abs=1e-10)  # +3.51
    assert max(run["fun"] for run in r.runs) == pytest.approx(r.fun, abs=1e-12)
    assert "runs:" in report.format_result(p, r)


def test_same_seed_same_runs_other_seed_other_starts():
    a = symgd.solve(himmelblau_problem(), method="newton", starts=16, seed=11)
    b = symgd.solve(himmelblau_problem(), method="newton", starts=16, seed=11)
    c = symgd.solve(himmelblau_problem(), method="newton", starts=16, seed=12)
    assert a.runs == b.runs and np.array_equal(a.x, b.x)
    assert a.runs[0]["start"] == c.runs[0]["start"]  # the given start
    assert a.runs[1]["start"] != c.runs[1]["start"]
    # the starts are numpy's PCG64 uniforms over the box, as documented
    X0 = multistart.start_points(np.zeros(2), np.full(2, -np.inf), np.full(2, np.inf), 16, 11)
    U = np.random.default_rng(11).random((15, 2))
    assert np.allclose(X0[1:], -10.0 + 20.0 * U, rtol=0, atol=1e-15)
    assert np.allclose([[s["start"]["x"], s["start"]["y"]] for s in a.runs], X0, atol=0)


@pytest.mark.parametrize("bad", [0, -3, 1.5, True, "4"])
def test_starts_must_be_a_positive_whole_number(bad):
    with pytest.raises(InputError) as e:
        symgd.solve(quartic(), method="newton", starts=bad)
    assert e.value.field == "options.starts"


def test_starts_stay_inside_the_bounds():
    # x in [0, 5], y in [-5, 0]: of the four minima only (3.584428, -1.848127) is inside;
    # a one-sided bound (x >= 0.5) cuts the box around the start
    p = symgd.Problem(minimize=(X ** 2 + Y - 11) ** 2 + (X + Y ** 2 - 7) ** 2,
                      variables={X: {"start": 1.0, "lower": 0.5, "upper": 5.0},
                                 Y: {"start": -1.0, "lower": -5.0, "upper": 0.0}})
    r = symgd.solve(p, method="newton", starts=32)
    for run in r.runs:
        for key, lo, hi in (("start", None, None), ("x", None, None)):
            v = run[key]
            assert 0.5 <= v["x"] <= 5.0 and -5.0 <= v["y"] <= 0.0, run
    assert which_minimum(r.x) == (3, pytest.approx(0.0, abs=1e-5))
    assert r.status == "converged"
    q = symgd.Problem(minimize=(X - 30) ** 2, variables={X: {"start": 2.0, "lower": 0.5}})
    pts = multistart.start_points(np.array([2.0]), np.array([0.5]), np.array([np.inf]), 200, 0)
    assert pts.min() >= 0.5 and pts.max() <= 2.0 + 10 * 2.0
    rq = symgd.solve(q, method="lbfgs", starts=5)
    assert all(run["start"]["x"] >= 0.5 for run in rq.runs)
    assert rq.x[0] == pytest.approx(30.0, abs=1e-8)


@pytest.mark.parametrize("method,opts", [
    ("newton", {}), ("bfgs", {}), ("lbfgs", {"memory": 3}),
    ("linesearch", {}), ("linesearch", {"line_search": "wolfe"}),
    ("linesearch", {"line_search": "exact"}),
    ("gd", {"learning_rate": 0.002, "max_iter": 3000}),
    ("gd", {"optimizer": "adam", "learning_rate": 0.05, "schedule": "cosine"}),
    ("random_search", {"samples": 300}), ("local_search", {"samples": 400}),
])
def test_batched_runs_equal_single_runs(method, opts):
    """The one compiled call packs each loop's parameters itself: every run must be
    the run a single solve from that start gives (and multistart's sequential path,
    taken with a time_limit, too)."""
    p = himmelblau_problem()
    r = symgd.solve(p, method=method, starts=6, seed=4, **opts)
    if method not in ("bfgs", "lbfgs"):  # a chunked quasi-Newton run restarts its memory
        seq = symgd.solve(p, method=method, starts=6, seed=4, time_limit=600, **opts)
        assert seq.runs == r.runs
    for k, run in enumerate(r.runs):
        x0 = np.array([run["start"]["x"], run["start"]["y"]])
        seed = 4 + k if method.endswith("_search") else 4
        one = symgd.solve(p, method=method, x0=x0, seed=seed, **opts)
        assert run["status"] == one.status, (k, one.message)
        assert run["iterations"] == one.iterations
        assert [run["x"]["x"], run["x"]["y"]] == one.x.tolist()
        assert run["fun"] == one.fun


def test_time_limit_stops_starting_runs():
    # a slow gd run; the progress callback sleeps, so the first run meets the deadline
    p = himmelblau_problem()
    calls = []

    def slow(it, f, g):
        calls.append(it)
        time.sleep(0.2)

    t0 = time.perf_counter()
    r = symgd.solve(p, method="gd", learning_rate=1e-6, max_iter=10 ** 9, starts=8,
                    time_limit=0.5, progress=slow)
    assert time.perf_counter() - t0 < 5.0
    assert r.status == "timeout"
    assert len(r.runs) < 8
    assert any(f"time_limit: {len(r.runs)} of 8 started" in s for s in r.path)


def test_auto_honours_starts_for_its_iterative_method():
    # no closed form (exp with a polynomial): auto's newton runs from 8 starts
    p = symgd.Problem(minimize=X ** 4 - 3 * X ** 2 + X + sp.exp(X) / 100,
                      variables={X: 1.0})
    r = symgd.solve(p, starts=8, timeout=2)
    assert r.runs is not None and len(r.runs) == 8
    assert any(s.startswith("multistart: ") for s in r.path)
    fp = lambda v: 4 * v ** 3 - 6 * v + 1 + np.exp(v) / 100  # noqa: E731
    assert abs(fp(r.x[0])) < 1e-8 and r.x[0] < -1.2  # the global one, near -1.30
    # a polynomial: the closed form answers; its Newton polish is not multistarted
    s = symgd.solve(quartic(), starts=8)
    assert s.status == "solved" and s.runs is None


def test_a_saddle_is_not_a_converged_run():
    # f = x^2 - y^2 + y^4/4 + ... from starts on y = 0 Newton lands on the saddle (0, 0)
    p = symgd.Problem(minimize=X ** 2 - Y ** 2 + Y ** 4, variables={X: 1.0, Y: 0.0})
    r = symgd.solve(p, method="newton", starts=12)
    assert r.runs[0]["status"] == "stalled"  # from (1, 0): the saddle at the origin
    assert r.status == "converged"
    assert abs(abs(r.x[1]) - np.sqrt(0.5)) < 1e-8 and abs(r.x[0]) < 1e-8
    one = symgd.solve(p, method="newton")
    assert one.status == "stalled" and "saddle" in one.message
