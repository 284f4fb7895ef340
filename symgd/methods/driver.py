"""Run a compiled method loop in chunks from Python.

Between chunks the driver checks ``time_limit`` and lets Ctrl-C (KeyboardInterrupt)
through, so a long run always hands back the best point so far. The chunk length
adapts so that a chunk lasts about 20 ms: short solves run in a single call.
"""
from __future__ import annotations

import math

import numpy as np

from symgd import clock
from symgd.kernelgen import pykernel
from symgd.kernelgen.fastcall import entry_point
from symgd.methods import status as S
from symgd.outcome import Outcome  # noqa: F401  (what run_loop returns)
from symgd.result import HISTORY_MAX_X  # x columns kept in the history

TARGET_CHUNK_S = 0.02
HISTORY_FIRST_ROWS = 32     # the history starts this long and doubles as it fills
HISTORY_MAX_FLOATS = 1 << 22  # then stops growing (32 MB); later rows go unrecorded
_NO_TRACE = np.empty((0, S.N_TRACE))  # a run that keeps no history (never written)


def _grown(T):
    """T with twice the rows (new rows NaN), within HISTORY_MAX_FLOATS."""
    rows = min(2 * T.shape[0], max(HISTORY_MAX_FLOATS // T.shape[1], 1))
    if rows <= T.shape[0]:
        return T
    G = np.full((rows, T.shape[1]), np.nan)
    G[:T.shape[0]] = T
    return G


def run_loop(loop, bundle, x0, lower, upper, fpar, ipar, *, typical=(1.0, 1.0),
             time_limit=None, deadline=None, first_chunk=1_000_000, report_best_always=False,
             progress=None, history=True, callback=None, work_rows=0, work=None):
    """Call ``loop(bundle, W, fs, js, T)`` (packed arrays, see methods/loops.py)
    until it stops, the deadline passes (status 'timeout') or Ctrl-C ('interrupted').

    Args:
        ipar: integer parameters; ipar[1] (the chunk) is managed here.
        typical: (typical_x, typical_f), the scales of SPEC §2's relative gradient.
        time_limit: seconds for this loop; deadline: an absolute symgd.clock.now() time.
        report_best_always: report the best point seen even on convergence (methods
            whose f is not monotone, like fixed-step gradient descent).
        progress: called as progress(iterations, f, grad_norm) between chunks (then the
            run is chunked like a run with a deadline).
        history: keep the per-iteration trace (status.T_* columns, then x for up to
            HISTORY_MAX_X variables) in a preallocated array the loop writes into; it
            grows between calls, so a call never runs past the rows it has.
        callback: called as callback(iterations, x, f, grad_norm) after every iteration
            (the loop then runs one iteration per call); it stops the run by raising
            KeyboardInterrupt (symgd.outcome.CallbackStop), like Ctrl-C.
        work_rows: extra rows of W past status.N_W where a loop keeps its memory
            between calls (the quasi-Newton loops), zero at the start.
        work: their starting values instead (an array of work_rows x n), where a loop
            takes per-problem data there (the band ordering of newton_loop).
    """
    t0 = clock.now()
    if time_limit is not None:
        end = t0 + float(time_limit)
        deadline = end if deadline is None else min(deadline, end)
    call = entry_point(loop)
    n = x0.size
    # rows x, g, lower, upper, xbest, then the optimizer rows (gd), which start at zero
    W = np.empty((S.N_W + work_rows, n))
    W[S.W_X] = x0
    W[S.W_G] = 0.0
    W[S.W_LO] = lower
    W[S.W_HI] = upper
    W[S.W_XBEST] = x0
    W[S.W_OPT1:] = 0.0
    if work is not None:
        W[S.N_W:] = work
    fs = np.zeros(S.N_PAR + S.N_FSTATE)
    js = np.zeros(S.N_PAR + S.N_ISTATE, dtype=np.int64)
    fs[:len(fpar)] = fpar
    js[:len(ipar)] = ipar
    fs[S.P_TYP_X], fs[S.P_TYP_F] = typical
    fstate, istate = fs[S.N_PAR:], js[S.N_PAR:]
    # the loop fills it with NaN at its start (compiled: cheaper than np.full here)
    T = np.empty((HISTORY_FIRST_ROWS, S.N_TRACE + min(n, HISTORY_MAX_X))) if history \
        else _NO_TRACE
    x, g, xbest = W[S.W_X], W[S.W_G], W[S.W_XBEST]
    # Without a deadline the whole run is one call (cheapest); otherwise start small
    # and grow the chunk until a call lasts about TARGET_CHUNK_S.
    chunk = first_chunk if (deadline is None and progress is None) else 16
    code = S.RUNNING
    stopped = None
    try:
        while True:
            tc = clock.now()
            if callback is not None:
                chunk = 1
            js[1] = chunk
            if history:
                # a call of c iterations from iteration k writes rows up to k + c:
                # the call stops where the trace is full, which then doubles
                it = int(istate[S.I_ITER])
                if it + 1 >= T.shape[0]:
                    T = _grown(T)
                if it + 1 < T.shape[0]:
                    js[1] = max(1, min(chunk, T.shape[0] - 1 - it))
            code = int(call(bundle, W, fs, js, T))
            if pykernel.interrupted and pykernel.take_interrupt():
                raise KeyboardInterrupt  # arrived inside a Python fallback kernel
            if code != S.RUNNING:
                break
            now = clock.now()
            if callback is not None:
                callback(int(istate[S.I_ITER]), x, float(fstate[S.F_F]),
                         float(fstate[S.F_GNORM]))
            if progress is not None:
                progress(int(istate[S.I_ITER]), float(fstate[S.F_F]), float(fstate[S.F_GNORM]))
            if deadline is not None and now >= deadline:
                stopped = "timeout"
                break
            if deadline is None and progress is None:
                continue  # only the history's room cut the call short
            spent = max(now - tc, 1e-6)
            chunk = int(min(max(js[1] * TARGET_CHUNK_S / spent, 1), 1_000_000))
            if deadline is not None:  # do not overshoot the deadline by much
                per_step = spent / max(chunk, 1)
                chunk = int(max(1, min(chunk, (deadline - now) / max(per_step, 1e-9) + 1)))
    except KeyboardInterrupt:
        stopped = "interrupted"
    status = stopped or S.NAMES[code]
    use_best = (status != "converged") or report_best_always
    if use_best and np.all(np.isfinite(xbest)) and math.isfinite(fstate[S.F_FBEST]) and (
            not math.isfinite(fstate[S.F_F]) or fstate[S.F_FBEST] < fstate[S.F_F]):
        x_out, f_out, g_out = xbest, float(fstate[S.F_FBEST]), None
        gnorm = relg = math.nan  # recomputed by the caller at x_out
    else:
        x_out, f_out, gnorm, g_out = x, float(fstate[S.F_F]), float(fstate[S.F_GNORM]), g.copy()
        relg = float(fstate[S.F_RELG])
    return Outcome(status=status, reason=int(istate[S.I_REASON]), x=np.array(x_out), f=f_out,
                   grad_norm=gnorm, g=g_out, iterations=int(istate[S.I_ITER]),
                   evaluations={"f": int(istate[S.I_NFEV]), "grad": int(istate[S.I_NGEV]),
                                "hess": int(istate[S.I_NHEV])},
                   time_s=clock.now() - t0, last_step=float(fstate[S.F_STEP]),
                   f0=float(fstate[S.F_F0]), rel_grad=relg,
                   trace=T[:int(istate[S.I_ITER]) + 1] if history else None)
