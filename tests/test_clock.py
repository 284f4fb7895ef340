"""symgd.clock: time budgets are read through a clock that a test can replace, so that
``time_limit`` is checked by counting reads of a fake clock instead of by the speed of the
machine the tests happen to run on.

The solve under test is plain gradient descent on Rosenbrock with a tiny step, so every
iterate is known in advance: x_{k+1} = x_k - lr grad f(x_k), worked here in 30-digit sympy
arithmetic from the gradient sympy derives, independently of symgd's compiled kernels.
"""
from __future__ import annotations

import time

import pytest
import sympy as sp

import symgd
from symgd import clock
from symgd.problem import load_text

LR = 1.0e-7
SLOW = ("variables: {x: -1.2, y: 1.0}\nminimize: (1 - x)**2 + 100*(y - x**2)**2\nmethod: gd\n"
        f"options: {{learning_rate: {LR!r}, max_iter: 1000000000}}\n")
X, Y = sp.symbols("x y", real=True)
ROSENBROCK = (1 - X)**2 + 100*(Y - X**2)**2


def gd_iterates(n: int) -> list:
    """[(x_k, y_k, f(x_k, y_k)) for k = 0..n] of x <- x - LR grad f, at 30 digits."""
    gx, gy = sp.diff(ROSENBROCK, X), sp.diff(ROSENBROCK, Y)
    lr = sp.Float(LR, 30)
    x, y = sp.Float(-1.2, 30), sp.Float(1.0, 30)
    out = []
    for _ in range(n + 1):
        at = {X: x, Y: y}
        out.append((x, y, ROSENBROCK.xreplace(at).evalf(30)))
        x, y = x - lr * gx.xreplace(at).evalf(30), y - lr * gy.xreplace(at).evalf(30)
    return out


def test_now_is_the_real_clock_by_default():
    assert clock.now is time.perf_counter


def test_fake_clock_advances_a_step_per_read_and_is_put_back():
    with clock.fake_clock(step=0.25, start=10.0) as fake:
        assert clock.now is fake
        assert [clock.now() for _ in range(4)] == [10.0, 10.25, 10.5, 10.75]
        fake.advance(1.0)
        assert clock.now() == 12.0
        assert fake.reads == 5
    assert clock.now is time.perf_counter
    with pytest.raises(ZeroDivisionError):
        with clock.fake_clock(step=1.0):
            1 / 0
    assert clock.now is time.perf_counter  # put back when the block raises too


def test_fake_clock_starts_at_the_real_time_by_default():
    # so that a deadline taken from the real clock a moment before is still comparable
    before = time.perf_counter()
    with clock.fake_clock(step=0.0) as fake:
        first, second = clock.now(), clock.now()
    after = time.perf_counter()
    assert before <= first == second <= after and fake.reads == 2


# Both budgets are 40 reads of the fake clock; the second is an hour of fake time, which
# on the real clock would run on until max_iter (1e9 iterations).
@pytest.mark.parametrize("budget_s, step_s", [(20.0, 0.5), (3600.0, 90.0)])
def test_time_limit_stops_on_the_fake_budget_with_the_best_point(budget_s, step_s):
    prob = load_text(SLOW, file="<test>")
    seen = []
    with clock.fake_clock(step=step_s) as fake:
        res = symgd.solve(prob, time_limit=budget_s,
                          progress=lambda i, f, g: seen.append((i, f)))
    assert res.status == "timeout" and not res.success, res.message
    # The driver (symgd/methods/driver.py) reads the clock once at its start, then twice
    # per chunk (before and after it) and checks the deadline at the second read. Its
    # first chunk is 16 iterations; every chunk then "lasts" one step, far over its 20 ms
    # target, so each later chunk is one iteration. With solve() taking its start (and so
    # the deadline) from the real clock, a moment after the fake one started at the same
    # real time, the check at read 2c passes the deadline first for 2c > 40: c = 21 chunks,
    # 16 + 20 = 36 iterations. Each read of this clock before the driver's first (solve()
    # taking its start from symgd.clock too) brings the stop half a chunk earlier: the
    # range below allows up to three such reads (t_start alone gives 35).
    reads = round(budget_s / step_s)
    assert 16 + reads // 2 - 2 <= res.iterations <= 16 + reads // 2
    assert fake.reads >= reads  # the budget was spent in fake reads, not in real time

    exact = gd_iterates(res.iterations)
    fs = [f for _, _, f in exact]
    assert all(a > b for a, b in zip(fs, fs[1:]))  # f falls at every step: best = last
    # the progress values are f at the iterates the loop had reached
    assert [i for i, _ in seen] == [16] + list(range(17, res.iterations + 1))
    for i, f in seen:
        assert f == pytest.approx(float(fs[i]), rel=1e-12)
    # the point returned is the best seen, and f there (by sympy) is the fun reported
    xe, ye, fe = exact[res.iterations]
    assert res.x[0] == pytest.approx(float(xe), rel=1e-12)
    assert res.x[1] == pytest.approx(float(ye), rel=1e-12)
    f_at_x = float(ROSENBROCK.xreplace({X: sp.Float(res.x[0], 30),
                                        Y: sp.Float(res.x[1], 30)}).evalf(30))
    assert res.fun == pytest.approx(f_at_x, rel=1e-12)
    assert res.fun == pytest.approx(min(f for _, f in seen), rel=1e-12)
    assert res.fun == pytest.approx(float(fe), rel=1e-12)
