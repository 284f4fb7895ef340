"""The method loops of symgd.methods.loops compiled for data fits (symgd.fit.bundle).

The same loop source as every other problem, compiled for the fit bundle's type, whose
``fun``/``fg``/``hess`` are parallel reductions over the samples: full-batch gd,
linesearch and newton on a fit run with no Python between iterations. Compiled once
(about as long as the loops themselves) and cached on disk; loaded through
symgd.methods.loading like the other loop modules.
"""
from __future__ import annotations

from numba import njit, types

from symgd.fit.bundle import FIT_BUNDLE
from symgd.kernel_types import VEC
from symgd.methods import loops

_JIT = dict(cache=True, error_model="numpy", nogil=True)
_SIG = types.int64(FIT_BUNDLE, *loops._STATE)

gd_loop = njit(_SIG, **_JIT)(loops.gd_loop.py_func)
linesearch_loop = njit(_SIG, **_JIT)(loops.linesearch_loop.py_func)
newton_loop = njit(_SIG, **_JIT)(loops.newton_loop.py_func)
negative_curvature = njit(types.float64(FIT_BUNDLE, VEC, VEC, VEC, VEC),
                          **_JIT)(loops.negative_curvature.py_func)
