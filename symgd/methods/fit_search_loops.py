"""The derivative-free loops of symgd.methods.search_loops compiled for data fits
(symgd.fit.bundle): random search and local search over a fit's loss, each evaluation
one parallel pass over the samples (``fun`` only). Compiled once, cached on disk,
loaded through symgd.methods.loading.
"""
from __future__ import annotations

from numba import njit, types

from symgd.fit.bundle import FIT_BUNDLE
from symgd.methods import search_loops
from symgd.methods.loops import STATE

_JIT = dict(cache=True, error_model="numpy", nogil=True)
_SIG = types.int64(FIT_BUNDLE, *STATE)

random_search_loop = njit(_SIG, **_JIT)(search_loops.random_search_loop.py_func)
local_search_loop = njit(_SIG, **_JIT)(search_loops.local_search_loop.py_func)
