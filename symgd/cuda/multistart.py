"""Multistart Newton on a CUDA device: all starts advance together, one kernel launch
per iteration (SPEC §2 ``starts`` with ``device: cuda``; issue 16, item 2).

:func:`run_newton_starts` takes the (M, n) starts that symgd.multistart drew, and:

1. generates (once per problem and process) the module of
   symgd.cuda.multistart_source from the symbolic f, gradient and Hessian of the
   minimised objective, loaded through symgd.kernelgen.cache.load_module;
2. copies the starts and the bounds to the device once, and launches ``k_start``;
3. launches ``k_step`` (one Newton iteration of every start still running: thread k
   owns start k) at most max_iter + 1 times, reading back one integer, the number of
   starts that have stopped (``k_count``), every CHECK_EVERY launches, and stopping
   when all have (or at the solve's deadline);
4. launches ``k_settle`` (what each run may claim, as multistart_loop._settle) and
   copies back the M final points, gradients, states and statuses.

The iteration is methods/loops.newton_loop (modified Cholesky, unit step then an
Armijo search, projected onto the bounds) transcribed operation by operation, so each
start takes the CPU multistart's path; rounding of the device's own math library and
of fused multiply-adds may move the last digits. symgd.multistart then picks and
finishes the best run exactly as for the CPU.

Caps (symgd.cuda.availability.check_multistart): newton only, no constraints other
than bounds, at most MAX_VARS variables (per-thread Hessian and factor are N x N local
arrays: 16 x 16 doubles is 2 KiB each, which keeps a thread's local memory small
enough for tens of thousands of starts in flight).
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from symgd import clock
from symgd.cuda import availability
from symgd.methods import status as S

# Threads per block on a GPU, and in numba's simulator (each thread a Python thread).
TPB_GPU = 128
TPB_SIM = 32
# Launches between reads of the stopped count (a read waits for the device: ~10 µs).
CHECK_EVERY = 8

_MODULES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


@dataclass
class DeviceRuns:
    """The M settled runs as host arrays (row k: start k), in the CPU multistart's
    slots: x and g (M, n); fstate (M, status.N_FSTATE); istate (M, status.N_ISTATE);
    codes (status.* after settling) and notes (multistart_source.NOTE_*)."""

    x: np.ndarray
    g: np.ndarray
    fstate: np.ndarray
    istate: np.ndarray
    codes: np.ndarray
    notes: np.ndarray
    launches: int
    timed_out: bool


def device_module(problem):
    """The loaded multistart module of ``problem`` (generated once per Problem)."""
    mod = _MODULES.get(problem)
    if mod is None:
        from symgd import calculus
        from symgd.cuda.multistart_source import newton_source
        from symgd.kernelgen import cache

        der = calculus.derive(problem, hessian=True)
        if not der.hess:
            raise problem.input_error(der.hess_skipped, field=problem.sense, kind="limit")
        mod = _MODULES[problem] = cache.load_module(newton_source(der, problem.name or ""))
    return mod


def _blocks(m: int, tpb: int) -> int:
    return max(1, -(-m // tpb))


def run_newton_starts(problem, X, lower, upper, opts, *, gradient_test=True,
                      report_best=False, deadline=None) -> DeviceRuns:
    """Newton from every row of X on the device (see the module docstring).

    Args:
        problem: the (unconstrained or bounded) symbolic Problem.
        X: (M, n) starts inside [lower, upper].
        opts: newton's checked options (tol, c1, max_iter, typical_x, typical_f).
        gradient_test, report_best: as multistart_loop.run_starts (newton: True, False).
        deadline: symgd.clock time after which no further iteration is launched; the
            starts still running then keep their status RUNNING (``timed_out``).
    """
    cuda = availability.check_cuda()
    availability.check_multistart("newton", X.shape[1], len(problem.constraints),
                                  problem.is_fit)
    mod = device_module(problem)
    tpb = TPB_SIM if availability.simulator_requested() else TPB_GPU
    m, n = X.shape
    grid = (_blocks(m, tpb), tpb)
    lo = np.ascontiguousarray(lower, dtype=np.float64)
    hi = np.ascontiguousarray(upper, dtype=np.float64)
    bounded = bool(np.any(np.isfinite(lo)) or np.any(np.isfinite(hi)))
    # the state stays on the device from here to the end
    dX = cuda.to_device(np.ascontiguousarray(X.T, dtype=np.float64))
    dG = cuda.device_array((n, m), dtype=np.float64)
    dXB = cuda.device_array((n, m), dtype=np.float64)
    dLO, dHI = cuda.to_device(lo), cuda.to_device(hi)
    dFS = cuda.device_array((S.N_FSTATE, m), dtype=np.float64)
    dJS = cuda.device_array((S.N_ISTATE, m), dtype=np.int64)
    dST = cuda.device_array(m, dtype=np.int64)
    dNOTE = cuda.device_array(m, dtype=np.int64)
    count = np.zeros(1, dtype=np.int64)
    dCount = cuda.to_device(count)
    tol, c1 = float(opts["tol"]), float(opts["c1"])
    typ_x, typ_f = float(opts["typical_x"]), float(opts["typical_f"])
    max_iter = int(opts["max_iter"])
    mod.k_start[grid](dX, dG, dXB, dFS, dJS, dST)
    launches, timed_out = 0, False
    # each launch either stops a start or raises its iteration count: after
    # max_iter + 1 launches none is running
    while launches < max_iter + 1:
        mod.k_step[grid](dX, dG, dXB, dLO, dHI, dFS, dJS, dST, bounded, tol, c1,
                         typ_x, typ_f, max_iter)
        launches += 1
        if launches % CHECK_EVERY == 0 or launches == 1:
            dCount.copy_to_device(np.zeros(1, dtype=np.int64))
            mod.k_count[grid](dST, dCount)
            if int(dCount.copy_to_host()[0]) == m:
                break
            if deadline is not None and clock.now() >= deadline:
                timed_out = True
                break
    mod.k_settle[grid](dX, dG, dXB, dLO, dHI, dFS, dJS, dST, dNOTE, tol, typ_x, typ_f,
                       bool(report_best), bool(gradient_test))
    return DeviceRuns(x=dX.copy_to_host().T.copy(), g=dG.copy_to_host().T.copy(),
                      fstate=dFS.copy_to_host().T.copy(), istate=dJS.copy_to_host().T.copy(),
                      codes=dST.copy_to_host(), notes=dNOTE.copy_to_host(),
                      launches=launches, timed_out=timed_out)
