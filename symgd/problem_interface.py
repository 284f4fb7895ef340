"""What the solve pipeline reads from a problem, declared once.

Two classes implement it: :class:`symgd.Problem` (built from user text or sympy
objects) and :class:`symgd.warm.LightProblem` (rebuilt from the warm index without
importing sympy). The solver asks ``kernel_source`` where the kernels come from instead
of testing for attributes, so a third kind (a GPU or Dask bundle) is one more value.

This module imports neither sympy nor numpy at import time: the warm path loads it.
"""
from __future__ import annotations

import abc

# Where a problem's compiled kernels come from (symgd.solver picks the source by it):
SYMBOLIC = "symbolic"   # derive with sympy, generate and compile (symgd.kernelgen)
DATA = "data"           # per-sample losses over a data set (symgd.fit)
INDEXED = "indexed"     # a module already compiled, named by the warm index (symgd.warm)


class ProblemInterface(abc.ABC):
    """The read-only interface a solve needs.

    Attributes every implementation sets:
        name: the problem's name (for reports).
        sense: "minimize" or "maximize".
        method: the method the problem asks for, or None.
        options: the problem's options (a mapping, not modified by the solver).
        variables: a tuple of objects with ``name``, ``start``, ``lower``, ``upper``
            (bounds None where free).
        constraints: a tuple (empty where unconstrained).
        source: the file the problem came from, or None.
    """

    name: str
    sense: str
    method: str | None
    options: dict
    variables: tuple
    constraints: tuple = ()
    source: str | None = None

    @property
    @abc.abstractmethod
    def kernel_source(self) -> str:
        """SYMBOLIC, DATA or INDEXED: which kernel source builds this problem's kernels."""

    @property
    @abc.abstractmethod
    def is_polynomial(self) -> bool:
        """Whether the objective is a polynomial in the variables (exact line search)."""

    @abc.abstractmethod
    def location(self, field: str) -> tuple:
        """(line, column) of ``field`` in the source file, or (None, None)."""

    @abc.abstractmethod
    def input_error(self, message: str, field: str | None = None, kind: str = "input"):
        """An InputError located at ``field`` of this problem's source."""

    # -- derived from the attributes above ------------------------------------------------
    @property
    def names(self) -> tuple:
        return tuple(v.name for v in self.variables)

    @property
    def start(self):
        import numpy as np
        return np.array([v.start for v in self.variables], dtype=float)

    @property
    def has_bounds(self) -> bool:
        return any(v.lower is not None or v.upper is not None for v in self.variables)

    @property
    def is_fit(self) -> bool:
        return self.kernel_source == DATA
