"""``symgd.compile(problem)``: a problem's compiled f, gradient and Hessian as plain
Python callables (SPEC §5), shaped for scipy.optimize.minimize's ``fun=``, ``jac=`` and
``hess=``::

    fns = symgd.compile(problem)
    scipy.optimize.minimize(fns.f, fns.x0, jac=fns.grad, hess=fns.hess,
                            method="trust-exact")

The callables are the numba kernels symgd's own methods run (symgd.kernelgen for an
objective, symgd.fit for a data fit, both through the disk cache of compiled kernels),
so a second process compiles nothing. They compute the objective **as the user wrote
it**: for a ``maximize`` problem ``fns.f`` is the function being maximised (scipy
minimises, so pass ``lambda x: -fns.f(x)`` and negate grad and hess too, as with any
scipy objective). For a data fit ``fns.f`` is the loss of SPEC §1 over all samples,
``L(theta) = (1/n) sum_i l(r_i(theta))`` (``sse`` and ``reduce: sum`` without 1/n),
which is what ``Result.fun`` reports at the fitted parameters. Constraints and bounds
are not part of these functions (pass them to scipy separately).

Each call takes any array-like of ``len(fns.names)`` numbers (a list, a tuple, a float32
array, a strided view), converts it to a contiguous float64 array, and returns a Python
float or a new float64 array the caller owns (never a buffer the next call overwrites).
"""
from __future__ import annotations

import numpy as np

from symgd.errors import InputError


class CompiledFunctions:
    """The compiled objective of one problem, callable from Python.

    Attributes:
        names: the variables, in the order of x.
        x0: the start of the problem (a new float64 array on each access).
        sense: ``"minimize"`` or ``"maximize"``, as the problem says.
        has_hessian: whether :meth:`hess` is available (a Hessian too large to compile
            is left out; then :meth:`hess` raises RuntimeError saying why).
    """

    def __init__(self, kernels, names, x0, sense: str, sign: float, hess_note: str = ""):
        self._k = kernels
        self.names = tuple(names)
        self._x0 = np.array(x0, dtype=np.float64)
        self.sense = sense
        # the kernels compute the minimised objective: sign turns it back into the user's
        self._sign = float(sign)
        self._hess_note = hess_note

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def x0(self) -> np.ndarray:
        return self._x0.copy()

    @property
    def has_hessian(self) -> bool:
        return bool(self._k.has_hessian)

    def _point(self, x) -> np.ndarray:
        try:
            a = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"x must be {self.n} real numbers (the variables "
                             f"{', '.join(self.names)}): {exc}") from None
        if a.ndim != 1 or a.shape[0] != self.n:
            raise ValueError(f"x must be a 1-D array of length {self.n} (the variables "
                             f"{', '.join(self.names)}), got shape {a.shape}")
        return np.ascontiguousarray(a)

    def f(self, x) -> float:
        """The objective at x, in the user's sense (a Python float)."""
        return self._sign * float(self._k.fun(self._point(x)))

    def grad(self, x) -> np.ndarray:
        """The gradient of :meth:`f` at x (a new float64 array of length n)."""
        g = np.empty(self.n)
        self._k.fg(self._point(x), g)
        return g if self._sign > 0 else -g

    def f_and_grad(self, x) -> tuple:
        """(f(x), grad(x)) from one kernel call: scipy's ``minimize(fns.f_and_grad, x0,
        jac=True)``."""
        g = np.empty(self.n)
        f = float(self._k.fg(self._point(x), g))
        return (f, g) if self._sign > 0 else (-f, -g)

    def hess(self, x) -> np.ndarray:
        """The Hessian of :meth:`f` at x (a new n x n float64 array, symmetric)."""
        if not self._k.has_hessian:
            raise RuntimeError("this problem's Hessian was not compiled"
                               + (f": {self._hess_note}" if self._hess_note else ""))
        H = np.zeros((self.n, self.n))
        self._k.hess(self._point(x), H)
        return H if self._sign > 0 else -H

    def __repr__(self) -> str:
        return (f"CompiledFunctions({self.sense}, variables=({', '.join(self.names)}), "
                f"hessian={'yes' if self.has_hessian else 'no'})")


def compile_problem(problem) -> CompiledFunctions:
    """Compile ``problem``'s objective, gradient and Hessian (see the module docstring).

    Args:
        problem: a :class:`symgd.Problem` (with or without data), or a path to a
            problem file.

    Returns:
        A :class:`CompiledFunctions` with ``f``, ``grad``, ``hess``, ``f_and_grad``,
        ``names`` and ``x0``.

    Raises:
        symgd.InputError: the problem cannot be compiled (e.g. a gradient beyond the
            size limits).
    """
    if isinstance(problem, (str, bytes)) or hasattr(problem, "__fspath__"):
        from symgd.problem import load
        problem = load(problem)
    sign = -1.0 if problem.sense == "maximize" else 1.0
    if problem.is_fit:
        return _compile_fit(problem)
    from symgd.solver import compiled

    note = ""
    try:
        kernels = compiled(problem, need_hessian=True).kernels
    except InputError as err:
        if err.kind != "limit":
            raise
        # the Hessian passes the size or time limits: f and grad are still useful
        kernels = compiled(problem, need_hessian=False).kernels
        note = str(err)
    return CompiledFunctions(kernels, problem.names, problem.start, problem.sense, sign, note)


def _compile_fit(problem) -> CompiledFunctions:
    """A data fit: the FitKernels over its samples, loss value, gradient and Hessian."""
    from symgd.fit.source import fit_kernels_with_hessian

    K, err = fit_kernels_with_hessian(problem, delta=float(problem.options.get("delta", 1.0)))
    note = "" if err is None else str(err)
    # the kernels minimise spec.sign * (the user's per-sample objective)
    return CompiledFunctions(K, problem.names, problem.start, problem.sense, K.spec.sign,
                             note)
