"""Minibatch stochastic gradient descent on data fits (SPEC §2, method ``sgd``): the driver.

:func:`run_sgd` checks the options (symgd.methods.sgd_options), packs them for the
compiled loop (symgd.methods.sgd_loop, whose docstring states the algorithm), calls
the loop in chunks of about TARGET_CALL_S between which it checks the deadline,
Ctrl-C and the progress callback, hands the loop each epoch's uniforms for the
shuffle, and turns the loop's state into an :class:`SGDOutcome` (:func:`finish`):
which parameters to report (current, best or SWA average), the objective and its
gradient there, and the message. symgd.dask.sgd, which streams the minibatches from a
Dask cluster's blocks, shares :func:`pack`, :func:`initial_state` and :func:`finish`.

Importing this module loads the compiled loop (symgd.methods.loading.load("sgd")
does, to announce a first compile); the options alone are in sgd_options, free of
numba.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from symgd.errors import InputError
from symgd.methods import optimizers as O
from symgd.methods import status as S
from symgd.methods.batchcall import FULL_BLOCK, full_pass
from symgd.methods.common import all_finite, projected_grad_norm
from symgd.methods.driver import Outcome
from symgd.methods.schedules import pack_schedule
from symgd.methods.sgd_loop import (H_FULL, H_LOSS, H_LR, H_VAL, I_EPOCHS, I_START,
                                    I_STEPS, J_BEST_EPOCH, J_EPOCH, J_NFULL, J_NSWA,
                                    J_REASON, J_ROW, J_STEP, N_FS, N_H, N_JS, N_W,
                                    R_PATIENCE,
                                    W_BEST, W_G, W_HI, W_LO, W_SWA, W_X, X_BEST, X_F0,
                                    X_FULL, X_GNORM, X_LRSCALE, X_PREF, X_RATE, X_REF,
                                    X_RELG, sgd_loop, shuffle_upto)
from symgd.methods.sgd_options import SGD_OPTIONS, check_sgd_options
from symgd import clock  # deadlines on the clock tests can replace

__all__ = ["run_sgd", "SGDOutcome", "SGD_OPTIONS", "check_sgd_options", "R_PATIENCE",
           "sgd_loop", "shuffle_upto", "validation_split", "pack", "initial_state",
           "finish"]

TARGET_CALL_S = 0.02
UNIFORM_BLOCK = 1 << 20  # uniforms per block of shuffles handed to the loop (8 MB)
SPLIT_STREAM = 1  # the validation split's random stream: PCG64 seeded with [seed, 1]


def validation_split(n: int, fraction: float, seed: int) -> tuple:
    """(training rows, validation rows), each sorted: round(fraction n) rows (at least
    one, and one left to train on) drawn without replacement by a permutation from
    Generator(PCG64([seed, SPLIT_STREAM])), a stream apart from the shuffles' (same
    seed, same split)."""
    if n < 2:
        raise InputError(f"a validation split needs at least 2 samples, got {n}",
                         field="options.validation", kind="option")
    m = min(max(int(round(fraction * n)), 1), n - 1)
    perm = np.random.Generator(np.random.PCG64([seed, SPLIT_STREAM])).permutation(n)
    return np.sort(perm[m:]), np.sort(perm[:m])


def _rows(data, idx):
    out = np.ascontiguousarray(data[idx])
    out.setflags(write=False)
    return out


def pack(o: dict, n: int, scale: float, blocks=None):
    """(fpar, ipar, hyper) for :func:`sgd_loop` from checked options. ``blocks``: the
    sizes of the blocks an epoch visits one by one (symgd.dask.sgd), each ending in its
    own smaller minibatch, for the steps per epoch (a schedule's default length);
    None: one block of n."""
    epochs = o["epochs"] if o["max_iter"] is None else min(o["epochs"], o["max_iter"])
    bs = min(o["batch_size"], n)
    per_epoch = sum(-(-int(m) // bs) for m in (blocks if blocks is not None else [n]))
    total_steps = epochs * per_epoch
    code, s0, s1, s2 = pack_schedule(o["schedule"], default_t_max=float(total_steps))
    fpar = np.array([o["learning_rate"], s0, s1, s2, o["min_delta"], o["tol"], scale,
                     o["typical_x"], o["typical_f"]])
    ipar = np.array([epochs, 64, bs, O.CODES[o["optimizer"]], code, o["patience"] or 0,
                     o["swa_start"] or 0, 0, 0], dtype=np.int64)  # I_START, I_SEGMENT: 0
    hyper = O.hyper_array(o["optimizer"], momentum=o["momentum"], beta1=o["beta1"],
                          beta2=o["beta2"], eps=o["eps"], weight_decay=o["weight_decay"],
                          decay=o["decay"])
    return fpar, ipar, hyper


@dataclass
class SGDOutcome(Outcome):
    """An Outcome (symgd.methods.driver) with what SGD adds.

    ``iterations`` counts completed epochs; ``evaluations`` = {"f", "grad": full-data
    passes, "hess": 0, "batch": minibatch steps}. ``f``, ``g`` and ``grad_norm`` are the
    objective (``full_loss`` when given, else scale * mean loss), its gradient (scale *
    mean gradient) and the projected gradient norm at ``x``, over all the data. With a
    validation split: ``val_history`` (Outcome's field: the mean loss over the held-out
    samples at each epoch's end) and ``extra`` {"validation_loss": that loss at x,
    "validation_samples": how many}.
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
        which_loss = "validation" if o["validation"] is not None else "full-data"
        kept = avg or (f" restored {f'epoch {b}' if b else 'the start'} ({which_loss} "
                       f"loss {fs[X_BEST]:.6g}).")
        watched = "validation" if o["validation"] is not None else "epoch"
        return (f"early stopping: the {watched} loss did not improve by more than "
                f"min_delta {o['min_delta']:g} (relative) for {o['patience']} epochs;"
                + kept)
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
            chunk_steps: int | None = None, start=None) -> SGDOutcome:
    """Minibatch SGD from theta0 (symgd.methods.sgd_loop); failures are statuses, never
    raised.

    Args:
        batch_kernel_address: address of the fit's batch kernel (symgd.methods.batchcall).
        data: (n_samples, n_columns) float64 array, the samples by row
            (Dataset.rows(); symgd.methods.batchcall says why). Taken as it is when
            already C-contiguous float64 (read-only is fine): no copy.
        theta0, lower, upper: start and bounds (-inf / inf where free); theta0 in the box.
        options: SGD_OPTIONS and the common options (checked again here).
        deadline: absolute time.perf_counter() to stop at (status 'timeout'), or None.
        full_loss: optional callable theta -> the user's objective over all data (for
            ``f``); otherwise f = objective_scale * the kernel's mean loss (the same
            number up to rounding, without one more pass over the data).
        objective_scale: the minimised objective is objective_scale times the kernel's
            mean loss (1 for mean losses, n for sums); used by the gradient test.
        chunk_steps: minibatch steps per compiled call (tests); default adaptive (~20 ms).
        start: optional (F, grad F) at theta0 over all the data, in the objective's
            sense (F = objective_scale * mean loss), where the caller has them (e.g. from
            its check of the start): the loop then skips its own pass at the start. It
            is counted in ``evaluations`` all the same, as the run's start. Not used
            with a validation split (the loop trains on part of the data).

    ``options["validation"]``, a fraction v: round(v n) samples (:func:`validation_split`,
    seeded by ``seed``) are held out; the loop trains on the others and watches the
    mean loss over the held-out ones (symgd.methods.sgd_loop). ``f`` and ``g`` are
    still over all the data.

    ``options["_progress"]``, if given, is called between calls as progress(epochs,
    F at the last epoch's end, its gradient norm); ``options["time_limit"]`` counts
    from this call when no deadline is given.

    Returns:
        SGDOutcome, with the per-epoch ``history``; with a split also ``val_history``
        (the mean loss over the held-out samples at each epoch's end) and
        ``extra["validation_loss"]`` (that loss at x) and ``["validation_samples"]``.
    """
    t0 = time.perf_counter()
    o = check_sgd_options(dict(options))
    addr = int(batch_kernel_address)
    data = np.ascontiguousarray(data, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] < 1:
        raise InputError(f"expected data of shape (n_samples >= 1, n_columns), got "
                         f"{data.shape}", field="data", kind="data")
    all_data, vdata = data, data[:0]
    if o["validation"] is not None:
        train, val = validation_split(data.shape[0], o["validation"],
                                      0 if o["seed"] is None else o["seed"])
        data, vdata = _rows(all_data, train), _rows(all_data, val)
        start = None  # over all the data, not the training part
    n = data.shape[0]
    theta0 = np.array(theta0, dtype=np.float64).ravel()
    scale = float(objective_scale)
    fpar, ipar, hyper = pack(o, n, scale)
    W, fs, js, hist = initial_state(theta0, lower, upper, int(ipar[I_EPOCHS]))
    if start is not None:
        fs[X_FULL] = float(start[0]) / scale
        W[W_G] = np.asarray(start[1], dtype=np.float64).ravel() / scale
        ipar[I_START] = 1
    perm = np.arange(n, dtype=np.int64)
    block = np.arange(min(n, FULL_BLOCK), dtype=np.int64)
    uniforms = _Uniforms(0 if o["seed"] is None else o["seed"], n, int(ipar[I_EPOCHS]))
    if deadline is None and o["time_limit"] is not None:
        deadline = t0 + o["time_limit"]

    loop = _entry()

    def call(U, steps):
        ipar[I_STEPS] = steps
        return int(loop(addr, data, vdata, U, perm, block, W, fpar, hyper, fs, ipar, js,
                        hist))

    progress, callback = o.get("_progress"), o.get("_callback")
    if callback is not None:
        # one call per epoch, so the callback sees each epoch's end (x, full loss)
        chunk_steps = -(-n // min(int(o["batch_size"]), n))
        user_progress, last = progress, [int(js[J_EPOCH])]

        def progress(epoch, f, gnorm):
            if user_progress is not None:
                user_progress(epoch, f, gnorm)
            if epoch > last[0]:
                last[0] = epoch
                callback(epoch, W[W_X], f, gnorm)

    status = _drive(call, uniforms, js, fs, scale, deadline, progress, chunk_steps)

    def pass_at(th, held_out=False):
        return full_pass(addr, vdata if held_out else all_data, th)

    return finish(status, o, (W, fs, js, hist), theta0, scale, pass_at, full_loss, t0,
                  int(vdata.shape[0]))


def finish(status: str, o: dict, state, theta0, scale: float, pass_at, full_loss, t0,
           n_held_out: int = 0) -> SGDOutcome:
    """The SGDOutcome of a run that ended in ``status``, from the loop's state (W, fs,
    js, hist): which parameters to report (current, best or the SWA average), F =
    scale * mean loss and its gradient there, and the message. ``pass_at(theta,
    held_out=False)`` is (mean loss, mean gradient) over all the data (or the
    ``n_held_out`` validation samples), counted in ``evaluations``; ``full_loss`` as in
    :func:`run_sgd`; ``t0`` the run's start (time.perf_counter())."""
    W, fs, js, hist = state
    reason = int(js[J_REASON])
    passes = [int(js[J_NFULL])]

    def counted(th, held_out=False):
        passes[0] += 1
        return pass_at(th, held_out)

    def mean_loss(th):  # what "best" means: the validation loss, with a split
        f = counted(th, n_held_out > 0)[0]
        return f if math.isfinite(f) else math.inf

    x, which = _choose(status, reason, W, js, theta0, mean_loss)
    lo, hi = W[W_LO], W[W_HI]
    e = int(js[J_EPOCH])
    # The loop ends right after an epoch's full-data pass when it converges on the
    # gradient test or runs out of epochs: its loss and gradient at x are known.
    if which == "current" and reason in (S.R_MAXITER, S.R_GRAD) and status != "timeout" \
            and not n_held_out:
        fm, gm = float(fs[X_FULL]), W[W_G].copy()
    else:
        fm, gm = counted(x)
    g = scale * gm
    f = float(full_loss(x)) if full_loss is not None else scale * fm
    gnorm = float(projected_grad_norm(x, g, lo, hi)) if all_finite(g) else math.nan
    lr = float(o["learning_rate"])
    split = {}
    if n_held_out:
        split = {"val_history": hist[H_VAL, :e].tolist(),
                 "extra": {"validation_loss": counted(x, True)[0],
                           "validation_samples": int(n_held_out)}}
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
        suggested_learning_rate=lr / 10 if status == "diverged" else None, **split)


def initial_state(theta0, lower, upper, epochs):
    """(W, fs, js, hist) for :func:`sgd_loop` at the start."""
    W = np.zeros((N_W, theta0.size))
    W[W_X], W[W_BEST], W[W_LO], W[W_HI] = theta0, theta0, lower, upper
    fs = np.zeros(N_FS)
    fs[[X_BEST, X_REF, X_PREF, X_F0]] = math.inf
    fs[X_LRSCALE] = 1.0
    js = np.zeros(N_JS, dtype=np.int64)
    hist = np.full((N_H, epochs), np.nan)
    return W, fs, js, hist


def _drive(call, uniforms, js, fs, scale, deadline, progress, chunk_steps) -> str:
    """Call the loop (``call(U, steps)`` -> status code) until it stops, the deadline
    passes or Ctrl-C; between calls hand it the next block of uniforms, report progress
    and size the next call to about TARGET_CALL_S. Returns the status name."""
    U = uniforms.next()
    steps = chunk_steps or 64
    code = S.RUNNING
    try:
        while True:
            tc, steps_before = time.perf_counter(), js[J_STEP]
            code = call(U, steps)
            if code != S.RUNNING:
                return S.NAMES[code]
            if js[J_ROW] >= U.shape[0]:
                U, js[J_ROW] = uniforms.next(), 0
            if progress is not None:
                progress(int(js[J_EPOCH]), scale * float(fs[X_FULL]), float(fs[X_GNORM]))
            now = clock.now()
            if deadline is not None and now >= deadline:
                return "timeout"
            if chunk_steps is None:
                per_step = max(now - tc, 1e-7) / max(js[J_STEP] - steps_before, 1)
                steps = TARGET_CALL_S / per_step
                if deadline is not None:
                    steps = min(steps, (deadline - now) / per_step + 1)
                steps = int(min(max(steps, 1), 1 << 40))
    except KeyboardInterrupt:
        return "interrupted"


def _entry():
    from symgd.kernelgen.fastcall import entry_point

    return entry_point(sgd_loop)
