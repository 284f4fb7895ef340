"""Start-up trims for the command line (``python -m symgd``), where one run is one
process and every tenth of a second shows (issue 15: a warm fit under 1 s).

:func:`defer_blas_check`: loading the first compiled function (numba's cache included)
imports ``numba.np.arraymath``, which at import asks whether BLAS is there by importing
``scipy.linalg.cython_blas``: scipy.linalg and, through its array-API layer, numpy.ma,
numpy.testing and unittest, about 0.1-0.15 s of a warm fit's ~1 s. The answer only
chooses how np.correlate and np.convolve compile (symgd compiles neither); the
functions that need BLAS (np.dot, np.linalg) check again when they compile, through
``numba.np.linalg.ensure_blas``, which stays as it is. While arraymath is imported,
``ensure_blas`` answers from whether scipy.linalg is installed (without importing it);
afterwards numba's own function is back. Anything unexpected leaves numba untouched.

This module imports nothing beyond the standard library.
"""
from __future__ import annotations

import importlib.util
import sys

ARRAYMATH = "numba.np.arraymath"


class _DeferBlasCheck:  # a meta path finder (importlib.abc would import more)
    """Finds numba.np.arraymath once, running its import with the lazy BLAS answer."""

    def find_spec(self, name, path=None, target=None):
        if name != ARRAYMATH:
            return None
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        try:
            spec = importlib.util.find_spec(name)
            real = spec.loader.exec_module
        except Exception:  # noqa: BLE001  (numba's own import then runs as always)
            return None

        def exec_module(module):
            try:
                from numba.np import linalg
                numba_check = linalg.ensure_blas
            except Exception:  # noqa: BLE001
                return real(module)
            linalg.ensure_blas = _installed_blas
            try:
                return real(module)
            finally:
                linalg.ensure_blas = numba_check

        spec.loader.exec_module = exec_module
        return spec


def _installed_blas() -> None:
    """numba's ensure_blas answered without importing scipy.linalg (ImportError when
    it is not installed, as numba's own raises)."""
    try:
        found = importlib.util.find_spec("scipy.linalg") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ImportError("scipy 0.16+ is required for linear algebra")


def defer_blas_check() -> None:
    """Install the finder (before numba.np.arraymath is imported; else nothing)."""
    if ARRAYMATH not in sys.modules and \
            not any(isinstance(f, _DeferBlasCheck) for f in sys.meta_path):
        sys.meta_path.insert(0, _DeferBlasCheck())
