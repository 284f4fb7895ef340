"""All starts of a multistart in one compiled call (symgd.multistart).

:func:`run_starts` loops over the starts and calls the method's compiled loop (the
same dispatchers as a single run: methods/loops.py, qn_loops.py, search_loops.py,
compiled for the symbolic bundle) on each start's own packed arrays, so 64 Newton runs
on a 2-D problem cost 64 loop calls with no Python between them. After each run it
settles what the run may claim, as symgd.finish does for a single run:

- the point reported is the current one, or the best seen where the run did not
  converge or its method reports the best always (gd), as methods/driver.run_loop;
- a run that converged but reports another point (the best seen) must pass the
  relative-gradient test there too, or it is ``stalled`` (NOTE_BEST);
- a converged point where the Hessian (when compiled) shows negative curvature is a
  saddle: ``stalled`` (NOTE_SADDLE), by loops.negative_curvature.

The reported point, its f (and gradient where evaluated) are left in each start's W
rows x, g and fs's state F_F, F_GNORM, F_RELG; ``notes[k]`` says why a status changed.

The loops are compiled into this module's cached code: numba checks only this file's
timestamp, so after editing a loop clear the compiled loops (symgd.kernelgen.cache.clear
with include_method_loops) or touch this file.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, types

from symgd.kernelgen import evaluate as ev
from symgd.kernelgen.evaluate import SYMBOLIC_BUNDLE
from symgd.methods import loops, qn_loops, search_loops
from symgd.methods import status as S
from symgd.methods.common import (all_finite, converged_test, copy_into, projected_grad_norm,
                                  relative_gradient)
from symgd.kernel_types import MAT

_JIT = dict(cache=True, error_model="numpy", nogil=True)
IVEC = types.int64[::1]
IMAT = types.int64[:, ::1]
CUBE = types.float64[:, :, ::1]

# which loop: the codes symgd.multistart passes
GD, LINESEARCH, EXACT, NEWTON, BFGS, LBFGS, RANDOM, LOCAL = range(8)
NOTE_NONE, NOTE_BEST, NOTE_SADDLE = 0, 1, 2


@njit(**_JIT)
def _one(K, code, W, fs, js, T):
    """Run loop ``code`` on one start to its end (chunk = ipar[1], called again while
    it returns RUNNING)."""
    st = S.RUNNING
    while st == S.RUNNING:
        if code == GD:
            st = loops.gd_loop(K, W, fs, js, T)
        elif code == LINESEARCH:
            st = loops.linesearch_loop(K, W, fs, js, T)
        elif code == EXACT:
            st = loops.exact_linesearch_loop(K, W, fs, js, T)
        elif code == NEWTON:
            st = loops.newton_loop(K, W, fs, js, T)
        elif code == BFGS:
            st = qn_loops.bfgs_loop(K, W, fs, js, T)
        elif code == LBFGS:
            st = qn_loops.lbfgs_loop(K, W, fs, js, T)
        elif code == RANDOM:
            st = search_loops.random_search_loop(K, W, fs, js, T)
        else:
            st = search_loops.local_search_loop(K, W, fs, js, T)
    return st


@njit(**_JIT)
def _settle(K, st, report_best, gradient_test, W, fs, js):
    """The status a finished run may claim, with its reported point moved into W's x
    row (see the module docstring). Returns (status, note)."""
    x, g, lower, upper, xbest = W[S.W_X], W[S.W_G], W[S.W_LO], W[S.W_HI], W[S.W_XBEST]
    fstate, istate = fs[S.N_PAR:], js[S.N_PAR:]
    fpar = fs[:S.N_PAR]
    note = NOTE_NONE
    use_best = st != S.CONVERGED or report_best
    fb, fx = fstate[S.F_FBEST], fstate[S.F_F]
    if use_best and all_finite(xbest) and math.isfinite(fb) and \
            (not math.isfinite(fx) or fb < fx):
        copy_into(x, xbest)
        fstate[S.F_F] = fb
        if gradient_test:
            f = ev.fg(K, x, g)
            fstate[S.F_F] = f
            fstate[S.F_GNORM] = projected_grad_norm(x, g, lower, upper)
            rel = relative_gradient(x, g, lower, upper, f, fpar[S.P_TYP_X],
                                    fpar[S.P_TYP_F])
            fstate[S.F_RELG] = rel
            if st == S.CONVERGED and not converged_test(rel, fpar[0]):
                st = S.STALLED
                note = NOTE_BEST
        else:
            fstate[S.F_GNORM] = math.nan
            fstate[S.F_RELG] = math.nan
    if st == S.CONVERGED and K[2] != 0:
        if loops.negative_curvature(K, x, g, lower, upper) < 0.0:
            st = S.STALLED
            note = NOTE_SADDLE
    return st, note


@njit(types.void(SYMBOLIC_BUNDLE, types.int64, types.boolean, types.boolean, CUBE, MAT,
                 IMAT, MAT, IVEC, IVEC), **_JIT)
def run_starts(K, code, report_best, gradient_test, W3, FS, JS, T, codes, notes):
    """Run loop ``code`` from every start k (W3[k], FS[k], JS[k]: the packed arrays of
    methods/loops.py, one start each) and settle each run's status into codes[k]
    (status.* codes) and notes[k] (NOTE_*). T: the trace (a zero-row array: none)."""
    for k in range(W3.shape[0]):
        W = W3[k]
        fs = FS[k]
        js = JS[k]
        st = _one(K, code, W, fs, js, T)
        st, note = _settle(K, st, report_best, gradient_test, W, fs, js)
        codes[k] = st
        notes[k] = note


def empty_trace() -> np.ndarray:
    """A trace with no rows (the batch records none)."""
    return np.empty((0, S.N_TRACE))
