"""The compiled loop of minibatch SGD (SPEC §2, method ``sgd``; run by symgd.methods.sgd).

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
    * with a validation split (option ``validation``: the driver holds out that
      fraction of the samples, and the loop trains on the rest), the mean loss over the
      held-out samples, recorded per epoch; it is then the loss early stopping, the
      plateau schedule and "best" watch (Keras' EarlyStopping on val_loss);
    * early stopping (``patience``): no epoch loss (validation loss, with a split)
      below (1 - min_delta) times the reference for ``patience`` epochs gives
      ``converged``, and the best parameters are restored (Prechelt, "Early stopping -
      but when?", 1998; Keras' EarlyStopping with restore_best_weights). The best
      parameters are those, among the start and every epoch's end, with the lowest loss
      over all the (training) data, computed anyway for the gradient test, so "best" is
      exact, not a noisy minibatch average; with a split, the lowest validation loss.
      They are also what 'diverged', 'timeout' and 'interrupted' report;
    * schedule ``plateau``: the same test with the schedule's own patience multiplies
      the learning rate by its factor (PyTorch's ReduceLROnPlateau, relative threshold
      min_delta, no cooldown);
    * stochastic weight averaging (``swa_start``): the parameters at the end of epochs
      swa_start, swa_start + 1, ... are averaged, w <- w + (theta - w) / (k + 1), and the
      average is the answer (Izmailov et al., "Averaging weights leads to wider optima and
      better generalization", UAI 2018).

The loop (:func:`sgd_loop`) is compiled once for all problems (explicit signature,
``cache=True``) and calls the kernel by address. It runs a bounded number of minibatch
steps per call, so its driver (symgd.methods.sgd) checks the deadline and Ctrl-C
about every 20 ms between calls.

Shuffles: each epoch applies Durstenfeld's forward Fisher-Yates shuffle to the order
of the epoch before (the first starts from 0..n-1): for i = 0, ..., n-2 swap positions
i and j = i + floor(u_i (n - i)), with u_i uniform on [0, 1) (Knuth, TAOCP vol. 2,
Algorithm 3.4.2P; any start order gives a uniform permutation), in place at the
epoch's first step: one array of n indices serves the whole run. (Done instead a batch
ahead of use, each swap missed the cache once the data had streamed through it: 57-86
ms an epoch against 45-54 ms, 1e6 samples.) Each step asks for the next batch's
samples from memory (symgd.methods.batchcall.prefetch_rows) while this batch is
computed. The u_i come from ``numpy.random.Generator(PCG64(seed))`` in the driver, one
row of n doubles per epoch drawn in order: the same seed gives bitwise the same run,
however the run is cut into calls (DESIGN.md, reproducibility); no seed means seed 0,
so runs are reproducible unless a seed is asked for.

Full-data passes (the gradient test) are symgd.methods.batchcall.mean_over_all; the
one at the start is skipped when the caller has made it already (``I_START``).

Segment mode (``I_SEGMENT``), for data that are not in one process (symgd.dask.sgd):
the loop runs the minibatch steps over the one block it is given, in the order its
uniforms give, and returns SEGMENT_END when the block is used up, leaving the optimizer
state (W, the step counter, the epoch's loss sum fs[X_ACC]) for the next block. The
driver then makes the full-data pass itself and runs the start and epoch-end rules
above through :func:`bookkeeping`, the very functions this loop runs in memory.
"""
from __future__ import annotations

import math

from numba import njit, types

from symgd.kernel_types import ADDR, MAT, VEC
from symgd.methods import status as S
from symgd.methods.batchcall import (DATA, IVEC, PREFETCH_SAMPLES, call_batch_kernel,
                                     mean_over_all, prefetch, prefetch_rows)
from symgd.methods.common import (UNBOUNDED_F, all_finite, converged_test, copy_into, project,
                                  projected_grad_norm, relative_gradient)
from symgd.methods.optimizers import update
from symgd.methods.schedules import PLATEAU, learning_rate

_JIT = dict(cache=True, error_model="numpy", nogil=True)

R_PATIENCE = 20  # stop reason: early stopping (no improvement for `patience` epochs)
RISE_LIMIT = 3   # epochs of rising loss above the start before 'diverged'
SHUFFLE_AHEAD = 16    # swaps between asking for a partner's cache line and its use

# Rows of the work matrix W (length p each); W_GV: scratch for the validation gradient.
W_X, W_G, W_LO, W_HI, W_BEST, W_SWA, W_STEP, W_M, W_V, W_GV = range(10)
N_W = 10
# Float parameters fpar, integer parameters ipar (filled by symgd.methods.sgd._pack).
F_LR, F_S0, F_S1, F_S2, F_MIN_DELTA, F_TOL, F_SCALE, F_TYP_X, F_TYP_F = range(9)
I_EPOCHS, I_STEPS, I_BATCH, I_OPT, I_SCHED, I_PATIENCE, I_SWA, I_START, I_SEGMENT = range(9)
N_IPAR = 9
# Float state fs and integer state js.
X_ACC, X_BEST, X_REF, X_PREF, X_LRSCALE, X_PREV, X_F0, X_FULL, X_GNORM, X_RATE, X_RELG = range(11)
N_FS = 11
(J_INIT, J_EPOCH, J_POS, J_STEP, J_ROW, J_WAIT, J_PWAIT, J_RISES, J_NSWA, J_REASON,
 J_BEST_EPOCH, J_NFULL, J_SHUF, J_PF) = range(14)
N_JS = 14
# Rows of the history matrix: epoch loss, full-data loss at the epoch's end, last lr,
# validation loss at the epoch's end (nan without a split).
H_LOSS, H_FULL, H_LR, H_VAL = range(4)
N_H = 4
# Segment mode (ipar[I_SEGMENT] != 0): what sgd_loop returns when its block is used up
# (not a status: the epoch goes on in the next block), and the stages of bookkeeping.
SEGMENT_END = 100
BK_BEGIN, BK_CLOSE, BK_JUDGE = range(3)


@njit(**_JIT)
def _full_check(addr, data, block, x, g, lo, hi, fpar, fs, js):
    """Mean loss and gradient over all samples (in sample order) and the test of
    SPEC §2 on them (:func:`_full_test`)."""
    fs[X_FULL] = mean_over_all(addr, data, block, x, g)
    return _full_test(x, g, lo, hi, fpar, fs, js)


@njit(**_JIT)
def _full_test(x, g, lo, hi, fpar, fs, js):
    """The test of SPEC §2 on F = scale * mean, with the full-data mean loss in
    fs[X_FULL] and its gradient in g: the relative gradient of F
    (common.relative_gradient) at most tol, at a loss no higher than the start's."""
    f = fs[X_FULL]
    js[J_NFULL] += 1
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
def _begin(W, fpar, fs, js):
    """The start's bookkeeping, with its full-data mean loss in fs[X_FULL] and mean
    gradient in W[W_G]: the test of SPEC §2 there (:func:`_full_test`), and the start's
    loss as the reference of 'converged' (never above it), of 'diverged' (rising above
    it) and as the first "best"."""
    js[J_INIT] = 1
    st = _full_test(W[W_X], W[W_G], W[W_LO], W[W_HI], fpar, fs, js)
    fs[X_F0] = fs[X_FULL]
    fs[X_PREV] = fs[X_FULL]
    fs[X_BEST] = fs[X_FULL] if math.isfinite(fs[X_FULL]) else math.inf
    return st


@njit(**_JIT)
def _close_epoch(W, ipar, fs, js, hist, n):
    """An epoch's end, the part before its full-data pass: the epoch loss (1/n) sum_B
    |B| L_B into hist (non-finite: ``diverged``), the counters of the next epoch, and
    the SWA average. Returns S.RUNNING or S.DIVERGED."""
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
    return S.RUNNING


@njit(**_JIT)
def _judge_epoch(W, fpar, ipar, fs, js, hist, st, watched, best):
    """An epoch's end, the part after its full-data pass (whose loss is in fs[X_FULL]
    and test result in ``st``): the best parameters by ``best``, then (while running)
    unbounded, the rising-loss rule, early stopping and the plateau schedule on
    ``watched`` (module docstring, in that order)."""
    x = W[W_X]
    e = js[J_EPOCH] - 1
    loss = hist[H_LOSS, e]
    hist[H_FULL, e] = fs[X_FULL]
    if best < fs[X_BEST]:  # the best parameters: lowest (validation) loss, all its data
        fs[X_BEST] = best
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
    if _improved(watched, fs[X_REF], min_delta):
        fs[X_REF] = watched
        js[J_WAIT] = 0
    else:
        js[J_WAIT] += 1
        if ipar[I_PATIENCE] > 0 and js[J_WAIT] >= ipar[I_PATIENCE]:
            js[J_REASON] = R_PATIENCE
            return S.CONVERGED
    if ipar[I_SCHED] == PLATEAU:
        if _improved(watched, fs[X_PREF], min_delta):
            fs[X_PREF] = watched
            js[J_PWAIT] = 0
        else:
            js[J_PWAIT] += 1
            if js[J_PWAIT] >= fpar[F_S1]:
                fs[X_LRSCALE] *= fpar[F_S0]
                js[J_PWAIT] = 0
    return S.RUNNING


@njit(**_JIT)
def _end_epoch(addr, data, vdata, block, W, fpar, ipar, fs, js, hist):
    """Bookkeeping at an epoch's end (module docstring, in that order)."""
    st = _close_epoch(W, ipar, fs, js, hist, data.shape[0])
    if st != S.RUNNING:
        return st
    x = W[W_X]
    st = _full_check(addr, data, block, x, W[W_G], W[W_LO], W[W_HI], fpar, fs, js)
    e = js[J_EPOCH] - 1
    watched, best = hist[H_LOSS, e], fs[X_FULL]
    if vdata.shape[0] > 0:  # a validation split: its loss is the one watched
        watched = mean_over_all(addr, vdata, block, x, W[W_GV])
        best = watched
        hist[H_VAL, e] = watched
        if not math.isfinite(watched) and st == S.RUNNING:
            js[J_REASON] = S.R_NONFINITE
            st = S.DIVERGED
    return _judge_epoch(W, fpar, ipar, fs, js, hist, st, watched, best)


@njit(types.int64(MAT, VEC, IVEC, VEC, IVEC, MAT, types.int64, types.int64), **_JIT)
def bookkeeping(W, fpar, ipar, fs, js, hist, n, stage):
    """The loop's own start and epoch-end rules, for a driver that makes the full-data
    passes itself (symgd.dask.sgd, whose passes run on a cluster) and runs the
    minibatch steps in segment mode (``ipar[I_SEGMENT]``). ``stage``:

        BK_BEGIN: the start (:func:`_begin`), its mean loss in fs[X_FULL] and mean
            gradient in W[W_G];
        BK_CLOSE: the epoch's end up to its full-data pass (:func:`_close_epoch`;
            ``n`` samples in the epoch);
        BK_JUDGE: the rest, the pass's mean loss in fs[X_FULL] and mean gradient in
            W[W_G] (:func:`_full_test`, then :func:`_judge_epoch`; no validation split).

    Returns a status code (S.*). The same functions as :func:`sgd_loop`'s, so both
    drivers follow one set of rules."""
    if stage == BK_BEGIN:
        return _begin(W, fpar, fs, js)
    if stage == BK_CLOSE:
        return _close_epoch(W, ipar, fs, js, hist, n)
    st = _full_test(W[W_X], W[W_G], W[W_LO], W[W_HI], fpar, fs, js)
    return _judge_epoch(W, fpar, ipar, fs, js, hist, st, hist[H_LOSS, js[J_EPOCH] - 1],
                        fs[X_FULL])


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


@njit(types.int64(ADDR, DATA, DATA, MAT, IVEC, IVEC, MAT, VEC, VEC, VEC, IVEC, IVEC, MAT),
      **_JIT)
def sgd_loop(addr, data, vdata, U, perm, block, W, fpar, hyper, fs, ipar, js, hist):
    """Run up to ipar[I_STEPS] minibatch steps; return a status code (S.RUNNING: call
    again; with js[J_ROW] == U.shape[0] it needs the next block of uniforms).

    Args:
        addr: the batch kernel's address (symgd.methods.batchcall).
        data: (n, n_columns) float64, C-contiguous: the samples by row
            (symgd.methods.batchcall).
        vdata: the held-out validation samples, laid out as data (0 rows: no split).
        U: uniforms on [0, 1), one row of n per epoch; js[J_ROW] is the current epoch's.
        perm: the sample order, shuffled in place as the epoch goes (module docstring).
        block: 0..B-1 (the full-data passes).
        W: rows W_* (parameters, gradient, bounds, best, SWA average, step, state).
        fpar, ipar: parameters F_*, I_*; hyper: the optimizer's (optimizers.H_*).
            ipar[I_START] != 0: the first call takes the start's full-data mean loss
            from fs[X_FULL] and its mean gradient from W[W_G] instead of a pass.
            ipar[I_SEGMENT] != 0: ``data`` is one block of the epoch; return
            SEGMENT_END when it is used up (module docstring), the start's rules
            already run by the driver (js[J_INIT] = 1).
        fs, js: state X_*, J_*, kept between calls.
        hist: (N_H, epochs) loss, full-data loss, learning rate and validation loss
            per epoch.
    """
    n, stride = data.shape[0], data.shape[1]
    x, g, lo, hi, step = W[W_X], W[W_G], W[W_LO], W[W_HI], W[W_STEP]
    state = W[W_M:W_V + 1]
    if js[J_INIT] == 0:
        if ipar[I_START] == 0:  # else the caller's pass at the start: fs[X_FULL] and g
            fs[X_FULL] = mean_over_all(addr, data, block, x, g)
        st = _begin(W, fpar, fs, js)
        if vdata.shape[0] > 0:  # "best" is by validation loss: the start's, first
            v0 = mean_over_all(addr, vdata, block, x, W[W_GV])
            fs[X_BEST] = v0 if math.isfinite(v0) else math.inf
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
            if ipar[I_SEGMENT] != 0:  # the block is used up: the driver goes on
                return SEGMENT_END
            st = _end_epoch(addr, data, vdata, block, W, fpar, ipar, fs, js, hist)
            if st != S.RUNNING:
                return st
    if js[J_EPOCH] >= ipar[I_EPOCHS]:
        js[J_REASON] = S.R_MAXITER
        return S.MAX_ITER
    return S.RUNNING
