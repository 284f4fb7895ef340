"""The derivative-free baselines, compiled: random search and a (1+1) local search.

Both loops take the packed arrays of methods/loops.py (``K, W, fs, js, T``) and call
only ``ev.fun`` (never a gradient), so the same source serves the symbolic bundle
(compiled here) and data fits (methods/fit_search_loops.py). They are driven in chunks
by methods/driver.run_loop like every other loop.

Random numbers. A counter-based generator: the k-th uniform of stream ``seed`` is
SplitMix64's output for the state seed + (k + 1) * 0x9E3779B97F4A7C15, its top 53 bits
scaled to [0, 1) (G. Steele, D. Lea, C. Flood, "Fast splittable pseudorandom number
generators", OOPSLA 2014; the constants are those of java.util.SplittableRandom).
The k-th number depends on (seed, k) alone, so a run split into chunks (time_limit,
progress) draws exactly the numbers of a run in one call, and :func:`uniforms` gives
the same numbers in numpy (for checks from outside). Same seed, same run.

W's rows: x is the incumbent (the best point so far for random search, the current
point for local search, which only moves downhill, so both equal xbest); g is unused
(no gradient is evaluated; the solver computes one at the end, for the report only);
W_OPT1 and W_OPT2 hold the sampling box (random search: its low corner and widths) or
the step scales (local search: row W_OPT1).

Neither loop has a convergence test: a gradient they never compute cannot be tested,
so they end ``max_iter`` (the budget ``samples`` is spent), ``stalled`` (local search:
the step size fell below ``tol``), ``unbounded`` (f below -1e150) or ``diverged`` (f
not finite at any point tried). Never ``converged``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, types

from symgd.kernelgen import evaluate as ev
from symgd.kernelgen.evaluate import SYMBOLIC_BUNDLE
from symgd.methods import status as S
from symgd.methods.common import UNBOUNDED_F, clear_trace, copy_into, trace_x
from symgd.methods.loops import STATE, trace, unpack

_JIT = dict(cache=True, error_model="numpy", nogil=True)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TWO_M53 = 2.0 ** -53
# Rechenberg's 1/5th success rule in its per-step form: the step grows by SUCCESS_GROW
# after an improvement and shrinks by SUCCESS_GROW ** -0.25 after a failure, so it
# stays put when one step in five succeeds (the rate Rechenberg found near-optimal on
# the sphere and the corridor; I. Rechenberg, Evolutionsstrategie, 1973; this form:
# S. Kern et al., "Learning probability distributions in continuous evolutionary
# algorithms - a comparative review", Natural Computing 3, 2004, section 3).
SUCCESS_GROW = 1.5
FAIL_SHRINK = SUCCESS_GROW ** -0.25
MAX_STEP = 1e3  # the step multiplier never grows past this (x falls off the scale)


@njit(**_JIT)
def uniform(seed, k):
    """The k-th uniform number in [0, 1) of stream ``seed`` (SplitMix64, see above)."""
    z = np.uint64(seed) + np.uint64(k + 1) * _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    z = z ^ (z >> _S31)
    return float(z >> _S11) * _TWO_M53


def uniforms(seed: int, first: int, count: int) -> np.ndarray:
    """Numbers ``first .. first + count - 1`` of stream ``seed``, in numpy: the same
    values as the compiled :func:`uniform` (for tests and checks from Python)."""
    with np.errstate(over="ignore"):
        s = np.array([seed], dtype=np.int64).view(np.uint64)[0]
        k = np.arange(first + 1, first + count + 1, dtype=np.uint64)
        z = s + k * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


@njit(**_JIT)
def normal(seed, k):
    """A standard normal number from uniforms 2k and 2k + 1 (Box-Muller)."""
    u1 = 1.0 - uniform(seed, 2 * k)  # in (0, 1]: the log is finite
    u2 = uniform(seed, 2 * k + 1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(**_JIT)
def sampling_box(x0, lower, upper, radius, low, width):
    """The box random search draws from, per variable: [lower, upper] where both bounds
    are finite, else x0 +- radius max(1, |x0_i|) cut by the bound there is."""
    for i in range(x0.size):
        if math.isfinite(lower[i]) and math.isfinite(upper[i]):
            lo, hi = lower[i], upper[i]
        else:
            h = radius * max(1.0, abs(x0[i]))
            lo, hi = max(lower[i], x0[i] - h), min(upper[i], x0[i] + h)
        low[i] = lo
        width[i] = hi - lo


@njit(**_JIT)
def _begin(K, x, xbest, fstate, istate, T):
    """Evaluate the start: f there is the first incumbent (if finite)."""
    f = ev.fun(K, x)
    istate[S.I_NFEV] += 1
    fstate[S.F_F] = f
    fstate[S.F_F0] = f
    fstate[S.F_GNORM] = math.nan
    fstate[S.F_RELG] = math.nan
    fstate[S.F_FBEST] = f if math.isfinite(f) else math.inf
    copy_into(xbest, x)
    clear_trace(T)
    trace(T, 0, S.T_F, f)
    trace_x(T, 0, x)
    istate[S.I_INIT] = 1


@njit(**_JIT)
def _budget_spent(fstate, istate):
    """The status when the budget is spent: max_iter, or diverged when no point tried
    had a finite f."""
    if math.isfinite(fstate[S.F_FBEST]):
        istate[S.I_REASON] = S.R_MAXITER
        return S.MAX_ITER
    istate[S.I_REASON] = S.R_NONFINITE
    return S.DIVERGED


@njit(**_JIT)
def _take(x, xt, f, xbest, fstate, istate):
    """Make xt (value f) the incumbent. Returns UNBOUNDED below -1e150, else RUNNING."""
    copy_into(x, xt)
    copy_into(xbest, xt)
    fstate[S.F_F] = f
    fstate[S.F_FBEST] = f
    istate[S.I_SINCE_BEST] = 0
    if f < UNBOUNDED_F:
        istate[S.I_REASON] = S.R_UNBOUNDED
        return S.UNBOUNDED
    return S.RUNNING


@njit(types.int64(SYMBOLIC_BUNDLE, *STATE), **_JIT)
def random_search_loop(K, W, fs, js, T):
    """Pure random search: the best of the start and ``samples`` points drawn uniformly
    from the sampling box (:func:`sampling_box`), sample j's coordinate i being number
    j n + i of the stream. The incumbent changes only on a strictly lower finite f.
    Brooks, "A discussion of random methods for seeking maxima", Operations Research 6
    (1958); Spall, Introduction to Stochastic Search and Optimization (2003), 2.2.
    fpar = [tol (unused), radius]; ipar = [samples, chunk, seed].
    """
    x, g, lower, upper, xbest, fpar, ipar, fstate, istate = unpack(W, fs, js)
    n = x.size
    samples, chunk, seed = ipar[0], ipar[1], ipar[2]
    low, width = W[S.W_OPT1], W[S.W_OPT2]
    xt = np.empty(n)
    if istate[S.I_INIT] == 0:
        sampling_box(x, lower, upper, fpar[1], low, width)
        _begin(K, x, xbest, fstate, istate, T)
    for _ in range(chunk):
        j = istate[S.I_ITER]
        if j >= samples:
            return _budget_spent(fstate, istate)
        for i in range(n):
            v = low[i] + uniform(seed, j * n + i) * width[i]
            xt[i] = min(max(v, lower[i]), upper[i])  # rounding never leaves the bounds
        f = ev.fun(K, xt)
        istate[S.I_NFEV] += 1
        istate[S.I_ITER] += 1
        if f < fstate[S.F_FBEST]:
            st = _take(x, xt, f, xbest, fstate, istate)
            if st != S.RUNNING:
                return st
        else:
            istate[S.I_SINCE_BEST] += 1
        trace(T, istate[S.I_ITER], S.T_F, fstate[S.F_F])
        trace_x(T, istate[S.I_ITER], x)
    return S.RUNNING


@njit(**_JIT)
def step_scales(x0, lower, upper, scale):
    """Per-variable step scale of local search: the width of the bounds where both are
    finite and narrower than max(1, |x0_i|), else max(1, |x0_i|)."""
    for i in range(x0.size):
        s = max(1.0, abs(x0[i]))
        if math.isfinite(lower[i]) and math.isfinite(upper[i]):
            s = min(s, upper[i] - lower[i])
        scale[i] = s


@njit(types.int64(SYMBOLIC_BUNDLE, *STATE), **_JIT)
def local_search_loop(K, W, fs, js, T):
    """Local random search, the (1+1) evolution strategy: a trial point
    x + sigma scale_i z_i (z standard normal, trial j's coordinate i from normals
    j n + i of the stream), clipped into the bounds, replaces x when f there is
    strictly lower; sigma follows the 1/5th success rule (x SUCCESS_GROW on success,
    x FAIL_SHRINK on failure, capped at MAX_STEP). Rechenberg 1973; Schwefel,
    Evolution and Optimum Seeking (1995), chapter 5.1. f(x) never rises.
    Stops ``stalled`` when sigma <= tol (a long run of failures: x is probably near a
    local minimum, but no gradient test says so), ``max_iter`` after ``samples``
    trial points. fpar = [tol, step (initial sigma)]; ipar = [samples, chunk, seed].
    fstate[F_STEP] holds sigma.
    """
    x, g, lower, upper, xbest, fpar, ipar, fstate, istate = unpack(W, fs, js)
    n = x.size
    tol = fpar[0]
    samples, chunk, seed = ipar[0], ipar[1], ipar[2]
    scale = W[S.W_OPT1]
    xt = np.empty(n)
    if istate[S.I_INIT] == 0:
        step_scales(x, lower, upper, scale)
        _begin(K, x, xbest, fstate, istate, T)
        fstate[S.F_STEP] = fpar[1]
        trace(T, 0, S.T_STEP, fpar[1])
    for _ in range(chunk):
        j = istate[S.I_ITER]
        if j >= samples:
            return _budget_spent(fstate, istate)
        sigma = fstate[S.F_STEP]
        if sigma <= tol:
            istate[S.I_REASON] = S.R_SMALL_STEP
            return S.STALLED
        for i in range(n):
            v = x[i] + sigma * scale[i] * normal(seed, j * n + i)
            xt[i] = min(max(v, lower[i]), upper[i])
        f = ev.fun(K, xt)
        istate[S.I_NFEV] += 1
        istate[S.I_ITER] += 1
        if f < fstate[S.F_FBEST]:
            fstate[S.F_STEP] = min(sigma * SUCCESS_GROW, MAX_STEP)
            st = _take(x, xt, f, xbest, fstate, istate)
            if st != S.RUNNING:
                return st
        else:
            fstate[S.F_STEP] = sigma * FAIL_SHRINK
            istate[S.I_SINCE_BEST] += 1
        trace(T, istate[S.I_ITER], S.T_F, fstate[S.F_F])
        trace_x(T, istate[S.I_ITER], x)
        trace(T, istate[S.I_ITER], S.T_STEP, fstate[S.F_STEP])
    return S.RUNNING
