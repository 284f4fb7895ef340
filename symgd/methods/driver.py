"""Run a compiled method loop in chunks from Python.

Between chunks the driver checks ``time_limit`` and lets Ctrl-C (KeyboardInterrupt)
through, so a long run always hands back the best point so far. The chunk length
adapts so that a chunk lasts about 20 ms: short solves run in a single call.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from symgd.compile.fastcall import entry_point
from symgd.methods import status as S

TARGET_CHUNK_S = 0.02


@dataclass
class Outcome:
    """What a loop returned, before it becomes a Result."""

    status: str
    reason: int
    x: np.ndarray        # the point to report (best seen where the run did not converge)
    f: float             # minimised objective at x
    grad_norm: float
    g: np.ndarray | None  # gradient at x where the loop knows it, else None
    iterations: int
    evaluations: dict
    time_s: float
    last_step: float


def run_loop(loop, kernel_args, x0, lower, upper, fpar, ipar, *, time_limit=None,
             deadline=None, first_chunk=1_000_000, report_best_always=False):
    """Call ``loop(*kernel_args, x, g, lower, upper, xbest, fpar, ipar, fstate, istate)``
    until it stops, the deadline passes (status 'timeout') or Ctrl-C ('interrupted').

    Args:
        ipar: integer parameters; ipar[1] (the chunk) is managed here.
        time_limit: seconds for this loop; deadline: an absolute perf_counter() time.
        report_best_always: report the best point seen even on convergence (methods
            whose f is not monotone, like fixed-step gradient descent).
    """
    t0 = time.perf_counter()
    if time_limit is not None:
        end = t0 + float(time_limit)
        deadline = end if deadline is None else min(deadline, end)
    call = entry_point(loop)
    n = x0.size
    x = np.array(x0, dtype=np.float64)
    g = np.zeros(n)
    xbest = x.copy()
    fstate = np.zeros(S.N_FSTATE)
    istate = np.zeros(S.N_ISTATE, dtype=np.int64)
    ipar = np.array(ipar, dtype=np.int64)
    fpar = np.array(fpar, dtype=np.float64)
    # Without a deadline the whole run is one call (cheapest); otherwise start small
    # and grow the chunk until a call lasts about TARGET_CHUNK_S.
    ipar[1] = first_chunk if deadline is None else 16
    code = S.RUNNING
    stopped = None
    try:
        while True:
            tc = time.perf_counter()
            code = int(call(*kernel_args, x, g, lower, upper, xbest, fpar, ipar, fstate, istate))
            if code != S.RUNNING:
                break
            now = time.perf_counter()
            if deadline is not None and now >= deadline:
                stopped = "timeout"
                break
            spent = max(now - tc, 1e-6)
            ipar[1] = int(min(max(ipar[1] * TARGET_CHUNK_S / spent, 1), 1_000_000))
            if deadline is not None:  # do not overshoot the deadline by much
                per_step = spent / max(ipar[1], 1)
                ipar[1] = int(max(1, min(ipar[1], (deadline - now) / max(per_step, 1e-9) + 1)))
    except KeyboardInterrupt:
        stopped = "interrupted"
    status = stopped or S.NAMES[code]
    use_best = (status != "converged") or report_best_always
    if use_best and np.all(np.isfinite(xbest)) and math.isfinite(fstate[S.F_FBEST]) and (
            not math.isfinite(fstate[S.F_F]) or fstate[S.F_FBEST] < fstate[S.F_F]):
        x_out, f_out, g_out = xbest, float(fstate[S.F_FBEST]), None
        gnorm = math.nan  # recomputed by the caller at x_out
    else:
        x_out, f_out, gnorm, g_out = x, float(fstate[S.F_F]), float(fstate[S.F_GNORM]), g
    return Outcome(status=status, reason=int(istate[S.I_REASON]), x=x_out.copy(), f=f_out,
                   grad_norm=gnorm, g=g_out, iterations=int(istate[S.I_ITER]),
                   evaluations={"f": int(istate[S.I_NFEV]), "grad": int(istate[S.I_NGEV]),
                                "hess": int(istate[S.I_NHEV])},
                   time_s=time.perf_counter() - t0, last_step=float(fstate[S.F_STEP]))
