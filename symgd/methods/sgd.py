"""Minibatch stochastic gradient descent on data fits (SPEC §2, method ``sgd``).

Each epoch visits the samples in a fresh random order in minibatches of ``batch_size``
(the last one smaller when batch_size does not divide n). For each minibatch B the
problem's batch kernel (symgd.methods.batchcall) gives the mean loss L_B(theta) and its
gradient g_B; the optimizer (symgd.methods.optimizers) turns g_B into a step, which is
added and projected onto the bounds:  theta <- P(theta + step(g_B, lr_t)), with lr_t the
schedule (symgd.methods.schedules) at minibatch step t = 0, 1, ...

At each epoch's end, in this order:
    * the epoch loss is the sample-weighted mean of its minibatch losses,
      (1/n) sum_B |B| L_B, recorded in ``history``; non-finite: ``diverged``;
    * the full-data test of SPEC §2, the relative gradient
      max_i |g_i| max(|theta_i|, typical_x) / max(|F|, typical_f) <= tol, with F = scale *
      mean loss over all samples and g its projected gradient (``objective_scale``: 1
      for a mean loss, n for a sum), gives ``converged`` where F is no higher than at
      the start;
    * the epoch loss rising three epochs running while above the start's full-data
      loss: ``diverged`` (the message suggests learning_rate / 10); so does a
      non-finite loss, gradient or parameter at any step;
    * early stopping (``patience``): no epoch loss below (1 - min_delta) times the
      reference for ``patience`` epochs gives ``converged``, and the best parameters are
      restored (Prechelt, "Early stopping - but when?", 1998; Keras' EarlyStopping with
      restore_best_weights). The best parameters are those, among the start and every
      epoch's end, with the lowest loss over all the data (computed anyway for the
      gradient test, so "best" is exact, not a noisy minibatch average); they are also
      what 'diverged', 'timeout' and 'interrupted' report;
    * schedule ``plateau``: the same test with the schedule's own patience multiplies
      the learning rate by its factor (PyTorch's ReduceLROnPlateau, relative threshold
      min_delta, no cooldown);
    * stochastic weight averaging (``swa_start``): the parameters at the end of epochs
      swa_start, swa_start + 1, ... are averaged, w <- w + (theta - w) / (k + 1), and the
      average is the answer (Izmailov et al., "Averaging weights leads to wider optima and
      better generalization", UAI 2018).

The loop (:func:`sgd_loop`) is compiled once for all problems (explicit signature,
``cache=True``) and calls the kernel by address. It runs a bounded number of minibatch
steps per call, so Python checks the deadline and Ctrl-C about every 20 ms.

Shuffles: each epoch applies Durstenfeld's forward Fisher-Yates shuffle to the order
of the epoch before (the first starts from 0..n-1): for i = 0, ..., n-2 swap positions
i and j = i + floor(u_i (n - i)), with u_i uniform on [0, 1) (Knuth, TAOCP vol. 2,
Algorithm 3.4.2P; any start order gives a uniform permutation), in place at the
epoch's first step: one array of n indices serves the whole run. (Done instead a batch
ahead of use, each swap missed the cache once the data had streamed through it: 57-86
ms an epoch against 45-54 ms, 1e6 samples.) Each step asks for the next batch's
samples from memory (symgd.methods.batchcall.prefetch_rows) while this batch is
computed. The u_i come from ``numpy.random.Generator(PCG64(seed))`` in Python, one
row of n doubles per epoch drawn in order: the same seed gives bitwise the same run,
however the run is cut into calls (DESIGN.md, reproducibility); no seed means seed 0,
so runs are reproducible unless a seed is asked for.

Full-data passes (the gradient test) are symgd.methods.batchcall.mean_over_all.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from numba import njit, types

from symgd.errors import InputError, unknown_name_message
from symgd.kernel_types import ADDR, MAT, VEC
from symgd.methods import optimizers as O
from symgd.methods import status as S
from symgd.methods.batchcall import (DATA, FULL_BLOCK, IVEC, call_batch_kernel, full_pass,
                                     PREFETCH_SAMPLES, mean_over_all, prefetch,
                                     prefetch_rows)
from symgd.methods.common import (UNBOUNDED_F, all_finite, converged_test, copy_into, project,
                                  relative_gradient,
                                  projected_grad_norm)
from symgd.methods.driver import Outcome
from symgd.methods.option_checks import OPTIMIZER_OPTIONS, bad, check_optimizer, real, whole
from symgd.methods.optimizers import update
from symgd.methods.schedules import PLATEAU, learning_rate, pack_schedule

_JIT = dict(cache=True, error_model="numpy", nogil=True)

R_PATIENCE = 20  # stop reason: early stopping (no improvement for `patience` epochs)
RISE_LIMIT = 3   # epochs of rising loss above the start before 'diverged'
TARGET_CALL_S = 0.02
UNIFORM_BLOCK = 1 << 20  # uniforms per block of shuffles handed to the loop (8 MB)
SHUFFLE_AHEAD = 16    # swaps between asking for a partner's cache line and its use

# Rows of the work matrix W (length p each).
W_X, W_G, W_LO, W_HI, W_BEST, W_SWA, W_STEP, W_M, W_V = range(9)
N_W = 9
# Float parameters fpar, integer parameters ipar (filled by _pack).
F_LR, F_S0, F_S1, F_S2, F_MIN_DELTA, F_TOL, F_SCALE, F_TYP_X, F_TYP_F = range(9)
I_EPOCHS, I_STEPS, I_BATCH, I_OPT, I_SCHED, I_PATIENCE, I_SWA = range(7)
# Float state fs and integer state js.
X_ACC, X_BEST, X_REF, X_PREF, X_LRSCALE, X_PREV, X_F0, X_FULL, X_GNORM, X_RATE, X_RELG = range(11)
N_FS = 11
(J_INIT, J_EPOCH, J_POS, J_STEP, J_ROW, J_WAIT, J_PWAIT, J_RISES, J_NSWA, J_REASON,
 J_BEST_EPOCH, J_NFULL, J_SHUF, J_PF) = range(14)
N_JS = 14
# Rows of the history matrix: epoch loss, full-data loss at the epoch's end, last lr.
H_LOSS, H_FULL, H_LR = range(3)


@njit(**_JIT)
def _full_check(addr, data, block, x, g, lo, hi, fpar, fs, js):
    """Mean loss and gradient over all samples (in sample order) and the test of
    SPEC §2 on F = scale * mean: the relative gradient of F (common.relative_gradient)
    at most tol, at a loss no higher than the start's."""
    f = mean_over_all(addr, data, block, x, g)
    js[J_NFULL] += 1
    fs[X_FULL] = f
    if not (math.isfinite(f) and all_finite(g)):
        js[J_REASON] = S.R_NONFINITE
        return S.DIVERGED
    sc = fpar[F_SCALE]
    fs[X_GNORM] = sc * projected_grad_norm(x, g, lo, hi)
    # Never 'converged' above the starting loss: at |f| ~ 1e128 the scale-free test
    # passes on the way to overflow.
    fs[X_RELG] = sc * relative_gradient(x, g, lo, hi, sc * f, fpar[F_TYP_X], fpar[F_TYP_F])
    if converged_test(fs[X_RELG], fpar[F_TOL]) and not f > fs[X_F0]:
        js[J_REASON] = S.R_GRAD
        return S.CONVERGED
    return S.RUNNING


@njit(**_JIT)
def _improved(loss, ref, min_delta):
    """loss < ref - min_delta |ref| (the first finite loss always improves on +inf)."""
    return ref == math.inf or loss < ref - min_delta * abs(ref)


@njit(**_JIT)
def _end_epoch(addr, data, block, W, fpar, ipar, fs, js, hist):
    """Bookkeeping at an epoch's end (module docstring, in that order)."""
    n = data.shape[0]
    x = W[W_X]
    e = js[J_EPOCH]
    loss = fs[X_ACC] / n
    fs[X_ACC] = 0.0
    hist[H_LOSS, e] = loss
    hist[H_LR, e] = fs[X_RATE]
    js[J_EPOCH] = e + 1
    js[J_POS] = 0
    js[J_SHUF] = 0
    js[J_PF] = 0
    js[J_ROW] += 1
    if not math.isfinite(loss):
        js[J_REASON] = S.R_NONFINITE
        return S.DIVERGED
    if ipar[I_SWA] > 0 and e + 1 >= ipar[I_SWA]:
        k = js[J_NSWA]
        swa = W[W_SWA]
        for i in range(x.size):
            swa[i] += (x[i] - swa[i]) / (k + 1.0)
        js[J_NSWA] = k + 1
    st = _full_check(addr, data, block, x, W[W_G], W[W_LO], W[W_HI], fpar, fs, js)
    hist[H_FULL, e] = fs[X_FULL]
    if fs[X_FULL] < fs[X_BEST]:  # the best parameters: lowest loss over all the data
        fs[X_BEST] = fs[X_FULL]
        copy_into(W[W_BEST], x)
        js[J_BEST_EPOCH] = e + 1
    if st != S.RUNNING:
        return st
    if loss < UNBOUNDED_F:
        js[J_REASON] = S.R_UNBOUNDED
        return S.UNBOUNDED
    if loss > fs[X_PREV] and loss > fs[X_F0]:
        js[J_RISES] += 1
        if js[J_RISES] >= RISE_LIMIT:
            js[J_REASON] = S.R_RISING
            return S.DIVERGED
    else:
        js[J_RISES] = 0
    fs[X_PREV] = loss
    min_delta = fpar[F_MIN_DELTA]
    if _improved(loss, fs[X_REF], min_delta):
        fs[X_REF] = loss
        js[J_WAIT] = 0
    else:
        js[J_WAIT] += 1
        if ipar[I_PATIENCE] > 0 and js[J_WAIT] >= ipar[I_PATIENCE]:
            js[J_REASON] = R_PATIENCE
            return S.CONVERGED
    if ipar[I_SCHED] == PLATEAU:
        if _improved(loss, fs[X_PREF], min_delta):
            fs[X_PREF] = loss
            js[J_PWAIT] = 0
        else:
            js[J_PWAIT] += 1
            if js[J_PWAIT] >= fpar[F_S1]:
                fs[X_LRSCALE] *= fpar[F_S0]
                js[J_PWAIT] = 0
    return S.RUNNING


@njit(**_JIT)
def shuffle_upto(perm, u, done, upto):
    """Forward Fisher-Yates steps for positions done..upto-1 of perm (module
    docstring): swap i and i + floor(u[i] (n - i)). Positions below ``upto`` are then
    final for this epoch; returns upto. The partner of swap i + SHUFFLE_AHEAD is asked
    for from memory at swap i (an epoch's data has pushed perm out of the cache): 1e6
    indices after a pass over the data took 3.5 ms with it, 4.5 ms without."""
    n = perm.size
    stop = min(upto, n - 1)
    for i in range(done, stop):
        k = i + SHUFFLE_AHEAD  # partners depend on u alone: ask for a later one's now
        if k < stop:
            prefetch(perm, (k + int(u[k] * (n - k))) * 8)
        j = i + int(u[i] * (n - i))
        if j >= n:  # u < 1 keeps j <= n - 1; guard against rounding all the same
            j = n - 1
        t = perm[i]
        perm[i] = perm[j]
        perm[j] = t
    return upto


@njit(types.int64(ADDR, DATA, MAT, IVEC, IVEC, MAT, VEC, VEC, VEC, IVEC, IVEC, MAT), **_JIT)
def sgd_loop(addr, data, U, perm, block, W, fpar, hyper, fs, ipar, js, hist):
    """Run up to ipar[I_STEPS] minibatch steps; return a status code (S.RUNNING: call
    again; with js[J_ROW] == U.shape[0] it needs the next block of uniforms).

    Args:
        addr: the batch kernel's address (symgd.methods.batchcall).
        data: (n, n_columns) float64, C-contiguous: the samples by row
            (symgd.methods.batchcall).
        U: uniforms on [0, 1), one row of n per epoch; js[J_ROW] is the current epoch's.
        perm: the sample order, shuffled in place as the epoch goes (module docstring).
        block: 0..B-1 (the full-data passes).
        W: rows W_* (parameters, gradient, bounds, best, SWA average, step, state).
        fpar, ipar: parameters F_*, I_*; hyper: the optimizer's (optimizers.H_*).
        fs, js: state X_*, J_*, kept between calls.
        hist: (3, epochs) loss, full-data loss and learning rate per epoch.
    """
    n, stride = data.shape[0], data.shape[1]
    x, g, lo, hi, step = W[W_X], W[W_G], W[W_LO], W[W_HI], W[W_STEP]
    state = W[W_M:W_V + 1]
    if js[J_INIT] == 0:
        js[J_INIT] = 1
        st = _full_check(addr, data, block, x, g, lo, hi, fpar, fs, js)
        fs[X_F0] = fs[X_FULL]
        fs[X_PREV] = fs[X_FULL]
        fs[X_BEST] = fs[X_FULL] if math.isfinite(fs[X_FULL]) else math.inf
        if st != S.RUNNING:
            return st
    bs, opt, code = ipar[I_BATCH], ipar[I_OPT], ipar[I_SCHED]
    # two batches ahead, at least 64 samples (64-96 measured best for batch 32)
    ahead = min(max(2 * bs, 64), PREFETCH_SAMPLES)
    lr, s0, s1, s2 = fpar[F_LR], fpar[F_S0], fpar[F_S1], fpar[F_S2]
    for _ in range(ipar[I_STEPS]):
        if js[J_EPOCH] >= ipar[I_EPOCHS]:
            js[J_REASON] = S.R_MAXITER
            return S.MAX_ITER
        if js[J_ROW] >= U.shape[0]:
            return S.RUNNING
        pos = js[J_POS]
        m = min(bs, n - pos)
        t = js[J_STEP]
        if code == PLATEAU:
            rate = lr * fs[X_LRSCALE]
        else:
            rate = learning_rate(code, float(t), lr, s0, s1, s2)
        fs[X_RATE] = rate
        if js[J_SHUF] == 0:  # the epoch's order
            js[J_SHUF] = shuffle_upto(perm, U[js[J_ROW]], 0, n)
        # ask for the samples up to `ahead` past this batch, each once
        start = max(js[J_PF], pos + m)
        js[J_PF] = min(pos + m + ahead, n)
        prefetch_rows(data, perm, start, js[J_PF])
        fb = call_batch_kernel(addr, x, data, stride, perm[pos:], m, g)
        if not (math.isfinite(fb) and all_finite(g)):
            js[J_REASON] = S.R_NONFINITE
            return S.DIVERGED
        update(opt, g, state, x, rate, t + 1.0, hyper, step)
        for i in range(x.size):
            x[i] += step[i]
        project(x, lo, hi)
        if not all_finite(x):
            js[J_REASON] = S.R_NONFINITE
            return S.DIVERGED
        fs[X_ACC] += fb * m
        js[J_STEP] = t + 1
        js[J_POS] = pos + m
        if pos + m >= n:
            st = _end_epoch(addr, data, block, W, fpar, ipar, fs, js, hist)
            if st != S.RUNNING:
                return st
    if js[J_EPOCH] >= ipar[I_EPOCHS]:
        js[J_REASON] = S.R_MAXITER
        return S.MAX_ITER
    return S.RUNNING


# -- options ------------------------------------------------------------------------------

SGD_OPTIONS = {"batch_size": 32, "epochs": 100, "learning_rate": 0.01, "optimizer": "adam",
               **OPTIMIZER_OPTIONS, "schedule": "constant", "patience": None,
               "min_delta": 1e-4, "swa_start": None}
"""Options of ``sgd`` beyond the common ones, with their defaults. ``eps`` None: 1e-10
for adagrad, 1e-8 otherwise; ``decay``: RMSProp's rho; ``momentum``: momentum and
nesterov; ``beta1``, ``beta2``: adam and adamw; ``weight_decay``: adamw only;
``patience`` None: no early stopping; ``swa_start`` None: no weight averaging;
``min_delta``: relative improvement for patience and the plateau schedule."""


def check_sgd_options(opts: dict) -> dict:
    """A checked copy of ``opts`` (SGD_OPTIONS and the common options filled in).

    Raises symgd.errors.InputError(field="options.<name>", kind="option") naming what
    is wrong. Keys starting with '_' are private to the caller and passed through.
    """
    from symgd.methods import COMMON_OPTIONS

    valid = {**COMMON_OPTIONS, **SGD_OPTIONS}
    for key in opts:
        if key not in valid and not str(key).startswith("_"):
            bad(key, unknown_name_message("option for method 'sgd'", key, valid))
    o = {**valid, **opts}
    whole(o, "batch_size")
    whole(o, "epochs")
    whole(o, "max_iter", none_ok=True)
    whole(o, "patience", none_ok=True)
    whole(o, "swa_start", none_ok=True)
    whole(o, "seed", none_ok=True, least=0)
    real(o, "learning_rate", lo=0.0, lo_closed=False)
    real(o, "tol", lo=0.0, lo_closed=False)
    real(o, "typical_x", lo=0.0, lo_closed=False)
    real(o, "typical_f", lo=0.0, lo_closed=False)
    real(o, "min_delta", lo=0.0, hi=1.0, hi_closed=False)
    real(o, "time_limit", lo=0.0, lo_closed=False, none_ok=True)
    check_optimizer(o)
    if o.get("device", "cpu") != "cpu":
        raise InputError("method 'sgd' runs on device 'cpu' only (cuda is planned)",
                         field="options.device", kind="unavailable")
    pack_schedule(o["schedule"], default_t_max=1.0)
    return o


def _pack(o: dict, n: int, scale: float):
    """(fpar, ipar, hyper) for :func:`sgd_loop` from checked options."""
    epochs = o["epochs"] if o["max_iter"] is None else min(o["epochs"], o["max_iter"])
    bs = min(o["batch_size"], n)
    total_steps = epochs * (-(-n // bs))
    code, s0, s1, s2 = pack_schedule(o["schedule"], default_t_max=float(total_steps))
    fpar = np.array([o["learning_rate"], s0, s1, s2, o["min_delta"], o["tol"], scale,
                     o["typical_x"], o["typical_f"]])
    ipar = np.array([epochs, 64, bs, O.CODES[o["optimizer"]], code, o["patience"] or 0,
                     o["swa_start"] or 0], dtype=np.int64)
    hyper = O.hyper_array(o["optimizer"], momentum=o["momentum"], beta1=o["beta1"],
                          beta2=o["beta2"], eps=o["eps"], weight_decay=o["weight_decay"],
                          decay=o["decay"])
    return fpar, ipar, hyper


# -- the driver ---------------------------------------------------------------------------

@dataclass
class SGDOutcome(Outcome):
    """An Outcome (symgd.methods.driver) with what SGD adds.

    ``iterations`` counts completed epochs; ``evaluations`` = {"f", "grad": full-data
    passes, "hess": 0, "batch": minibatch steps}. ``f``, ``g`` and ``grad_norm`` are the
    objective (``full_loss`` when given, else scale * mean loss), its gradient (scale *
    mean gradient) and the projected gradient norm at ``x``, over all the data.
    """

    history: np.ndarray = field(default_factory=lambda: np.empty(0))
    """mean minibatch loss of each completed epoch (what early stopping watches)"""
    full_history: np.ndarray = field(default_factory=lambda: np.empty(0))
    """mean loss over all samples at each epoch's end (the kernel's mean, unscaled)"""
    lr_history: np.ndarray = field(default_factory=lambda: np.empty(0))
    """learning rate of each epoch's last minibatch step"""
    steps: int = 0
    best_epoch: int = 0          # epoch (1-based) with the lowest loss; 0: none finished
    swa_epochs: int = 0          # epochs averaged into x (0: no averaging)
    message: str = ""
    suggested_learning_rate: float | None = None


class _Uniforms:
    """The shuffles' uniforms: one row of n doubles on [0, 1) per epoch, drawn in order
    from Generator(PCG64(seed)) and handed out in blocks of whole epochs (at most
    UNIFORM_BLOCK numbers, at least one epoch), so epoch e's row depends on the seed and e
    alone. 53 random bits each: the bias of floor(u (n - i)) is below 2^-33 for
    n <= 2^20 (Durstenfeld, CACM 7(7), 1964)."""

    def __init__(self, seed: int, n: int, epochs: int):
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.n = n
        self.left = epochs

    def next(self) -> np.ndarray:
        k = min(self.left, max(1, UNIFORM_BLOCK // self.n))
        self.left -= k
        return self.rng.random((k, self.n))


def _choose(status, reason, W, js, theta0, mean_loss):
    """(parameters to report, which: "current", "best" or "swa")."""
    x_cur = W[W_X].copy()
    best = W[W_BEST].copy() if js[J_BEST_EPOCH] > 0 else theta0.copy()
    swa = W[W_SWA].copy() if js[J_NSWA] > 0 else None
    if status == "converged" and reason == S.R_GRAD:
        return x_cur, "current"
    if swa is not None and status in ("converged", "max_iter", "timeout", "interrupted"):
        return swa, "swa"
    if status == "converged":
        return best, "best"
    if status == "max_iter":
        return x_cur, "current"
    if status == "diverged":
        return best, "best"
    if status == "unbounded":
        return (x_cur, "current") if all_finite(x_cur) else (best, "best")
    # timeout / interrupted: the better of the best epoch (or the start) and now.
    if all_finite(x_cur) and mean_loss(x_cur) <= mean_loss(best):
        return x_cur, "current"
    return best, "best"


def _message(status, reason, o, js, fs, gnorm, which, lr):
    e, b, tol = int(js[J_EPOCH]), int(js[J_BEST_EPOCH]), o["tol"]
    avg = f" x is the average of the last {int(js[J_NSWA])} epochs (SWA)." if which == "swa" else ""
    if status == "converged" and reason == S.R_GRAD:
        return (f"full-data relative gradient {fs[X_RELG]:.3g} <= tol {tol:g} "
                + (f"at the end of epoch {e}" if e else "at the start"))
    if status == "converged":
        kept = avg or (f" restored {f'epoch {b}' if b else 'the start'} (full-data loss "
                       f"{fs[X_BEST]:.6g}).")
        return (f"early stopping: the epoch loss did not improve by more than min_delta "
                f"{o['min_delta']:g} (relative) for {o['patience']} epochs;" + kept)
    if status == "max_iter":
        return (f"ran all {e} epochs (full-data gradient norm {gnorm:.3g}, tol {tol:g}); "
                "raise epochs, or set patience to stop when the loss levels off." + avg)
    where = f"epoch {b}'s parameters" if b else "the start"
    if status == "diverged" and reason == S.R_RISING:
        return (f"the epoch loss kept rising above its starting value under learning_rate "
                f"{lr:g}; x is {where}; try learning_rate {lr / 10:g}")
    if status == "diverged":
        return (f"the loss, its gradient or the parameters became non-finite in epoch "
                f"{e + 1}; x is {where} (the best finite); try learning_rate {lr / 10:g}, "
                "or bounds that keep the parameters in the model's domain")
    if status == "unbounded":
        return "the loss fell below -1e150: the objective has no finite minimum; add bounds"
    what = "time_limit reached" if status == "timeout" else "interrupted by the user"
    return f"{what} after {e} epochs; x is the best point seen.{avg}"


def run_sgd(batch_kernel_address: int, data: np.ndarray, theta0: np.ndarray,
            lower: np.ndarray, upper: np.ndarray, options: dict, deadline: float | None,
            full_loss=None, *, objective_scale: float = 1.0,
            chunk_steps: int | None = None) -> SGDOutcome:
    """Minibatch SGD from theta0 (module docstring); failures are statuses, never raised.

    Args:
        batch_kernel_address: address of the fit's batch kernel (symgd.methods.batchcall).
        data: (n_samples, n_columns) float64 array, the samples by row
            (Dataset.rows(); symgd.methods.batchcall says why).
        theta0, lower, upper: start and bounds (-inf / inf where free); theta0 in the box.
        options: SGD_OPTIONS and the common options (checked again here).
        deadline: absolute time.perf_counter() to stop at (status 'timeout'), or None.
        full_loss: optional callable theta -> the user's objective over all data (for
            ``f``); otherwise f = objective_scale * the kernel's mean loss.
        objective_scale: the minimised objective is objective_scale times the kernel's
            mean loss (1 for mean losses, n for sums); used by the gradient test.
        chunk_steps: minibatch steps per compiled call (tests); default adaptive (~20 ms).

    ``options["_progress"]``, if given, is called between calls as progress(epochs,
    F at the last epoch's end, its gradient norm); ``options["time_limit"]`` counts
    from this call when no deadline is given.

    Returns:
        SGDOutcome, with the per-epoch ``history``.
    """
    t0 = time.perf_counter()
    o = check_sgd_options(dict(options))
    addr = int(batch_kernel_address)
    data = np.ascontiguousarray(data, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] < 1:
        raise InputError(f"expected data of shape (n_samples >= 1, n_columns), got "
                         f"{data.shape}", field="data", kind="data")
    n = data.shape[0]
    theta0 = np.array(theta0, dtype=np.float64).ravel()
    p = theta0.size
    scale = float(objective_scale)
    fpar, ipar, hyper = _pack(o, n, scale)
    W = np.zeros((N_W, p))
    W[W_X], W[W_BEST], W[W_LO], W[W_HI] = theta0, theta0, lower, upper
    fs = np.zeros(N_FS)
    fs[[X_BEST, X_REF, X_PREF, X_F0]] = math.inf
    fs[X_LRSCALE] = 1.0
    js = np.zeros(N_JS, dtype=np.int64)
    hist = np.full((3, int(ipar[I_EPOCHS])), np.nan)
    perm = np.arange(n, dtype=np.int64)
    block = np.arange(min(n, FULL_BLOCK), dtype=np.int64)
    uniforms = _Uniforms(0 if o["seed"] is None else o["seed"], n, int(ipar[I_EPOCHS]))
    U = uniforms.next()
    call = _entry()
    ipar[I_STEPS] = chunk_steps or 64
    if deadline is None and o["time_limit"] is not None:
        deadline = t0 + o["time_limit"]
    progress = o.get("_progress")
    stopped, code = None, S.RUNNING
    try:
        while True:
            tc, steps_before = time.perf_counter(), js[J_STEP]
            code = int(call(addr, data, U, perm, block, W, fpar, hyper, fs, ipar, js, hist))
            if code != S.RUNNING:
                break
            if js[J_ROW] >= U.shape[0]:
                U, js[J_ROW] = uniforms.next(), 0
            if progress is not None:
                progress(int(js[J_EPOCH]), scale * float(fs[X_FULL]), float(fs[X_GNORM]))
            now = time.perf_counter()
            if deadline is not None and now >= deadline:
                stopped = "timeout"
                break
            if chunk_steps is None:
                per_step = max(now - tc, 1e-7) / max(js[J_STEP] - steps_before, 1)
                steps = TARGET_CALL_S / per_step
                if deadline is not None:
                    steps = min(steps, (deadline - now) / per_step + 1)
                ipar[I_STEPS] = int(min(max(steps, 1), 1 << 40))
    except KeyboardInterrupt:
        stopped = "interrupted"
    status = stopped or S.NAMES[code]
    reason = int(js[J_REASON])

    passes = [int(js[J_NFULL])]

    def pass_at(th):
        passes[0] += 1
        return full_pass(addr, data, th)

    def mean_loss(th):
        f = pass_at(th)[0]
        return f if math.isfinite(f) else math.inf

    x, which = _choose(status, reason, W, js, theta0, mean_loss)
    lo, hi = W[W_LO], W[W_HI]
    e = int(js[J_EPOCH])
    # The loop ends right after an epoch's full-data pass when it converges on the
    # gradient test or runs out of epochs: its loss and gradient at x are known.
    if which == "current" and reason in (S.R_MAXITER, S.R_GRAD) and status != "timeout":
        fm, gm = float(fs[X_FULL]), W[W_G].copy()
    else:
        fm, gm = pass_at(x)
    g = scale * gm
    f = float(full_loss(x)) if full_loss is not None else scale * fm
    gnorm = float(projected_grad_norm(x, g, lo, hi)) if all_finite(g) else math.nan
    lr = float(o["learning_rate"])
    return SGDOutcome(
        status=status, reason=reason, x=x, f=f, grad_norm=gnorm, g=g, iterations=e,
        evaluations={"f": passes[0], "grad": passes[0], "hess": 0,
                     "batch": int(js[J_STEP])},
        time_s=time.perf_counter() - t0, last_step=float(fs[X_RATE]),
        history=hist[H_LOSS, :e].copy(), full_history=hist[H_FULL, :e].copy(),
        lr_history=hist[H_LR, :e].copy(), steps=int(js[J_STEP]),
        best_epoch=int(js[J_BEST_EPOCH]),
        swa_epochs=int(js[J_NSWA]) if which == "swa" else 0,
        message=_message(status, reason, o, js, fs, gnorm, which, lr),
        suggested_learning_rate=lr / 10 if status == "diverged" else None)


def _entry():
    from symgd.compile.fastcall import entry_point

    return entry_point(sgd_loop)
