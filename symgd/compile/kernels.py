"""Build (or load from the cache) one problem's compiled kernels."""
from __future__ import annotations

import time
from dataclasses import dataclass

from symgd.compile import cache, codegen
from symgd.compile.fastcall import kernel_handle


@dataclass(frozen=True)
class Kernels:
    """A problem's compiled kernels (numba dispatchers) and fast handles to them.

    ``fun(x)``, ``fg(x, g)`` and ``hess(x, H)`` are callable from Python too;
    ``handles`` are what method loops take. ``hess`` is None when it was too large.
    """

    n: int
    fun: object
    fg: object
    hess: object | None
    handles: tuple
    module_name: str
    time_s: float


def compile_problem(problem, derivatives=None, *, with_hessian: bool = True) -> Kernels:
    """Generate, cache and load the kernels of a (non-data) problem.

    Args:
        problem: the Problem.
        derivatives: a :class:`symgd.calculus.Derivatives` already computed, if any.
        with_hessian: include the Hessian kernel.
    """
    from symgd import calculus

    t0 = time.perf_counter()
    d = derivatives or calculus.derive(problem, hessian=with_hessian)
    hess = d.hess if with_hessian else ()
    src = codegen.kernel_source(problem.name, d.f, d.grad, hess, d.symbols)
    module = cache.load_module(src)
    h = getattr(module, "hess", None)
    handles = (kernel_handle(module.fun), kernel_handle(module.fg),
               kernel_handle(h) if h is not None else None)
    return Kernels(len(d.symbols), module.fun, module.fg, h, handles, module.__name__,
                   time.perf_counter() - t0)
