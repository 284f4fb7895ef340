"""Build (or load from the cache) one problem's compiled kernels."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from symgd.kernelgen import cache


@dataclass(frozen=True)
class Kernels:
    """A problem's compiled kernels.

    ``addresses`` = (fun, fg, hess) as integers, what method loops take (hess is 0
    when it was left out). ``line_poly`` is the address of the exact-line-search
    kernel (0 when not built: not asked for, or f is not a polynomial). ``cfuncs`` keeps the compiled objects alive while the
    addresses are in use. ``fun(x)``, ``fg(x, g)`` and ``hess(x, H)`` call them from
    Python (checks, finite differences; not the hot path).
    """

    n: int
    addresses: tuple
    cfuncs: tuple
    module_name: str
    time_s: float
    line_poly: int = 0
    backend: str = "numba"  # or "python": the fallback for code too large to compile
    # a banded Hessian (templated sums, symgd.kernelgen.loop_codegen): the address of
    # ``hess_band`` and its half-bandwidth b, or (0, -1)
    hess_band: int = 0
    band: int = -1
    band_pos: tuple | None = None   # the band's variable positions (None: given order)
    # a sparse Hessian (symgd.kernelgen.sparse_pattern): the address of ``hess_sparse``,
    # its slot count (-1: none), its variable positions and packed Cholesky structure
    hess_sparse: int = 0
    sparse_nnz: int = -1
    sparse_pos: np.ndarray | None = None
    sparse_struct: np.ndarray | None = None

    @property
    def has_hessian(self) -> bool:
        return self.addresses[2] != 0

    # -- the kernel-bundle interface of symgd.methods (a fit's is symgd.fit.kernels) ----
    def loop_arg(self, *, with_hessian: bool = True, banded: bool = False,
                 sparse: bool = False) -> tuple:
        """What the compiled loops take (symgd.kernelgen.evaluate's symbolic bundle);
        ``banded`` / ``sparse``: the Hessian slot holds ``hess_band`` / ``hess_sparse``
        (loops.newton_loop on the band or the sparse pattern)."""
        h = self.hess_band if banded else self.hess_sparse if sparse else self.addresses[2]
        return (self.addresses[0], self.addresses[1], h, self.line_poly)

    loop_module = "loops"  # symgd.methods.loading name of the loops compiled for it

    def fun(self, x) -> float:
        from symgd.kernelgen.fastcall import call_vec
        x = np.ascontiguousarray(x, dtype=np.float64)
        return float(call_vec(self.addresses[0], x, np.empty(1)))

    def fg(self, x, g) -> float:
        from symgd.kernelgen.fastcall import call_vec
        return float(call_vec(self.addresses[1], np.ascontiguousarray(x, dtype=np.float64), g))

    def hess(self, x, H) -> None:
        from symgd.kernelgen.fastcall import call_mat
        if not self.has_hessian:
            raise RuntimeError("this problem was compiled without its Hessian")
        call_mat(self.addresses[2], np.ascontiguousarray(x, dtype=np.float64), H)

    @property
    def has_sparse_hessian(self) -> bool:
        return bool(self.hess_sparse) and self.sparse_nnz >= 0

    def sparse_hess_dense(self, x, H) -> None:
        """H (dense n x n) from ``hess_sparse``: its slots' lower-triangle entries
        scattered to both triangles (fill slots hold zeros)."""
        rows, cols = self.sparse_hessian_coo()
        vals = self.sparse_hessian_nz(x)
        H.fill(0.0)
        H[rows, cols] = vals
        H[cols, rows] = vals

    def sparse_hessian_coo(self) -> tuple:
        """The variables (row, column) of each value of :meth:`sparse_hessian_nz`:
        one triangle, each pair once (fill slots included, which hold zeros)."""
        found = _SLOT_VARIABLES.get(self.module_name)
        if found is None:
            found = _SLOT_VARIABLES[self.module_name] = _slot_variables(self)
        return found

    def sparse_hessian_nz(self, x) -> np.ndarray:
        """The Hessian's entries in ``hess_sparse``'s slots."""
        from symgd.kernelgen.fastcall import call_vec
        vals = np.zeros(self.sparse_nnz)
        call_vec(self.hess_sparse, np.ascontiguousarray(x, dtype=np.float64), vals)
        return vals


_SLOT_VARIABLES: dict = {}   # module name -> (rows, cols) of its hess_sparse slots


def _slot_variables(k: Kernels) -> tuple:
    """The variables (row, column) of each slot of k's hess_sparse, from its packed
    structure (symgd.kernelgen.sparse_pattern: CSC by positions) and positions."""
    n, nnz = k.n, k.sparse_nnz
    colptr = k.sparse_struct[:n + 1].astype(np.int64)
    row_pos = k.sparse_struct[n + 1:n + 1 + nnz].astype(np.int64)
    var_at = np.empty(n, dtype=np.int64)
    var_at[np.asarray(k.sparse_pos, dtype=np.int64)] = np.arange(n)
    return var_at[row_pos], var_at[np.repeat(np.arange(n), np.diff(colptr))]


def compile_problem(problem, derivatives=None, *, with_hessian: bool = True,
                    with_line_poly: bool = False) -> Kernels:
    """Generate, cache and load the kernels of a (non-data) problem.

    Args:
        problem: the Problem.
        derivatives: a :class:`symgd.calculus.Derivatives` already computed, if any.
        with_hessian: include the Hessian kernel.
        with_line_poly: include the exact-line-search kernel where f is a polynomial.
    """
    from symgd import calculus
    from symgd.kernelgen import codegen

    t0 = time.perf_counter()
    d = derivatives or calculus.derive(problem, hessian=with_hessian)
    hess = d.hess if with_hessian else ()
    src, backend = codegen.kernel_source(problem.name, d.f, d.grad, hess, d.symbols,
                                         line_poly=with_line_poly)
    module = cache.load_module(src)
    return kernels_from_module(module, len(d.symbols), time.perf_counter() - t0)


def kernels_from_module(module, n: int, time_s: float) -> Kernels:
    """The Kernels record of a loaded generated module."""
    h = getattr(module, "hess", None)
    lp = getattr(module, "line_poly", None)
    cfuncs = (module.fun, module.fg, h, lp)
    addresses = (module.fun.address, module.fg.address, 0 if h is None else h.address)
    backend = "python" if getattr(module.KERNEL, "__module__", "") == "symgd.kernelgen.pykernel" \
        else "numba"
    hb = getattr(module, "hess_band", None)
    hs = getattr(module, "hess_sparse", None)
    return Kernels(n, addresses, cfuncs + (hb, hs), module.__name__, time_s,
                   0 if lp is None else lp.address, backend,
                   0 if hb is None else hb.address, int(getattr(module, "BAND", -1)),
                   getattr(module, "BAND_POS", None),
                   0 if hs is None else hs.address, int(getattr(module, "SPARSE_NNZ", -1)),
                   None if hs is None else module.SPARSE_POS[0],
                   None if hs is None else module.SPARSE_STRUCT[0])


# A dense n x n Hessian beyond this many variables (128 MB at 4,000) is not built from
# templates: newton runs on the band where there is one, else it is refused with advice.
TEMPLATED_HESSIAN_MAX_VARS = 4000
# The straight-line Hessian code of the terms outside the loops compiles at a few ms
# an entry (a 60-variable (sum x)^2 has 1,830 and took over 10 s); beyond this many,
# newton is refused at once with advice and other methods go without a Hessian.
REST_HESSIAN_MAX = 1000
# The banded Hessian is built where it holds at most this share of the dense one.
BAND_MAX_SHARE = 0.25


def band_pays(n: int, b: int) -> bool:
    """Whether factoring the band (O(n b^2)) beats the dense Hessian (O(n^3))."""
    return n >= 16 and (b + 1) <= BAND_MAX_SHARE * n


def compile_templated(problem, parts, *, with_hessian: bool, band: int = -1,
                      band_pos=None, sparse=None) -> Kernels:
    """Kernels of an objective whose repeated terms are loops (symgd.kernelgen.templates):
    the templates are differentiated here (the whole objective is never differentiated
    term by term), so derivation and compile time do not grow with the number of terms."""
    from symgd.kernelgen import loop_codegen

    t0 = time.perf_counter()
    src = loop_codegen.loop_source(problem.name, parts, problem.symbols, hessian=with_hessian,
                                   band=band, band_pos=band_pos, sparse=sparse)
    module = cache.load_module(src)
    return kernels_from_module(module, len(problem.symbols), time.perf_counter() - t0)
