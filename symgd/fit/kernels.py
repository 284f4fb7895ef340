"""A fit's compiled data kernels, bound to its data, callable from Python.

Generates the kernel module (symgd.fit.codegen), loads it through the kernel cache
(symgd.kernelgen.cache: a module named by the hash of its source, compiled by numba with
``cache=True``), and runs the kernels over the data with the parallel drivers of
symgd.fit.parallel. Sums are returned as sums; the 1/n of a mean is applied here.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from symgd.kernelgen import cache
from symgd.kernelgen.fastcall import entry_point
from symgd.fit import parallel
from symgd.fit.passes import PassSums


@dataclass
class FitKernels(PassSums):
    """Kernels of one fit over one dataset.

    ``scale`` is 1/n for mean losses and 1 for sums: the objective minimised is
    F(theta) = scale * sum_i l_i (values, gradients and lsq pieces: symgd.fit.passes,
    from ``_reduce``). ``addresses[kind]`` are the cfunc addresses
    (``addresses["batch"]`` is what minibatch SGD takes).
    """

    spec: object
    data: object            # symgd.io.data.Dataset
    kinds: frozenset
    addresses: dict
    module_name: str
    derive_s: float
    compile_s: float
    _keep: tuple = field(repr=False, default=())
    _targets: np.ndarray | None = field(repr=False, default=None)
    _weights: np.ndarray | None = field(repr=False, default=None)
    _start: tuple | None = field(repr=False, default=None)
    _rows: np.ndarray | None = field(repr=False, default=None)

    # -- raw passes over the data -------------------------------------------------------
    def _reduce(self, kind: str, theta, n_out: int):
        out = np.empty(n_out)
        th = np.ascontiguousarray(theta, dtype=np.float64)
        n = self.n
        nc = parallel.n_chunks(n, n_out)
        if nc == 1:
            f = entry_point(parallel.reduce_serial)(self.addresses[kind], th, self.data.array,
                                                     n, out)
        else:
            f = entry_point(parallel.reduce_chunks)(self.addresses[kind], th, self.data.array,
                                                     n, nc, out)
        return float(f), out

    @property
    def has_avv(self) -> bool:
        return "avv" in self.addresses

    def evaluate(self, theta, array=None):
        """(model_i, target_i, w_i) for every sample of ``array`` (the (columns, n)
        layout of symgd.io.data; default the fit's data); w is the least-squares weight
        (1 unweighted); per-sample fits: (phi_i, 0, 1)."""
        array = self.data.array if array is None else array
        n = array.shape[1]
        out = np.empty(3 * n)
        th = np.ascontiguousarray(theta, dtype=np.float64)
        entry_point(parallel.map_chunks)(self.addresses["pred"], th, array, n,
                                         parallel.n_chunks(n), out)
        return out[:n], out[n:2 * n], out[2 * n:]

    def predict(self, theta):
        """(model_i, target_i) for every sample; per-sample fits: (phi_i, 0)."""
        return self.evaluate(theta)[:2]

    def targets(self) -> np.ndarray:
        """The target of every sample (independent of theta; computed once)."""
        if self._targets is None:
            _, self._targets, self._weights = self.evaluate(np.zeros(self.p))
        return self._targets

    def weights(self) -> np.ndarray:
        """The least-squares weight w_i of every sample (1 unweighted; computed once)."""
        if self._weights is None:
            _, self._targets, self._weights = self.evaluate(np.zeros(self.p))
        return self._weights

    # -- what the generated module says beside its kernels (symgd.fit.codegen) ----------
    def _module(self):
        return sys.modules[self.module_name]  # loaded with the kernels, on every path

    @property
    def model_columns(self) -> tuple:
        """Indices (into spec.data_symbols) of the data columns the model reads."""
        return tuple(self._module().MODEL_COLUMNS)

    @property
    def weight_field(self) -> str | None:
        """"weights" or "sigma" for a weighted least-squares fit, else None."""
        return self._module().WEIGHT_FIELD

    def declared(self) -> tuple:
        """(name, kind, tie text or None) of every declared variable, kind "fit",
        "fixed" (vary: false) or "tied" (expr)."""
        got = getattr(self._module(), "DECLARED", None)
        return got if got is not None else tuple((nm, "fit", None) for nm in self.spec.names)

    def expand(self, theta) -> tuple:
        """(values of every declared variable, T = their derivatives in theta, shape
        (declared, p)) at the fitted parameters theta: the identity when none is held
        or tied."""
        fn = getattr(self._module(), "declared_values", None)
        th = np.asarray(theta, dtype=float)
        if fn is None:
            return th.copy(), np.eye(th.size)
        m = len(self.declared())
        out, T = np.empty(m), np.zeros((m, th.size))
        fn(th, out, T)
        return out, T

    # -- the kernel-bundle interface of symgd.methods (as symgd.kernelgen.kernels) -------
    loop_module = "fit_loops"  # the loops compiled for symgd.fit.bundle's type

    def loop_arg(self, *, with_hessian: bool = False) -> tuple:
        """The tuple the compiled loops take (symgd.fit.bundle.FIT_BUNDLE); with the
        Hessian, each gradient pass also makes H (one fgh pass per accepted point)."""
        from symgd.fit.bundle import make_bundle
        return make_bundle(self, with_hessian=with_hessian and self.has_hessian)

    @property
    def has_hessian(self) -> bool:
        return "fgh" in self.addresses

    def rows(self) -> np.ndarray:
        """The data by sample (Dataset.rows()), made once for these kernels: minibatch
        SGD reads it on every solve, and copying 1e6 x 11 values costs ~40 ms."""
        if self._rows is None:
            self._rows = self.data.rows()
        return self._rows

    def batch(self, theta, idx, grad, rows=None) -> float:
        """The batch kernel from Python: mean loss over samples idx, mean gradient.
        ``rows``: the data by sample (Dataset.rows(); made here when not given)."""
        th = np.ascontiguousarray(theta, dtype=np.float64)
        rows = self.data.rows() if rows is None else rows
        from symgd.methods.batchcall import call_batch
        return float(entry_point(call_batch)(self.addresses["batch"], th, rows,
                                             np.ascontiguousarray(idx, dtype=np.int64), grad))


def build(problem, spec, data, kinds) -> FitKernels:
    """Generate (or load from the cache) the kernels ``kinds`` of a fit."""
    from symgd.fit import codegen  # sympy: never on the warm path (symgd.warm)
    from symgd.fit.derive import derive

    kinds = frozenset(kinds) | {"f", "pred"}
    if not spec.least_squares:
        kinds -= {"lsq"}
    t0 = time.perf_counter()
    der = derive(spec, hessian=bool(kinds & {"fgh", "avv"}))
    if not der.hess:  # r is linear in theta: no geodesic acceleration
        kinds -= {"avv"}
    t1 = time.perf_counter()
    src = codegen.module_source(problem.name, spec, der, kinds)
    module = cache.load_module(src)
    addresses, keep = {}, []
    for kind in codegen.KINDS:
        if kind in kinds:
            k = getattr(module, f"k_{kind}")
            addresses[kind] = k.address
            keep.append(k)
    return FitKernels(spec, data, kinds, addresses, module.__name__, t1 - t0,
                      time.perf_counter() - t1, tuple(keep))
