"""Full-batch gd, linesearch and newton on a fit, with symgd's compiled method loops.

The loops of symgd/methods/loops.py take kernels as C function addresses with the
signature ``double k(double *x, double *out)`` (symgd.kernel_types). A data kernel needs
the data as well, so each one is wrapped in a ctypes callback with that signature that
calls the parallel data kernel (symgd.fit.kernels). The loops, their line searches,
statuses, time limits and best-point logic are then exactly those of every other
problem; the callback costs a few microseconds per pass, nothing next to a pass over
the data.

The loss history is read from the callbacks: every loop evaluates ``fg`` at its own
current point ``x`` (the first row of its work array) when it starts and when it
accepts a step, and at other arrays during line searches, so the values computed at
the address of the first ``fg`` call are the loss per iteration.

A Python exception inside a callback (Ctrl-C included) is kept, the callback returns
nan from then on (the loop stops on non-finite values), and the exception is raised
again (or, for Ctrl-C, turned into the status ``interrupted``) once the loop returns.
"""
from __future__ import annotations

import ctypes
import math
from types import SimpleNamespace

import numpy as np

PROTO = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_void_p, ctypes.c_void_p)


class Callbacks:
    """fun / fg / hess of a fit as C function pointers for the method loops."""

    def __init__(self, kernels, *, with_hessian: bool):
        self.K = kernels
        p = kernels.p
        self.p = p
        self.nbytes = 8 * p
        self.x = np.empty(p)
        self.g = np.empty(p)
        self.H = np.empty((p, p))
        self.xaddr, self.gaddr, self.Haddr = (self.x.ctypes.data, self.g.ctypes.data,
                                              self.H.ctypes.data)
        self.with_hessian = with_hessian
        self.h_at = None          # x where self.H was computed by fg
        self.error = None
        self.history = []
        self.loop_x = None        # address of the loop's own x
        self._c = (PROTO(self._fun), PROTO(self._fg), PROTO(self._hess))
        self.addresses = tuple(ctypes.cast(c, ctypes.c_void_p).value for c in self._c)

    def _read(self, xp):
        ctypes.memmove(self.xaddr, xp, self.nbytes)
        return self.x

    def _fail(self, err):
        if self.error is None:
            self.error = err
        return math.nan

    def _fun(self, xp, outp):
        if self.error is not None:
            return math.nan
        try:
            return self.K.value(self._read(xp))
        except BaseException as err:  # noqa: BLE001  (re-raised after the loop)
            return self._fail(err)

    def _fg(self, xp, gp):
        if self.error is not None:
            return math.nan
        try:
            x = self._read(xp)
            if self.with_hessian:
                f = self.K.value_grad_hess(x, self.g, self.H)
                self.h_at = x.copy()
            else:
                f = self.K.value_grad(x, self.g)
            ctypes.memmove(gp, self.gaddr, self.nbytes)
            if self.loop_x is None:
                self.loop_x = xp
            if xp == self.loop_x:
                self.history.append(f)
            return f
        except BaseException as err:  # noqa: BLE001
            return self._fail(err)

    def _hess(self, xp, Hp):
        if self.error is not None:
            return math.nan
        try:
            x = self._read(xp)
            if self.h_at is None or not np.array_equal(self.h_at, x):
                self.K.value_grad_hess(x.copy(), np.empty(self.p), self.H)
                self.h_at = x.copy()
            ctypes.memmove(Hp, self.Haddr, self.nbytes * self.p)
            return 0.0
        except BaseException as err:  # noqa: BLE001
            return self._fail(err)


def run_fullbatch(method: str, kernels, x0, lower, upper, opts: dict, deadline):
    """Run method ``method`` (gd, linesearch, newton) of symgd.methods on a fit.

    Returns (Outcome of symgd.methods.driver, loss history, most negative curvature at
    the end: < 0 flags a saddle point (Newton only, else 0.0)).
    """
    from symgd import methods

    spec = methods.REGISTRY[method]
    cb = Callbacks(kernels, with_hessian=spec.needs_hessian)
    kern = SimpleNamespace(addresses=cb.addresses, line_poly=0,
                           has_hessian=spec.needs_hessian, cfuncs=cb._c)
    outcome = spec.run(kern, np.array(x0, dtype=float), lower, upper, opts, deadline)
    curvature = 0.0
    if cb.error is not None:
        if isinstance(cb.error, KeyboardInterrupt):
            outcome.status = "interrupted"
        else:
            raise cb.error
    elif outcome.status == "converged" and spec.needs_hessian:
        from symgd.compile.fastcall import entry_point
        from symgd.methods.loops import negative_curvature
        g = outcome.g if outcome.g is not None else np.zeros(x0.size)
        curvature = float(entry_point(negative_curvature)(cb.addresses[2], outcome.x, g,
                                                          lower, upper))
    return outcome, cb.history, curvature
