"""How a compiled method loop evaluates a bundle of kernels, whatever its source.

A *bundle* is the one argument through which a method loop (symgd.methods.loops) reaches
a problem's kernels. The loops call only the four functions below; which code they
compile to is chosen by the bundle's numba type, so one loop source serves every kernel
source and is compiled once per source (and cached on disk):

    fun(K, x) -> f                 objective only
    fg(K, x, g) -> f               objective and gradient (g written)
    hess(K, x, H) -> 0.0           Hessian, full symmetric (H written)
    line_poly(K, xd, coef) -> deg  coefficients of phi(a) = f(x + a d) (polynomials)

This module implements them for the symbolic source's bundle, a tuple of four kernel
addresses (fun, fg, hess, line_poly; 0 where absent) called through
:func:`symgd.kernelgen.fastcall.call_kernel`. symgd.fit.bundle adds the implementation for
data fits (parallel reductions over the samples), in the same way, with ``overload``.

The plain Python bodies below run when a loop is not compiled (numba's
``NUMBA_DISABLE_JIT``) with a bundle object that has the same methods; they are what a
bundle whose reductions run outside numba (a GPU, Dask) would provide.
"""
from __future__ import annotations

from numba import types
from numba.extending import overload

from symgd.kernelgen.fastcall import call_kernel

SYMBOLIC_BUNDLE = types.UniTuple(types.int64, 4)  # (fun, fg, hess, line_poly) addresses


def fun(K, x):
    """f(x)."""
    return K.fun(x)


def fg(K, x, g):
    """f(x), with the gradient written into g."""
    return K.fg(x, g)


def hess(K, x, H):
    """The Hessian at x written into H; returns 0.0."""
    return K.hess(x, H)


def line_poly(K, xd, coef):
    """Coefficients of f(x + a d) in a (xd = [x, d]); returns the degree."""
    return K.line_poly(xd, coef)


def _is_symbolic(K) -> bool:
    return isinstance(K, types.UniTuple) and K.count == 4 and isinstance(K.dtype, types.Integer)


@overload(fun)
def _fun_symbolic(K, x):
    if _is_symbolic(K):
        return lambda K, x: call_kernel(K[0], x, x)
    return None


@overload(fg)
def _fg_symbolic(K, x, g):
    if _is_symbolic(K):
        return lambda K, x, g: call_kernel(K[1], x, g)
    return None


@overload(hess)
def _hess_symbolic(K, x, H):
    if _is_symbolic(K):
        return lambda K, x, H: call_kernel(K[2], x, H)
    return None


@overload(line_poly)
def _line_poly_symbolic(K, xd, coef):
    if _is_symbolic(K):
        return lambda K, xd, coef: call_kernel(K[3], xd, coef)
    return None
