"""Iterative methods: the registry (symgd.methods.registry), option checking
(symgd.methods.options), runners (symgd.methods.runners) and the compiled loops they
drive (loops.py, fit_loops.py, sgd_loop.py; loaded through symgd.methods.loading).

Arrays in, arrays out: importing this package loads neither sympy nor numba.
"""
from __future__ import annotations

from symgd.methods.options import (COMMON_OPTIONS, DATA_OPTIONS, LINE_SEARCHES,  # noqa: F401
                                   MAX_COUNT, count_defect, resolve_options)
from symgd.methods.registry import (REGISTRY, MethodSpec, method_spec,  # noqa: F401
                                    public_methods)
