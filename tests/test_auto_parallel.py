"""auto runs the closed form in its worker while the iterative method runs (issue 10, 9).

The wall time of an auto solve is then the longer of the two, not their sum; the
closed form answers whenever it finishes within ``timeout`` (a local iterative answer
never replaces a global closed-form one), and the iterative answer is used when it
does not. The order of events is checked with a stand-in worker, so nothing here
depends on timing.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symgd
from symgd import closed_form, solver
from symgd.analytic.report import failure

x, y = sp.symbols("x y", real=True)


class FakePending:
    """A worker stand-in that logs when it is started, asked and cancelled."""

    def __init__(self, log, report, timeout):
        self.log, self.report, self.timeout = log, report, timeout
        log.append(("start", timeout))

    def result(self):
        self.log.append(("result",))
        return self.report

    def cancel(self):
        self.log.append(("cancel",))

    def finished(self):
        return True


@pytest.fixture
def log(monkeypatch):
    events = []
    real_iterative = solver._solve_iterative

    def iterative(*a, **k):
        events.append(("iterate",))
        return real_iterative(*a, **k)

    monkeypatch.setattr(solver, "_solve_iterative", iterative)
    return events


def _fake_worker(monkeypatch, log, report):
    import symgd.analytic as analytic

    monkeypatch.setattr(analytic, "critical_points_start",
                        lambda problem, timeout: FakePending(log, report, timeout))


def test_the_iterative_method_runs_while_the_worker_works(monkeypatch, log):
    """start -> iterate -> result: the two overlap (before, the iterative method began
    only after the closed form had ended)."""
    _fake_worker(monkeypatch, log, failure("timeout", "stand-in: no answer", 10.0))
    prob = symgd.Problem(minimize=(x - 1) ** 2 + (y + 2) ** 2 + sp.cos(x),
                         variables={x: 0.0, y: 0.0})
    res = symgd.solve(prob)
    assert [e[0] for e in log] == ["start", "iterate", "result"]
    assert res.method == "newton" and res.status == "converged"
    assert res.path[0].startswith("analytic: timeout")


def test_a_global_closed_form_answer_beats_a_fast_local_one():
    """f = x^4 - 4x^2 + x + y^2 from x = 1.5: Newton alone stops in the right-hand well
    (a local minimum); the closed form finds the global one in the left-hand well. The
    wells are the roots of f_x = 4x^3 - 8x + 1 (numpy.roots), the lower f wins."""
    f = x ** 4 - 4 * x ** 2 + x + y ** 2
    prob = symgd.Problem(minimize=f, variables={x: 1.5, y: 0.3})
    local = symgd.solve(prob, method="newton")
    roots = np.roots([4.0, 0.0, -8.0, 1.0]).real
    fx = lambda v: v ** 4 - 4 * v ** 2 + v  # noqa: E731
    best = min(roots, key=fx)
    assert local.status == "converged" and local.x[0] > 0  # the local well
    res = symgd.solve(prob)
    assert res.method == "analytic" and res.status == "solved"
    assert res.x == pytest.approx([best, 0.0], abs=1e-10)
    assert res.fun == pytest.approx(fx(best), rel=1e-12)


def test_default_timeout_by_kind_of_system(monkeypatch, log):
    _fake_worker(monkeypatch, log, failure("no_closed_form", "stand-in", 0.1))
    poly = symgd.Problem(minimize=(x - 1) ** 2 + y ** 4 + x * y, variables={x: 0.0, y: 0.0})
    symgd.solve(poly)
    trans = symgd.Problem(minimize=(x - 1) ** 2 + sp.cos(y), variables={x: 0.0, y: 0.5})
    symgd.solve(trans)
    symgd.solve(trans, timeout=7.5)
    starts = [e[1] for e in log if e[0] == "start"]
    assert starts == [closed_form.DEFAULT_TIMEOUT, closed_form.NONPOLYNOMIAL_TIMEOUT,
                      7.5]


def test_ctrl_c_during_the_iterative_run_stops_the_worker(monkeypatch, log):
    """Ctrl-C inside the iterative run (here raised by the progress callback, which the
    loop driver calls between chunks): the worker is killed, not waited for, and the
    result is the best point so far with status interrupted."""
    _fake_worker(monkeypatch, log, failure("timeout", "stand-in", 10.0))

    def progress(*args):
        raise KeyboardInterrupt

    # Newton on x^4 + y^4 shrinks x by 2/3 a step: many chunks before it could stop
    prob = symgd.Problem(minimize=x ** 4 + y ** 4, variables={x: 1.0, y: 1.0})
    res = symgd.solve(prob, method="auto", tol=1e-300, progress=progress)
    assert res.status == "interrupted"
    assert ("cancel",) in log and ("result",) not in log
    assert 0.0 < res.x[0] < 1.0


def test_a_worker_ends_when_its_parent_is_killed(tmp_path):
    """A closed-form worker whose parent dies (kill -9 leaves no time to kill it at the
    timeout) ends by itself instead of running sympy on, orphaned."""
    import os
    import signal
    import subprocess
    import sys
    import textwrap
    import time

    pidfile = tmp_path / "child.pid"
    parent = textwrap.dedent(f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c",
            "import time; from symgd.analytic.worker import _exit_with_parent as w; "
            "w(0.05); open({str(pidfile)!r}, 'w').write(str(__import__('os').getpid())); "
            "time.sleep(60)"])
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", parent])
    deadline = time.monotonic() + 30
    while not pidfile.exists() or not pidfile.read_text():
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    child = int(pidfile.read_text())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while True:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break  # gone (reaped by init)
        # a zombie awaiting its reaper counts as ended
        stat = open(f"/proc/{child}/stat").read() if os.path.exists(f"/proc/{child}/stat") \
            else ""
        if ") Z " in stat:
            break
        assert time.monotonic() < deadline, "the orphaned worker is still running"
        time.sleep(0.05)
