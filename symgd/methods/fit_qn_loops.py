"""The quasi-Newton loops of symgd.methods.qn_loops compiled for data fits
(symgd.fit.bundle): bfgs and lbfgs on a fit run with no Python between iterations,
each evaluation one parallel pass over the samples. Compiled once, cached on disk, and
loaded through symgd.methods.loading (kept apart from fit_loops so that a fit solved by
newton or linesearch does not compile these too).
"""
from __future__ import annotations

from numba import njit, types

from symgd.fit.bundle import FIT_BUNDLE
from symgd.methods import qn_loops
from symgd.methods.loops import STATE

_JIT = dict(cache=True, error_model="numpy", nogil=True)
_SIG = types.int64(FIT_BUNDLE, *STATE)

bfgs_loop = njit(_SIG, **_JIT)(qn_loops.bfgs_loop.py_func)
lbfgs_loop = njit(_SIG, **_JIT)(qn_loops.lbfgs_loop.py_func)
