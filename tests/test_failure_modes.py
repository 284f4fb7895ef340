"""Numerical failure modes: each ends in the documented status with a finite point that is
the best one seen, never in an exception or a wrong claim (SPEC §2, §4).

* a start outside the objective's domain is an input error that names the point;
* a non-finite trial point makes a line search back off; non-finite values at every
  point tried end the run 'diverged' at the last finite point;
* a learning rate under which the loss grows ends 'diverged' and suggests a smaller one;
* an objective that falls without bound ends 'unbounded';
* Newton (and the other methods) never report a saddle as a minimum;
* time_limit and Ctrl-C hand back the best point so far, and the command line still
  prints it and writes --out, atomically.

Every expected value is computed independently (sympy / closed forms), never taken
from symgd's own output.
"""
from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symgd
from symgd.cli import write_atomically
from symgd.clock import fake_clock
from symgd.errors import InputError
from symgd.problem import load_text
from cli_interrupt import solve_and_interrupt

ROOT = Path(__file__).resolve().parents[1]


def problem(text: str):
    return load_text(text, file="<test>")


def f_of(prob, x) -> float:
    """The objective in the user's sense at x, evaluated by sympy (independently)."""
    subs = dict(zip(prob.symbols, (sp.Float(v, 30) for v in np.asarray(x, dtype=float))))
    return float(prob.objective.xreplace(subs).evalf(30))


def assert_best_point(prob, res, *, seen=()):
    """x finite, fun the objective at x, and no worse than the start or anything seen."""
    x = np.asarray(res.x, dtype=float)
    assert np.all(np.isfinite(x)), res.x
    assert math.isfinite(res.fun), res.fun
    assert res.fun == pytest.approx(f_of(prob, x), rel=1e-9, abs=1e-12)
    sign = 1.0 if prob.sense == "minimize" else -1.0
    start = f_of(prob, prob.start)
    assert sign * res.fun <= sign * start + 1e-12
    for f in seen:
        assert sign * res.fun <= sign * f + 1e-9 * max(1.0, abs(f))


def run_cli(*args, timeout=300, **kw):
    return subprocess.run([sys.executable, "-m", "symgd", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, **kw)


# --------------------------------------------------------------------------- domain
@pytest.mark.parametrize("method", ["newton", "linesearch", "gd"])
def test_start_outside_the_domain_is_an_input_error_naming_the_point(method):
    prob = problem(f"variables: {{x: -1, y: 2}}\nminimize: log(x) + y**2\nmethod: {method}\n")
    with pytest.raises(InputError) as info:
        symgd.solve(prob)
    err = info.value
    assert err.kind == "domain" and err.field == "variables"
    assert "x=-1" in err.message and "y=2" in err.message
    assert "start" in err.message


def test_start_outside_the_domain_through_the_cli(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("variables: {x: -1}\nminimize: sqrt(x) + x**2\nmethod: newton\n")
    r = run_cli("solve", f, "--json")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    err = json.loads(r.stdout)["error"]
    assert err["file"].endswith("p.yaml") and err["field"] == "variables"
    assert err["line"] == 1 and "x=-1" in err["message"]


# --------------------------------------------------------------------------- non-finite
def test_linesearch_backs_off_a_non_finite_trial_point():
    # From x = 5 the gradient is 5.8: the first trial step (length 1) lands at x = -0.8,
    # where log is undefined; the search must back off and still find the minimum
    # 1 + sqrt(3/2) of (x - 2)^2 - log x.
    prob = problem("variables: {x: 5}\nminimize: (x - 2)**2 - log(x)\nmethod: linesearch\n")
    assert 5 - (2 * (5 - 2) - 1 / 5) < 0  # the full first step leaves the domain
    res = symgd.solve(prob)
    assert res.status == "converged", res.message
    assert res.x[0] == pytest.approx(1 + math.sqrt(1.5), rel=1e-8)
    assert res.evaluations["f"] > res.iterations + 1  # backtracking evaluated more points
    assert_best_point(prob, res)


def test_newton_backs_off_a_step_out_of_the_domain():
    # x - 2 log x at x = 10: f' = 0.8, f'' = 0.02, so the Newton step is -40: x = -30,
    # outside the domain. The damped step must come back; the minimum is x = 2.
    prob = problem("variables: {x: 10}\nminimize: x - 2*log(x)\nmethod: newton\n")
    res = symgd.solve(prob)
    assert res.status == "converged", res.message
    assert res.x[0] == pytest.approx(2.0, rel=1e-10)
    assert res.fun == pytest.approx(2 - 2 * math.log(2), rel=1e-12)


def test_fixed_step_into_non_finite_values_ends_diverged_at_the_last_finite_point():
    # -x + (-x)^(3/2) exists for x <= 0 only; from -0.5 a unit gradient step lands at
    # x = -0.5 + 1 + 1.5 sqrt(0.5) > 0.
    prob = problem("variables: {x: -0.5}\nminimize: -x + sqrt(-x)**3\nmethod: gd\n"
                   "options: {learning_rate: 1.0}\n")
    res = symgd.solve(prob)
    assert res.status == "diverged" and not res.success
    assert "non-finite" in res.message
    assert res.x[0] == -0.5  # the last (and best) finite point
    assert_best_point(prob, res)


def test_line_search_that_meets_only_non_finite_values_ends_diverged():
    # At x = 0 the descent direction points out of the domain x <= 0: every trial
    # point along it is undefined, however short the step.
    prob = problem("variables: {x: -1.0e-30}\nminimize: -x + sqrt(-x)**3\n"
                   "method: linesearch\n")
    res = symgd.solve(prob)
    assert res.status in ("diverged", "stalled"), res.message
    assert res.x[0] <= 0 and math.isfinite(res.x[0])
    assert_best_point(prob, res)


# --------------------------------------------------------------------------- learning rate
def test_learning_rate_that_makes_the_loss_grow_ends_diverged_with_a_smaller_rate():
    # x <- x - 1.5 * 2x = -2x: |x| doubles at every step.
    prob = problem("variables: {x: 1, y: -2}\nminimize: x**2 + y**2\nmethod: gd\n"
                   "options: {learning_rate: 1.5}\n")
    res = symgd.solve(prob)
    assert res.status == "diverged" and not res.success
    m = re.search(r"try learning_rate ([0-9.eE+-]+)", res.message)
    assert m, res.message
    assert float(m.group(1)) < 1.5 and float(m.group(1)) <= 0.75  # below 1/L = 1/2 * ...
    assert list(res.x) == [1.0, -2.0]  # every later point was worse
    assert_best_point(prob, res)


def test_sgd_learning_rate_that_makes_the_loss_grow_ends_diverged():
    prob = problem("variables: {a: 0.5}\ndata: {x: [0, 1, 2, 3, 4], y: [0, 2.1, 3.9, 6.2, 7.8]}"
                   "\nmodel: a*x\ntarget: y\nmethod: sgd\n"
                   "options: {optimizer: sgd, learning_rate: 1.0, epochs: 50, batch_size: 5, "
                   "seed: 0}\n")
    res = symgd.solve(prob)
    assert res.status == "diverged" and not res.success
    m = re.search(r"learning_rate ([0-9.eE+-]+)", res.message.split("try", 1)[-1])
    assert m and float(m.group(1)) < 1.0, res.message
    assert np.all(np.isfinite(res.x)) and res.x[0] == 0.5
    # mse at a = 0.5, computed here
    x = np.array([0, 1, 2, 3, 4.0])
    y = np.array([0, 2.1, 3.9, 6.2, 7.8])
    assert res.fun == pytest.approx(np.mean((0.5 * x - y) ** 2), rel=1e-12)


# --------------------------------------------------------------------------- unbounded
# Starts off the lines of symmetry (from (1, 1) a line search on x*y lands exactly on the
# saddle at the origin, which is then rightly reported as a saddle).
UNBOUNDED = [
    ("-x + y**2", "linesearch"), ("-x + y**2", "newton"), ("-x + y**2", "auto"),
    ("x**2 - y**4", "gd"), ("x**2 - y**4", "linesearch"), ("x**2 - y**4", "newton"),
    ("x**2 - y**4", "auto"), ("x*y", "linesearch"), ("x*y", "newton"), ("x*y", "auto"),
    ("x**3 + y**2", "linesearch"), ("x**3 + y**2", "auto"),
]


@pytest.mark.parametrize("objective, method", UNBOUNDED)
def test_objective_falling_without_bound_ends_unbounded(objective, method):
    prob = problem(f"variables: {{x: 1, y: 2}}\nminimize: {objective}\nmethod: {method}\n")
    res = symgd.solve(prob)
    assert res.status == "unbounded", (res.status, res.message)
    assert not res.success
    assert np.all(np.isfinite(res.x))
    if math.isfinite(res.fun):  # iterative: the point reached, better than the start
        assert_best_point(prob, res)


# --------------------------------------------------------------------------- saddles
SADDLES = [
    ("minimize", "x**2 - y**2", (0.0, 0.0), "newton"),
    ("minimize", "x**2 - y**2", (1.0, 0.0), "newton"),
    ("minimize", "x**2 - y**2", (0.5, 0.0), "linesearch"),
    ("minimize", "x**2 - y**2", (0.5, 0.0), "gd"),
    ("minimize", "x*y", (0.0, 0.0), "newton"),
    # its saddle is at (16/13, -24/13); started there (to double precision)
    ("minimize", "(x - 1)**2 - (y + 2)**2 + x*y/4", (16 / 13, -24 / 13), "newton"),
    ("maximize", "y**2 - x**2", (1.0, 0.0), "newton"),
]


@pytest.mark.parametrize("sense, objective, start, method", SADDLES)
def test_a_saddle_is_never_reported_as_an_optimum(sense, objective, start, method):
    prob = problem(f"variables: {{x: {start[0]!r}, y: {start[1]!r}}}\n{sense}: {objective}\n"
                   f"method: {method}\n")
    res = symgd.solve(prob)
    assert not res.success and res.status == "stalled", (res.status, res.message)
    assert "saddle point" in res.message
    assert ("not a maximum" if sense == "maximize" else "not a minimum") in res.message
    # it did stop at a critical point that is a saddle (independent check by sympy)
    H = sp.hessian(prob.objective, prob.symbols).xreplace(dict(zip(prob.symbols, res.x)))
    eig = [float(v) for v in H.eigenvals(multiple=True)]
    assert min(eig) < 0 < max(eig)
    assert_best_point(prob, res)


def test_closed_form_classifies_the_saddle_and_claims_no_minimum():
    prob = problem("variables: {x: 0, y: 0}\nminimize: x**2 - y**2\nmethod: analytic\n")
    res = symgd.solve(prob)
    assert not res.success
    classes = [p.classification for p in res.analytic.critical_points]
    assert classes == ["saddle"]
    assert res.analytic.best is None and res.status == "unbounded"


# --------------------------------------------------------------------------- time, Ctrl-C
SLOW = ("variables: {x: -1.2, y: 1.0}\nminimize: (1 - x)**2 + 100*(y - x**2)**2\nmethod: gd\n"
        "options: {learning_rate: 1.0e-7, max_iter: 1000000000}\n")


def test_time_limit_returns_the_best_point_so_far():
    # The budget is read through a fake clock (symgd.clock) that moves 0.5 s at each read,
    # so the run ends after the same number of chunks on any machine (tests/test_clock.py
    # works the count out); on the real clock SLOW would run on to max_iter, 1e9.
    prob = problem(SLOW)
    seen = []
    with fake_clock(step=0.5) as fake:
        res = symgd.solve(prob, time_limit=10.0, progress=lambda i, f, g: seen.append(f))
    assert res.status == "timeout" and not res.success
    assert fake.reads >= 20  # 10 s of 0.5 s reads: the budget was spent on the fake clock
    # a first chunk of 16 iterations, then, each chunk "lasting" 0.5 s (far over the
    # driver's 20 ms target), one iteration per chunk of two reads: at most 10 more
    assert 16 <= res.iterations <= 16 + 10 and len(seen) == res.iterations - 15
    assert_best_point(prob, res, seen=seen)
    assert res.fun < f_of(prob, prob.start)


def test_ctrl_c_returns_the_best_point_so_far():
    prob = problem(SLOW)
    seen = []

    def progress(i, f, g):
        seen.append(f)
        if len(seen) >= 5:
            raise KeyboardInterrupt  # what SIGINT raises in the main thread

    res = symgd.solve(prob, progress=progress)
    assert res.status == "interrupted" and not res.success
    assert_best_point(prob, res, seen=seen)
    assert res.fun < f_of(prob, prob.start)


def test_cli_time_limit_prints_and_writes_the_best_point(tmp_path):
    p = tmp_path / "slow.yaml"
    p.write_text(SLOW)
    out = tmp_path / "r.json"
    out.write_text("the previous result\n")
    r = run_cli("solve", p, "--json", "--set", "options.time_limit=0.5", "--out", out)
    assert r.returncode == 1, r.stderr
    d = json.loads(r.stdout)
    assert d["status"] == "timeout" and d["fun"] < 24.2  # f(-1.2, 1) = 24.2
    assert json.loads(out.read_text()) == d
    assert not list(tmp_path.glob(".symgd_*"))


def test_cli_sigint_prints_and_writes_the_best_point(tmp_path):
    p = tmp_path / "slow.yaml"
    p.write_text(SLOW)
    out = tmp_path / "r.json"
    out.write_text("the previous result\n")
    os.chmod(out, 0o640)
    code, stdout, stderr = solve_and_interrupt(p, "--json", "--out", out)
    assert code == 130, stderr
    assert "Traceback" not in stderr
    d = json.loads(stdout)
    assert d["status"] == "interrupted" and d["iterations"] > 0 and d["fun"] < 24.2
    assert json.loads(out.read_text()) == d
    assert os.stat(out).st_mode & 0o777 == 0o640  # replaced, permissions kept
    assert not list(tmp_path.glob(".symgd_*"))


# --------------------------------------------------------------------------- --out
def test_out_write_failure_keeps_the_previous_file(tmp_path, monkeypatch):
    out = tmp_path / "r.json"
    out.write_text("previous\n")
    with pytest.raises(UnicodeEncodeError):  # fails while writing the temporary file
        write_atomically(str(out), "half a result \ud800 never written")
    assert out.read_text() == "previous\n"

    def crash(*a, **k):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        write_atomically(str(out), "new result\n")
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]  # no temporary left


def test_out_killed_writer_never_leaves_half_a_file(tmp_path):
    """A writer killed at any moment (SIGKILL, no cleanup at all) leaves the old file or
    the whole new one under the name, never a part: the name changes by rename only."""
    out = tmp_path / "r.json"
    out.write_text('{"old": true}\n')
    code = ("import sys; sys.path.insert(0, %r)\nfrom symgd.cli import write_atomically\n"
            "import json\nbig = json.dumps({'x': list(range(200000))})\n"
            "while True:\n    write_atomically(%r, big)\n") % (str(ROOT), str(out))
    for delay in (0.05, 0.2, 0.4):
        proc = subprocess.Popen([sys.executable, "-c", code])
        time.sleep(delay)
        proc.kill()
        proc.wait()
        text = out.read_text()
        assert json.loads(text) in ({"old": True}, {"x": list(range(200000))})


def test_out_to_an_unwritable_place_is_refused_before_solving(tmp_path):
    # Solved first, SLOW (under a 5 s budget here) would print its first chunk's
    # "symgd: iteration" line (--verbose prints one at once) and then a result on stdout;
    # refused first, stdout holds the error alone and nothing was solved.
    p = tmp_path / "p.yaml"
    p.write_text(SLOW)
    for bad in (tmp_path / "missing" / "r.json", tmp_path):
        r = run_cli("solve", p, "--json", "--verbose", "--set", "options.time_limit=5",
                    "--out", bad, timeout=120)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        d = json.loads(r.stdout)
        assert set(d) == {"error"}
        assert d["error"]["file"] == "--out" and d["error"]["message"]
        assert "iteration" not in r.stderr and "method loops" not in r.stderr, r.stderr
