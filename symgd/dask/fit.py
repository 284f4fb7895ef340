"""A data fit whose passes run on a Dask cluster, as a kernel bundle for the methods.

:class:`DaskFit` offers what symgd.fit.kernels.FitKernels offers the method runners,
the solver and the statistics, with every pass over the data done on the cluster:

    S(theta) = sum_b S_b(theta),   Jᵀr = sum_b (Jᵀr)_b,   JᵀJ = sum_b (JᵀJ)_b

(and likewise the loss, its gradient and Hessian), where b runs over the blocks
(symgd.dask.blocks) and each block's partial sums come from the fit's own compiled
chunk kernel on a worker (symgd.dask.worker). The partials are added in a fixed
binary tree over the blocks in order, so a pass gives the same bits whichever worker
computed which block, and again after a worker is lost and its blocks recomputed
(Dask recomputes lost results from the graph). This is the map-reduce form of the
normal equations' pieces used by distributed least squares (Spark MLlib's
WeightedLeastSquares tree-aggregates per-partition AᵀA and Aᵀb the same way).

lm takes ``lsq`` (symgd.fit.lm); newton, lbfgs, bfgs, gd and linesearch run their
compiled loops through C callbacks (symgd.kernelgen.pybundle.PythonBundle), one
cluster pass per evaluation; sgd takes the blocks one by one (symgd.dask.sgd), its
batch kernel compiled on the workers from the same source. Blocks are kept in the workers' memory when they take at
most ``PERSIST_FRACTION`` of the room left before Dask spills, else read or made
again on every pass (out of core).
"""
from __future__ import annotations

import time

import numpy as np

from symgd.dask import blocks as B
from symgd.dask import worker
from symgd.errors import InputError
from symgd.fit.passes import PassSums

PERSIST_FRACTION = 0.5


class DaskData:
    """What the results read of a Dataset: symbols, columns, samples, source."""

    def __init__(self, symbols, columns, n, source, files, starts):
        self.symbols, self.columns, self.n_samples = tuple(symbols), dict(columns), n
        self.source, self.lines, self.parts = source, None, ()
        self._files, self._starts = files, starts

    def where(self, i: int) -> str:
        k = int(np.searchsorted(self._starts, i, side="right")) - 1
        if self._files:
            return f"row {i - self._starts[k] + 1} of {self._files[k]}"
        return f"row {i + 1} (block {k + 1})"


class DaskFit(PassSums):
    """The passes of one fit over one Dask data set (module docstring)."""

    loop_module = "loops"  # the C-callback bundle's loops (PythonBundle)

    def __init__(self, local, client, blocks: B.Blocks, symbols, columns):
        self.local = local          # FitKernels without data: the module, for the client
        self.spec = local.spec
        self.kinds = local.kinds
        self.addresses = local.addresses
        self.module_name = local.module_name
        self.derive_s, self.compile_s = local.derive_s, local.compile_s
        self.client = client
        import dask
        self._delayed = dask.delayed
        self._src = dask.delayed(local.source_text, pure=True, traverse=False)
        self.blocks = blocks
        self.passes = 0
        self._start = self._spread = None
        self.sizes = self._describe(symbols, columns)
        starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
        self.data = DaskData(symbols, columns, int(sum(self.sizes)), blocks.source,
                             blocks.files, starts)
        from symgd.kernelgen.pybundle import PythonBundle
        self._py = PythonBundle(self.p, self.value, self.value_grad,
                                self.hess if self.has_hessian else None)

    # -- set-up: sizes and the finite-values check (one pass) -----------------------------
    def _describe(self, symbols, columns):
        """Block sizes, the finite-values check, and the targets' W, mean and M2
        (worker.describe: one read of the data)."""
        d = self._delayed(worker.describe, pure=True)
        got = self.client.compute([d(self._src, b) for b in self.blocks.items], sync=True)
        self.passes += 1
        sizes = [int(g[0]) for g in got]
        for k, g in enumerate(got):
            if g[1] >= 0:
                i, j = int(g[1]), int(g[2])
                where = (f"row {i + 1} of {self.blocks.files[k]}" if self.blocks.files
                         else f"row {sum(sizes[:k]) + i + 1}")
                raise InputError(f"column '{columns[symbols[j]]}' holds a value that is not "
                                 f"a finite number at {where}", file=self.blocks.source,
                                 field="data", kind="data")
        if not sum(sizes):
            raise InputError("the data has no samples", field="data", kind="data")
        mom = [np.concatenate([[0.0], g[3:]]) for g in got]
        while len(mom) > 1:  # the fixed tree of _tree, here on the client
            nxt = [worker.merge_moments(mom[i], mom[i + 1]) for i in range(0, len(mom) - 1, 2)]
            mom = nxt + ([mom[-1]] if len(mom) % 2 else [])
        self._spread = tuple(float(v) for v in mom[0][1:])  # W, mean, M2
        return sizes

    # -- one pass: per-block partial sums, a fixed tree --------------------------------------
    def _tree(self, level, merge) -> np.ndarray:
        """Compute the blocks' results ``level`` added pairwise in block order by
        ``merge`` (a fixed tree: the same sum on every run, whoever computed what)."""
        add = self._delayed(merge, pure=True)
        while len(level) > 1:
            nxt = [add(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        self.passes += 1
        return np.asarray(self.client.compute(level[0], sync=True), dtype=np.float64)

    def _reduce(self, kind: str, theta, n_out: int):
        """(loss sum, the kernel's n_out sums) of ``k_<kind>`` over all the data: the
        one pass symgd.fit.passes.PassSums derives values, gradients and lsq from."""
        th = np.array(theta, dtype=np.float64)
        part = self._delayed(worker.sums, pure=True)
        out = self._tree([part(self._src, kind, th, b, n_out) for b in self.blocks.items],
                         worker.add)
        return float(out[0]), out[1:]

    def rss(self, theta) -> float:
        """sum (model_i - target_i)**2, unweighted (one pass)."""
        th = np.array(theta, dtype=np.float64)
        part = self._delayed(worker.moments, pure=True)
        got = self._tree([part(self._src, th, b) for b in self.blocks.items],
                         worker.merge_moments)
        return float(got[0])

    def target_tss(self) -> float:
        """sum w_i (y_i - mean_w)**2 of the targets (known since the first read):
        symgd.fit.stats takes it in place of the per-sample targets, which a cluster's
        data never become here."""
        return self._spread[2]

    def target_norm2(self) -> float:
        """sum w_i y_i**2 = M2 + W mean**2 (lm's scale for relative reductions)."""
        W, mean, M2 = self._spread
        return M2 + W * mean * mean

    @property
    def has_avv(self) -> bool:
        return "avv" in self.kinds

    @property
    def has_hessian(self) -> bool:
        return "fgh" in self.kinds

    # -- per-sample values, as dask arrays (computed on the cluster when read) -----------
    def evaluate(self, theta, array=None, *, lazy: bool = False):
        """(model_i, target_i, w_i): for ``array`` (a (columns, m) numpy array) here, as
        FitKernels.evaluate; for the fit's own data, three dask arrays (``lazy``) or
        their values, computed on the cluster when they fit in this process's memory
        (symgd.dask.cluster.too_big) and the cluster is still open."""
        if array is not None:
            return self.local.evaluate(theta, array)
        import dask.array as da
        th = np.array(theta, dtype=np.float64)
        m = self._delayed(worker.mapped, pure=True)
        row = self._delayed(worker.row, pure=True)
        maps = [m(self._src, th, b) for b in self.blocks.items]
        out = tuple(da.concatenate([da.from_delayed(row(mp, i), shape=(k,), dtype=float)
                                    for mp, k in zip(maps, self.sizes)]) for i in range(3))
        if lazy:
            return out
        from symgd.dask.cluster import too_big
        if too_big(24 * self.n):
            raise InputError(f"the {self.n} per-sample values do not fit in memory; "
                             "evaluate(theta, lazy=True) gives them as dask arrays",
                             field="data", kind="limit")
        if getattr(self.client, "status", "running") != "running":
            raise InputError("the Dask cluster of this fit is closed (a cluster started "
                             "or connected for a solve ends with it); pass your own "
                             "distributed.Client as cluster= to keep it", field="cluster",
                             kind="unavailable")
        return tuple(self.client.compute(list(out), sync=True))

    def predict(self, theta):
        return self.evaluate(theta)[:2]

    def targets(self):
        return self.evaluate(np.zeros(self.p))[1]

    def weights(self):
        return self.evaluate(np.zeros(self.p))[2]

    # -- what the generated module says (the local kernels) --------------------------------
    @property
    def model_columns(self):
        return self.local.model_columns

    @property
    def weight_field(self):
        return self.local.weight_field

    def declared(self):
        return self.local.declared()

    def expand(self, theta):
        return self.local.expand(theta)

    # -- the bundle interface of symgd.methods ------------------------------------------
    def loop_arg(self, *, with_hessian: bool = False, banded: bool = False) -> tuple:
        return self._py.loop_arg(with_hessian=with_hessian)

    def after_run(self, outcome):
        return self._py.after_run(outcome)



def bundle(problem, method_spec, fitspec, request) -> tuple:
    """(DaskFit for ``method_spec``, seconds spent setting up the data)."""
    from symgd.fit.kernels import build
    from symgd.fit.source import kinds_for
    from symgd.problem_interface import INDEXED

    if problem.kernel_source == INDEXED:  # the warm index has no source text to send
        raise LookupError("a fit on a Dask cluster takes the full path")
    t0 = time.perf_counter()
    client = request.client()
    symbols = tuple(s.name for s in fitspec.data_symbols)
    spec = problem.data
    columns = B.wanted_columns(spec, symbols)
    blk = B.from_spec(spec, symbols, client)
    # sgd's batch kernel is compiled from this source on the workers (symgd.dask.sgd)
    local = build(problem, fitspec, None, kinds_for(method_spec, fitspec))
    local.source_text = _source_of(local)
    K = DaskFit(local, client, blk, symbols, columns)
    _keep_or_stream(K, client)
    return K, time.perf_counter() - t0


def _source_of(local) -> str:
    import sys
    from pathlib import Path
    return Path(sys.modules[local.module_name].__file__).read_text(encoding="utf-8")


def _keep_or_stream(K, client) -> None:
    """Keep the blocks in the workers' memory when they take at most PERSIST_FRACTION
    of the room the workers have before Dask starts spilling to disk (the
    ``distributed.worker.memory.target`` fraction of each memory limit, less what the
    worker holds now); else leave them lazy (made or read again on every pass)."""
    if K.blocks.scattered:
        return
    import dask
    target = dask.config.get("distributed.worker.memory.target", 0.6) or 0.6
    room = 0.0
    for w in client.scheduler_info().get("workers", {}).values():
        limit = float(w.get("memory_limit") or 0)
        used = float((w.get("metrics") or {}).get("memory") or 0)
        room += max(target * limit - used, 0.0) if limit > 0 else 0.0
    need = 8.0 * len(K.data.symbols) * K.n
    if need <= PERSIST_FRACTION * room:
        K.blocks.items = list(client.persist(K.blocks.items))
        K.blocks.scattered = True
