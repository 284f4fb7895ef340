"""Minibatch SGD (symgd.methods.sgd, sgd_loop, sgd_options, optimizers, batchcall) against
independent answers: numpy's least squares, optimizer formulas worked by hand, schedules
computed by hand."""
import _thread
import math
import threading
import time

import numpy as np
import pytest
from numba import cfunc

from symgd.errors import InputError
from symgd.fit.abi import BATCH_SIG
from symgd.methods import optimizers as O
from symgd.methods import status as S
from symgd.methods.batchcall import call_batch, full_pass
from symgd.methods.schedules import CODES, learning_rate, pack_schedule
from symgd.methods.sgd import R_PATIENCE, SGD_OPTIONS, check_sgd_options, run_sgd



@cfunc(BATCH_SIG, cache=True, error_model="numpy")
def linear_mse(th, d, n, idx, m, grad):
    """mean (th0 x0 + th1 x1 + th2 - y)^2 over idx[0..m); each sample a row (x0, x1, y)
    of d, n values apart."""
    f = g0 = g1 = g2 = 0.0
    for q in range(m):
        i = idx[q] * n
        r = th[0] * d[i] + th[1] * d[i + 1] + th[2] - d[i + 2]
        f += r * r
        g0 += 2.0 * r * d[i]
        g1 += 2.0 * r * d[i + 1]
        g2 += 2.0 * r
    if m <= 0:
        return 0.0
    grad[0], grad[1], grad[2] = g0 / m, g1 / m, g2 / m
    return f / m


@cfunc(BATCH_SIG, cache=True, error_model="numpy")
def flat_loss(th, d, n, idx, m, grad):
    """Loss 5 everywhere with gradient 1: never improves, never converges."""
    grad[0] = 1.0
    return 5.0


SIGMA = 0.1  # noise of the synthetic data
N = 1000
FREE = (np.full(3, -np.inf), np.full(3, np.inf))


def make_data(seed=1, sigma=SIGMA, n=N):
    rng = np.random.Generator(np.random.PCG64(seed))
    X = rng.standard_normal((2, n))
    y = 1.5 * X[0] - 2.0 * X[1] + 0.5 + sigma * rng.standard_normal(n)
    A = np.column_stack([X[0], X[1], np.ones(n)])
    return np.vstack([X, y]), np.linalg.lstsq(A, y, rcond=None)[0]


@pytest.fixture(scope="module")
def fit():
    return make_data()


def sgd(data, bounds=FREE, theta0=None, deadline=None, **opts):
    o = {**SGD_OPTIONS, **opts}
    x0 = np.zeros(3) if theta0 is None else theta0
    chunk = o.pop("chunk_steps", None)
    rows = np.ascontiguousarray(data.T)  # the loop reads samples by row
    return run_sgd(linear_mse.address, rows, x0, *bounds, o, deadline, None, chunk_steps=chunk)


# -- the batch kernel call -------------------------------------------------------------------

def test_batch_call_matches_numpy(fit):
    data, _ = fit
    rows = np.ascontiguousarray(data.T)
    rows.setflags(write=False)  # datasets are read-only; the loop must take them
    th = np.array([0.3, -0.2, 0.1])
    idx = np.array([5, 17, 3, 999], dtype=np.int64)
    r = th[0] * data[0, idx] + th[1] * data[1, idx] + th[2] - data[2, idx]
    grad = np.empty(3)
    f = call_batch(linear_mse.address, th, rows, idx, grad)
    assert f == pytest.approx(np.mean(r * r), rel=1e-14)
    np.testing.assert_allclose(grad, [np.mean(2 * r * data[0, idx]),
                                      np.mean(2 * r * data[1, idx]), np.mean(2 * r)], rtol=1e-13)
    f_all, g_all = full_pass(linear_mse.address, rows, th)
    r = th[0] * data[0] + th[1] * data[1] + th[2] - data[2]
    assert f_all == pytest.approx(np.mean(r * r), rel=1e-13)


# -- optimizers: one table of hand formulas (1-D quadratic f = a/2 x^2, g = a x) --------------

A, X0, LR, MU, EPS = 3.0, 2.0, 0.1, 0.9, 1e-8


def hand_two_steps(name):
    """The first two iterates of each optimizer, written out from its paper."""
    g = lambda x: A * x  # noqa: E731
    x0 = X0
    g0 = g(x0)
    if name == "sgd":
        x1 = x0 - LR * g0
        return x1, x1 - LR * g(x1)
    if name == "momentum":  # v = mu v + g, x -= lr v
        v1 = g0
        x1 = x0 - LR * v1
        return x1, x1 - LR * (MU * v1 + g(x1))
    if name == "nesterov":  # v = mu v + g, x -= lr (g + mu v)
        v1 = g0
        x1 = x0 - LR * (g0 + MU * v1)
        g1 = g(x1)
        v2 = MU * v1 + g1
        return x1, x1 - LR * (g1 + MU * v2)
    if name == "adagrad":
        G1 = g0 ** 2
        x1 = x0 - LR * g0 / (math.sqrt(G1) + 1e-10)
        g1 = g(x1)
        return x1, x1 - LR * g1 / (math.sqrt(G1 + g1 ** 2) + 1e-10)
    if name == "rmsprop":
        E1 = 0.1 * g0 ** 2
        x1 = x0 - LR * g0 / (math.sqrt(E1) + EPS)
        g1 = g(x1)
        E2 = 0.9 * E1 + 0.1 * g1 ** 2
        return x1, x1 - LR * g1 / (math.sqrt(E2) + EPS)
    if name in ("adam", "adamw"):
        wd = 0.01 if name == "adamw" else 0.0
        m1, v1 = 0.1 * g0, 0.001 * g0 ** 2
        x1 = x0 - LR * ((m1 / 0.1) / (math.sqrt(v1 / 0.001) + EPS) + wd * x0)
        g1 = g(x1)
        m2, v2 = 0.9 * m1 + 0.1 * g1, 0.999 * v1 + 0.001 * g1 ** 2
        c1, c2 = 1 - 0.9 ** 2, 1 - 0.999 ** 2
        return x1, x1 - LR * ((m2 / c1) / (math.sqrt(v2 / c2) + EPS) + wd * x1)
    raise AssertionError(name)


@pytest.mark.parametrize("name", list(O.CODES))
def test_optimizer_two_steps_match_hand_formulas(name):
    hyper = O.hyper_array(name, momentum=MU)
    state = O.init_state(1)
    x = np.array([X0])
    step = np.empty(1)
    got = []
    for t in (1, 2):
        O.update(O.CODES[name], A * x, state, x, LR, t, hyper, step)
        x = x + step
        got.append(x[0])
    want = hand_two_steps(name)
    assert got == pytest.approx(want, rel=1e-14, abs=1e-15)


@pytest.mark.parametrize("g", [[3.0, -0.002, 40.0]])
def test_adam_first_step_is_minus_lr_sign_g(g):
    # Bias correction makes m^ = g and v^ = g^2 at t = 1: step = -lr g / (|g| + eps).
    g = np.array(g)
    step = np.empty(3)
    O.update(O.ADAM, g, O.init_state(3), np.zeros(3), 0.05, 1, O.hyper_array("adam"), step)
    np.testing.assert_allclose(step, -0.05 * np.sign(g), rtol=1e-5)


# -- every optimizer reaches the least-squares solution ---------------------------------------

# Learning rates in each optimizer's own units (adaptive methods take steps of about lr).
RATES = {"sgd": 0.05, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.5, "rmsprop": 0.01,
         "adam": 0.05, "adamw": 0.05}


@pytest.mark.parametrize("name", list(O.CODES))
def test_every_optimizer_reaches_normal_equations_solution(fit, name):
    data, w_ls = fit
    r = sgd(data, optimizer=name, learning_rate=RATES[name], epochs=40, schedule="cosine",
            weight_decay=0.0, seed=3)
    assert r.status == "max_iter" and r.iterations == 40 and r.steps == 40 * 32
    # Tolerance: the least-squares estimate itself is uncertain by sigma/sqrt(n) = 3e-3, and
    # constant-step SGD wanders about it by sigma sqrt(lr/B) = 4e-3 (lr 0.05, B 32); the
    # cosine schedule anneals that away, so the iterate must land within 2e-3 = sigma/50.
    np.testing.assert_allclose(r.x, w_ls, atol=2e-3)
    assert r.f == pytest.approx(np.mean((np.column_stack([data[0], data[1], np.ones(N)]) @ w_ls
                                         - data[2]) ** 2), rel=1e-3)
    # The epoch loss falls from the start's to the noise variance sigma^2.
    assert r.history[0] > r.history[-1] and r.history[-1] < 1.1 * SIGMA ** 2


def test_adamw_decay_is_decoupled(fit):
    # With weight decay the fixed point is shrunk towards 0 relative to least squares.
    data, w_ls = fit
    r = sgd(data, optimizer="adamw", learning_rate=0.05, epochs=40, schedule="cosine",
            weight_decay=0.5, seed=3)
    assert np.linalg.norm(r.x) < np.linalg.norm(w_ls) - 0.05


def test_gradient_test_converges_on_an_exact_fit():
    data, w = make_data(sigma=0.0)
    r = sgd(data, optimizer="sgd", learning_rate=0.05, epochs=500, tol=1e-10)
    assert r.status == "converged" and r.reason == S.R_GRAD
    assert r.grad_norm <= 1e-10 * max(1.0, r.f)
    np.testing.assert_allclose(r.x, [1.5, -2.0, 0.5], atol=1e-9)
    assert r.iterations < 500 and len(r.history) == r.iterations


def test_bounds_are_kept_by_projection(fit):
    data, _ = fit
    lo, hi = np.array([-np.inf, -1.0, -np.inf]), np.full(3, np.inf)
    r = sgd(data, bounds=(lo, hi), optimizer="sgd", learning_rate=0.05, epochs=40,
            schedule="cosine")
    # Least squares with theta1 held at -1: lstsq for the other two on y + 1 * x1.
    A = np.column_stack([data[0], np.ones(N)])
    w = np.linalg.lstsq(A, data[2] + data[1], rcond=None)[0]
    assert r.x[1] == -1.0
    # The residual now holds the missing -1 * x1 as well: noise ~1 instead of sigma, so
    # the tolerance of the free fit, sigma / 50, becomes rms(residual) / 50.
    rms = np.sqrt(np.mean((A @ w - data[2] - data[1]) ** 2))
    assert 0.9 < rms < 1.1
    np.testing.assert_allclose(r.x[[0, 2]], w, atol=rms / 50)


# -- reproducibility -------------------------------------------------------------------------

@cfunc(BATCH_SIG, cache=True, error_model="numpy")
def visit_counter(th, d, n, idx, m, grad):
    """Loss 0; gradient (1/m) sum over the batch of e_id, id = the sample's one column:
    plain SGD with learning rate 1 then lowers theta_id by 1/m per visit."""
    for j in range(50):
        grad[j] = 0.0
    for q in range(m):
        grad[int(d[idx[q] * n])] += 1.0 / m
    return 0.0


def test_every_epoch_visits_every_sample_once():
    n, bs = 50, 10
    rows = np.arange(n, dtype=float).reshape(n, 1)  # sample i holds its own id
    o = {**SGD_OPTIONS, "optimizer": "sgd", "learning_rate": 1.0, "batch_size": bs,
         "epochs": 3, "seed": 3}
    r = run_sgd(visit_counter.address, rows, np.zeros(n), np.full(n, -np.inf),
                np.full(n, np.inf), o, None, None, chunk_steps=7)
    assert r.iterations == 3
    np.testing.assert_allclose(r.x, np.full(n, -3.0 / bs), rtol=1e-14)  # 3 visits each


def test_shuffle_is_uniform_and_resumable():
    from symgd.methods.sgd import shuffle_upto
    # Successive forward Fisher-Yates shuffles of 4 items (each starting from the order
    # before) must hit each of the 24 orders equally often: chi-square with 23 degrees
    # of freedom, 62 being its 1e-6 upper quantile.
    rng = np.random.Generator(np.random.PCG64(11))
    perm = np.arange(4, dtype=np.int64)
    counts = {}
    for u in rng.random((24_000, 4)):
        if u[0] < 0.5:
            shuffle_upto(perm, u, 0, 4)
        else:  # in two parts, as the loop may: the same swaps
            shuffle_upto(perm, u, shuffle_upto(perm, u, 0, 2), 4)
        counts[tuple(perm)] = counts.get(tuple(perm), 0) + 1
    assert len(counts) == 24 and all(sorted(k) == [0, 1, 2, 3] for k in counts)
    chi2 = sum((c - 1000) ** 2 / 1000 for c in counts.values())
    assert chi2 < 62
    # the same uniforms give the same order, however the swaps are split
    u = rng.random(1000)
    a, b = np.arange(1000), np.arange(1000)
    shuffle_upto(a, u, 0, 1000)
    done = 0
    for stop in (1, 37, 38, 500, 999, 1000):
        done = shuffle_upto(b, u, done, stop)
    np.testing.assert_array_equal(a, b)
    assert sorted(a) == list(range(1000))


def test_prefetch_past_the_data_is_harmless():
    from symgd.methods.batchcall import prefetch_rows
    rows = np.zeros((3, 2))
    rows.setflags(write=False)
    # indices far outside the array: a prefetch is a hint and never faults
    prefetch_rows(rows, np.array([0, 2, 10 ** 12, -10 ** 12], dtype=np.int64), 0, 4)


def test_same_seed_bitwise_identical_however_chunked(fit):
    data, _ = fit
    a = sgd(data, seed=7, epochs=5)
    b = sgd(data, seed=7, epochs=5, chunk_steps=1)
    c = sgd(data, seed=7, epochs=5, chunk_steps=45)
    for r in (b, c):
        assert np.array_equal(a.x, r.x) and np.array_equal(a.history, r.history)
    d = sgd(data, seed=8, epochs=5)
    assert not np.array_equal(a.history, d.history) and not np.array_equal(a.x, d.x)


def test_start_given_by_the_caller_skips_a_pass_and_changes_nothing(fit):
    # The caller's own check of the start (F and grad F there, objective_scale times the
    # means) replaces the loop's first full-data pass: the same run, bit for bit.
    data, _ = fit
    rows = np.ascontiguousarray(data.T)
    o = {**SGD_OPTIONS, "seed": 4, "epochs": 3, "patience": 2}
    f0, g0 = full_pass(linear_mse.address, rows, np.zeros(3))
    a = run_sgd(linear_mse.address, rows, np.zeros(3), *FREE, o, None, None,
                objective_scale=N)
    b = run_sgd(linear_mse.address, rows, np.zeros(3), *FREE, o, None, None,
                objective_scale=N, start=(N * f0, N * g0))
    assert np.array_equal(a.x, b.x) and np.array_equal(a.full_history, b.full_history)
    assert a.f == b.f and a.status == b.status and a.evaluations == b.evaluations


def test_options_module_is_free_of_numba_and_sympy():
    # the method registry reads sgd's options from symgd.methods.sgd_options
    import subprocess
    import sys
    code = ("import sys; import symgd.methods.sgd_options as m; "
            "print(sorted({'numba', 'sympy'} & set(sys.modules)), m.SGD_OPTIONS['epochs'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    assert out == ["[]", "100"]


# -- schedules ---------------------------------------------------------------------------------

def lr_at(spec, t, lr=1.0):
    code, p0, p1, p2 = pack_schedule(spec, default_t_max=100.0)
    return learning_rate(code, float(t), lr, p0, p1, p2)


def test_schedule_values_by_hand():
    half = lambda u: 0.5 * (1 + math.cos(math.pi * u))  # noqa: E731
    cos = {"name": "cosine", "t_max": 100, "lr_min": 0.1}
    assert [lr_at(cos, t) for t in (0, 25, 50, 100, 150)] == pytest.approx(
        [1.0, 0.1 + 0.9 * half(0.25), 0.55, 0.1, 0.1], rel=1e-15)
    # SGDR: restarts after 10, then 20, then 40 steps (t = 10, 30, 70).
    sgdr = {"name": "sgdr", "t_0": 10, "t_mult": 2}
    assert [lr_at(sgdr, t) for t in (0, 9, 10, 20, 29, 30, 69, 70)] == pytest.approx(
        [1.0, half(0.9), 1.0, 0.5, half(19 / 20), 1.0, half(39 / 40), 1.0], rel=1e-14)
    tri = {"name": "triangular", "lr_min": 0.1, "step_size": 10}
    assert [lr_at(tri, t) for t in (0, 5, 10, 15, 20, 30)] == pytest.approx(
        [0.1, 0.55, 1.0, 0.55, 0.1, 1.0], rel=1e-14)
    tri2 = {**tri, "name": "triangular2"}
    assert [lr_at(tri2, t) for t in (10, 25, 30, 50)] == pytest.approx(
        [1.0, 0.325, 0.55, 0.325], rel=1e-14)


def test_schedule_runs_on_the_minibatch_step_counter(fit):
    data, _ = fit
    r = sgd(data, optimizer="sgd", learning_rate=0.05, epochs=4, batch_size=100,
            schedule={"name": "cosine", "lr_min": 0.01})
    # t_max defaults to all steps (4 epochs x 10); the last step of epoch k is t = 10 k - 1.
    t = np.arange(1, 5) * 10 - 1
    np.testing.assert_allclose(r.lr_history, 0.01 + 0.04 * 0.5 * (1 + np.cos(np.pi * t / 40)),
                               rtol=1e-14)


def test_plateau_schedule_halves_lr_after_patience_flat_epochs():
    data = np.zeros((10, 1))  # 10 samples of one column
    o = {**SGD_OPTIONS, "optimizer": "sgd", "learning_rate": 0.1, "batch_size": 5,
         "epochs": 8, "schedule": {"name": "plateau", "factor": 0.5, "patience": 2}}
    r = run_sgd(flat_loss.address, data, np.zeros(1), np.full(1, -np.inf),
                np.full(1, np.inf), o, None, None)
    # Epoch 1 sets the reference; epochs 2 and 3 do not improve: lr halves after epoch 3,
    # and again after epochs 4 and 5, and after 6 and 7.
    assert r.status == "max_iter"
    np.testing.assert_allclose(r.lr_history, 0.1 * np.array([1, 1, 1, .5, .5, .25, .25, .125]),
                               rtol=0, atol=0)
    # Each epoch has 2 steps of -lr * 1.
    assert r.x[0] == pytest.approx(-2 * 0.1 * (3 + 2 * .5 + 2 * .25 + .125), rel=1e-14)


# -- early stopping, averaging, failures --------------------------------------------------------

def test_early_stopping_restores_the_best_epoch(fit):
    data, _ = fit
    common = dict(optimizer="sgd", learning_rate=0.2, seed=11, min_delta=1e-3)
    r = sgd(data, epochs=200, patience=4, **common)
    assert r.status == "converged" and r.reason == R_PATIENCE and r.iterations < 200
    b = r.best_epoch  # the epoch whose end has the lowest loss over all the data
    assert b > 0 and r.full_history[b - 1] == r.full_history.min()
    # The parameters at the end of epoch b, from a run stopped there (same shuffles).
    at_b = sgd(data, epochs=b, **common)
    assert at_b.status == "max_iter" and np.array_equal(r.x, at_b.x)


def test_swa_is_the_mean_of_the_averaged_iterates(fit):
    data, _ = fit
    common = dict(optimizer="sgd", learning_rate=0.2, seed=5)
    r = sgd(data, epochs=8, swa_start=3, **common)
    iterates = [sgd(data, epochs=k, **common).x for k in range(3, 9)]
    assert r.swa_epochs == 6
    np.testing.assert_allclose(r.x, np.mean(iterates, axis=0), rtol=1e-13)
    assert not np.array_equal(r.x, iterates[-1])


def test_diverging_learning_rate_gives_diverged_with_finite_best(fit):
    data, _ = fit
    r = sgd(data, optimizer="sgd", learning_rate=50.0, epochs=20)
    assert r.status == "diverged" and r.reason == S.R_NONFINITE
    assert np.all(np.isfinite(r.x)) and r.suggested_learning_rate == 5.0


def test_rising_loss_gives_diverged_and_suggests_smaller_lr(fit):
    data, _ = fit
    # lr 1.02 on a Hessian ~2I: each step multiplies the error by ~|1 - 2 lr| ~ 1.04.
    r = sgd(data, optimizer="sgd", learning_rate=1.02, epochs=50, batch_size=200)
    assert r.status == "diverged" and r.reason == S.R_RISING, r.message
    assert "learning_rate 0.102" in r.message and np.all(np.isfinite(r.x))
    # three rising epochs in a row end the run; the first epoch may still fall a little,
    # depending on the shuffle, so the stop comes after epoch 3 or 4
    assert r.iterations in (3, 4) and r.best_epoch == 0 and np.array_equal(r.x, np.zeros(3))


def test_timeout_and_interrupt_return_best_point(fit):
    data, _ = fit
    r = sgd(data, epochs=10 ** 6, deadline=time.perf_counter() + 0.2)
    assert r.status == "timeout" and 0 < r.iterations < 10 ** 6
    assert np.all(np.isfinite(r.x)) and r.f < 0.1
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        r = sgd(data, epochs=10 ** 6)
    finally:
        timer.cancel()
    assert r.status == "interrupted" and r.f < 0.1


@pytest.mark.parametrize("key, value", [
    ("batch_size", 0), ("epochs", 1.5), ("learning_rate", -1.0), ("optimizer", "adamm"),
    ("momentum", 1.0), ("beta2", 1.5), ("eps", 0.0), ("patience", 0), ("swa_start", True),
    ("min_delta", -0.1), ("schedule", "cosin"), ("schedule", {"name": "plateau", "factor": 2}),
    ("bogus", 1)])
def test_bad_options_name_the_field(key, value):
    with pytest.raises(InputError) as err:
        check_sgd_options({**SGD_OPTIONS, key: value})
    assert err.value.field.startswith(f"options.{key}") and err.value.kind == "option"


def test_defaults_are_checked_and_known():
    o = check_sgd_options({})
    assert o["optimizer"] == "adam" and o["batch_size"] == 32 and o["patience"] is None
    assert set(CODES) >= {"cosine", "sgdr", "triangular", "triangular2", "plateau"}
