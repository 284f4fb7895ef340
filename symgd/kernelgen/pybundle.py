"""A kernel bundle whose evaluations run in Python: the way a source that reduces
outside numba (a GPU, a Dask cluster) drives the same compiled method loops.

A compiled loop cannot launch a CUDA kernel or submit a Dask task itself, but it can
call a C function pointer. :class:`PythonBundle` turns three Python callables

    fun(x) -> f,    fg(x, g) -> f (g written),    hess(x, H) (H written)

into C callbacks with the kernels' signature ``double k(double *x, double *out)``
(symgd.kernel_types) and presents them as the symbolic source's bundle (a tuple of
addresses, symgd.kernelgen.evaluate). The loop's step logic, line searches, statuses
and best-point bookkeeping are then exactly those of every other problem, with one
Python call (one launch, one task) per evaluation. CPU bundles never take this path:
their loops stay wholly compiled.

A Python exception inside a callback (Ctrl-C included) is kept, the callbacks return
nan from then on (the loop stops on non-finite values), and :meth:`after_run` raises
it again once the loop returns, or turns Ctrl-C into the status ``interrupted``.
"""
from __future__ import annotations

import ctypes
import math

import numpy as np

_PROTO = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_void_p, ctypes.c_void_p)


class CallbackErrors:
    """What a C callback raised, kept for after the compiled loop returns (module
    docstring): ``fail(err)`` keeps the first and answers nan, ``after_run`` raises it
    again or turns Ctrl-C into the status ``interrupted``."""

    error = None

    def fail(self, err):
        if self.error is None:
            self.error = err
        return math.nan

    def after_run(self, outcome):
        """Raise what a callback raised during the run (Ctrl-C: status interrupted)."""
        err, self.error = self.error, None
        if err is None:
            return outcome
        if isinstance(err, KeyboardInterrupt):
            outcome.status = "interrupted"
            return outcome
        raise err


class PythonBundle(CallbackErrors):
    """fun / fg / hess of n variables, evaluated by Python, for the compiled loops."""

    loop_module = "loops"   # the symbolic bundle's loops: addresses are addresses

    def __init__(self, n: int, fun, fg, hess=None):
        self.n = n
        self._fun, self._fg, self._hess = fun, fg, hess
        self._x = np.empty(n)
        self._out = np.empty(n)
        self._H = np.empty((n, n))
        self.error = None
        self._c = (_PROTO(self._call_fun), _PROTO(self._call_fg), _PROTO(self._call_hess))
        self._addresses = tuple(ctypes.cast(c, ctypes.c_void_p).value for c in self._c)

    @property
    def has_hessian(self) -> bool:
        return self._hess is not None

    def loop_arg(self, *, with_hessian: bool = True) -> tuple:
        return (self._addresses[0], self._addresses[1],
                self._addresses[2] if self.has_hessian else 0, 0)

    # -- the Python side of the bundle interface (the solver's checks call these) -------
    def fun(self, x) -> float:
        return float(self._fun(np.asarray(x, dtype=float)))

    def fg(self, x, g) -> float:
        return float(self._fg(np.asarray(x, dtype=float), g))

    def hess(self, x, H) -> None:
        self._hess(np.asarray(x, dtype=float), H)

    # -- the C callbacks ---------------------------------------------------------------
    def _read(self, xp):
        ctypes.memmove(self._x.ctypes.data, xp, 8 * self.n)
        return self._x

    def _call_fun(self, xp, outp):
        if self.error is not None:
            return math.nan
        try:
            return float(self._fun(self._read(xp)))
        except BaseException as err:  # noqa: BLE001  (raised again by after_run)
            return self.fail(err)

    def _call_fg(self, xp, gp):
        if self.error is not None:
            return math.nan
        try:
            f = float(self._fg(self._read(xp), self._out))
            ctypes.memmove(gp, self._out.ctypes.data, 8 * self.n)
            return f
        except BaseException as err:  # noqa: BLE001
            return self.fail(err)

    def _call_hess(self, xp, Hp):
        if self.error is not None:
            return math.nan
        try:
            self._hess(self._read(xp), self._H)
            ctypes.memmove(Hp, self._H.ctypes.data, 8 * self.n * self.n)
            return 0.0
        except BaseException as err:  # noqa: BLE001
            return self.fail(err)
