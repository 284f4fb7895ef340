"""Per-iteration history (SPEC §4 ``history``) and the per-iteration callback (SPEC §5).

Independent answers: f recomputed from the recorded iterates with sympy.lambdify, the
learning rate of a step schedule worked by hand, and runs without a callback or
without chunking as the reference for runs with them.
"""
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


def _recomputed(expr, syms, rows):
    f = sp.lambdify(syms, expr, "math")
    return np.array([f(*r) for r in rows])


@pytest.mark.parametrize("method", ["newton", "bfgs", "lbfgs", "linesearch"])
def test_history_rows_are_the_iterates(rosen, method):
    r = symgd.solve(rosen, method=method)
    h = r.history
    assert r.status == "converged"
    n = r.iterations + 1
    assert len(h["fun"]) == n and h["x"].shape == (n, 2)
    assert list(h["iteration"]) == list(range(n))
    assert h["fun"][0] == pytest.approx(24.2, rel=1e-15)  # f(-1.2, 1) by hand
    # atol: near the minimum f is a difference of rounded terms, 200 |y - x^2| eps |y|
    # at most ~1e-19 where f ~ 1e-9 (the compiled kernel and lambdify round differently)
    np.testing.assert_allclose(h["fun"], _recomputed(ROSEN, (x, y), h["x"]),
                               rtol=1e-12, atol=1e-18)
    np.testing.assert_array_equal(h["x"][-1], r.x)
    assert h["fun"][-1] == r.fun
    # descent methods: f never rises from row to row
    assert np.all(np.diff(h["fun"]) <= 1e-12 * np.abs(h["fun"][:-1]))
    assert h["grad_norm"][-1] == pytest.approx(r.grad_norm, rel=1e-12)
    assert np.all(h["step"][1:] > 0)


def test_long_history_grows_past_its_first_allocation(rosen):
    # steepest descent takes thousands of iterations: the trace doubles between calls
    r = symgd.solve(rosen, method="linesearch")
    h = r.history
    assert r.iterations > 1000 and len(h["fun"]) == r.iterations + 1
    assert np.all(np.isfinite(h["fun"])) and np.all(np.isfinite(h["x"]))
    assert np.all(np.isfinite(h["grad_norm"]))


def test_history_of_a_maximum_is_in_the_users_sense():
    p = symgd.Problem(maximize=-(x - 1) ** 2 - 2 * (y + 0.5) ** 2 + 3,
                      variables={x: 0.0, y: 0.0})
    r = symgd.solve(p, method="bfgs")
    h = r.history
    assert h["fun"][0] == pytest.approx(3 - 1 - 0.5)
    assert h["fun"][-1] == pytest.approx(3.0) and r.fun == pytest.approx(3.0)
    assert np.all(np.diff(h["fun"]) >= -1e-12)


def test_gd_records_the_learning_rate_of_its_schedule():
    # step decay: lr_t = 0.1 * 0.5 ** floor(t / 3) (SPEC §2), worked by hand
    p = symgd.Problem(minimize=(x - 3) ** 2 + (y + 1) ** 2, variables={x: 0.0, y: 0.0})
    r = symgd.solve(p, method="gd", learning_rate=0.1, max_iter=9,
                    schedule={"name": "step", "step_size": 3, "gamma": 0.5})
    lr = r.history["learning_rate"]
    np.testing.assert_allclose(lr[1:10], [0.1] * 3 + [0.05] * 3 + [0.025] * 3, rtol=1e-15)


def test_history_off_keeps_none_and_changes_nothing(rosen):
    a = symgd.solve(rosen, method="newton")
    b = symgd.solve(rosen, method="newton", history=False)
    assert b.history is None and "history" not in b.to_dict()
    np.testing.assert_array_equal(a.x, b.x)
    assert a.iterations == b.iterations


@pytest.mark.parametrize("method", ["bfgs", "lbfgs"])
def test_quasi_newton_memory_survives_chunking(method):
    # a chunked run (a progress report every call, or a callback each iteration) takes
    # the very steps of a run in one call: the memory is kept between calls
    w = sp.symbols("w0:12")
    f = sum(100 * (w[i + 1] - w[i] ** 2) ** 2 + (1 - w[i]) ** 2 for i in range(11))
    p = symgd.Problem(minimize=f, variables={v: (-1.2 if i % 2 == 0 else 1.0)
                                             for i, v in enumerate(w)})
    one = symgd.solve(p, method=method)
    cb = symgd.solve(p, method=method, callback=lambda s: None)
    assert one.status == "converged"
    assert cb.iterations == one.iterations
    np.testing.assert_array_equal(cb.x, one.x)


def test_callback_sees_every_iteration_in_order(rosen):
    seen = []
    r = symgd.solve(rosen, method="newton", callback=lambda s: seen.append(s))
    assert [s.nit for s in seen] == list(range(1, r.iterations + 1))
    for s in seen:
        assert s.fun == pytest.approx(r.history["fun"][s.nit], rel=1e-15)
        np.testing.assert_array_equal(s.x, r.history["x"][s.nit])
    # the state is a copy: later iterations do not rewrite it
    assert not np.array_equal(seen[0].x, seen[-1].x)


@pytest.mark.parametrize("how", ["true", "stopiteration"])
def test_callback_stops_the_run(rosen, how):
    def cb(state):
        if state.nit >= 3:
            if how == "true":
                return True
            raise StopIteration

    r = symgd.solve(rosen, method="lbfgs", callback=cb)
    assert r.status == "interrupted" and not r.success
    assert "callback" in r.message
    assert r.iterations == 3 and len(r.history["fun"]) == 4
    f = sp.lambdify((x, y), ROSEN)
    assert r.fun == pytest.approx(f(*r.x), rel=1e-14) and r.fun < 24.2


def test_callback_returning_a_truthy_non_true_value_does_not_stop(rosen):
    # only True stops (a callback returning its own bookkeeping must not end the run)
    r = symgd.solve(rosen, method="newton", callback=lambda s: s.nit)
    assert r.status == "converged"


def test_callback_must_be_callable(rosen):
    with pytest.raises(symgd.InputError, match="callable"):
        symgd.solve(rosen, method="newton", callback=3)


def test_auglag_history_and_callback():
    p = symgd.Problem(maximize=x * y * z, variables={x: 1.0, y: 1.0, z: 1.0},
                      constraints=[sp.Eq(x + y + z, 30), x >= 0, y >= 0, z >= 0])
    r = symgd.solve(p, method="auglag")
    h = r.history
    assert r.status == "converged" and r.fun == pytest.approx(1000.0, rel=1e-12)
    assert h["fun"][0] == pytest.approx(1.0)      # x y z at the start
    np.testing.assert_allclose(h["x"][-1], [10, 10, 10], rtol=1e-10)
    np.testing.assert_allclose(h["fun"], h["x"].prod(axis=1), rtol=1e-12)
    stopped = symgd.solve(p, method="auglag", callback=lambda s: s.nit >= 2)
    assert stopped.status == "interrupted" and "callback" in stopped.message
    assert stopped.iterations == 2


def test_lm_history_and_callback(tmp_path):
    t = np.linspace(0, 4, 40)
    data = {"t": t, "y": 2.5 * np.exp(-1.3 * t) + 0.5}
    a, b, c, tt = sp.symbols("a b c t")
    p = symgd.Problem(model=a * sp.exp(-b * tt) + c, target="y", data=data,
                      variables={a: 1.0, b: 1.0, c: 0.0})
    r = symgd.solve(p, method="lm")
    h = r.history
    assert r.status == "converged"
    assert h["fun"][-1] == pytest.approx(r.fun, rel=1e-9, abs=1e-20)
    assert np.all(np.diff(h["fun"]) <= 0)          # lm accepts only decreasing steps
    # each row's loss recomputed from its parameters (mean squared error)
    for row, fv in zip(h["x"][1:4], h["fun"][1:4]):
        pred = row[0] * np.exp(-row[1] * t) + row[2]
        assert fv == pytest.approx(np.mean((data["y"] - pred) ** 2), rel=1e-12)
    stopped = symgd.solve(p, method="lm", callback=lambda s: True)
    assert stopped.status == "interrupted" and "callback" in stopped.message


def test_history_in_json_has_nulls_for_unknowns(rosen):
    d = symgd.solve(rosen, method="newton").to_dict()
    h = d["history"]
    assert h["grad_norm"][-1] is not None and isinstance(h["fun"][0], float)
    assert len(h["x"]) == len(h["fun"]) and len(h["x"][0]) == 2
    assert all(v is None or math.isfinite(v) for v in h["step"])


def test_sgd_history_is_per_epoch_and_the_callback_sees_each_epoch():
    p = symgd.load("problems/linreg_sgd.yaml")
    a = symgd.solve(p)
    h = a.history
    assert list(h["iteration"]) == list(range(1, a.iterations + 1))
    assert len(h["learning_rate"]) == a.iterations and np.all(h["learning_rate"] > 0)
    seen = []
    b = symgd.solve(p, callback=lambda s: seen.append(s.nit))
    # one call per epoch changes nothing: the same minibatches, the same answer
    np.testing.assert_array_equal(a.x, b.x)
    assert seen == list(range(1, len(seen) + 1)) and len(seen) >= a.iterations - 1
    c = symgd.solve(p, callback=lambda s: s.nit >= 3)
    assert c.status == "interrupted" and c.iterations == 3 and "callback" in c.message
