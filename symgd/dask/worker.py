"""What Dask workers run: a fit's compiled per-block kernels, and reading the blocks.

Workers get a fit's kernels as the generated module's *source text* (symgd.fit.codegen),
never as pickled functions: :func:`module` compiles it once per worker process into
the worker's own kernel cache (symgd.kernelgen.cache.load_module: a module named by the
hash of its text, compiled by numba with ``cache=True``, so a restarted worker loads it
from disk). symgd must be installed on the workers (the same version: the module's name
hashes the versions).

A block is the (columns, m) float64 layout of symgd.io.data (column j of sample i at
``block[j, i]``), C-contiguous and read-only, as the kernels take it. One pass over a
block sums the chunk kernel over its m samples in one call of
the kernel's C entry (the cfunc's ctypes wrapper, which releases the GIL): the parallelism is Dask's, across blocks, and the
sum of a block depends on the block alone, so a recomputed block (a worker lost) gives
the same bits.
"""
from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

_DOUBLE_P = ctypes.POINTER(ctypes.c_double)

_MODULES: dict = {}   # source text -> its loaded module, in this worker process


def module(source: str):
    """The generated kernel module of ``source`` (compiled at most once here)."""
    mod = _MODULES.get(source)
    if mod is None:
        # numba's import-time BLAS probe would load scipy.linalg (~15 MB per worker)
        from symgd.startup import defer_blas_check
        defer_blas_check()
        from symgd.kernelgen import cache
        mod = _MODULES[source] = cache.load_module(source)
    return mod


def as_block(obj, columns) -> np.ndarray:
    """A block in the kernels' layout from a pandas partition (``columns`` by name), a
    (columns, m) array (columns None) or a mapping of column arrays."""
    if columns is None:
        arr = np.asarray(obj, dtype=np.float64)
    else:
        arr = np.empty((len(columns), len(obj[columns[0]])))
        for j, c in enumerate(columns):
            arr[j] = np.asarray(obj[c], dtype=np.float64)
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    arr.setflags(write=False)
    return arr


def read_part(path: str, wanted: dict, symbols: tuple, limits) -> np.ndarray:
    """One part of a glob (CSV, .npz or Parquet) read by symgd's own checked readers
    (symgd.io: field counts, types, finite numbers, pyarrow >= 14.0.1) into a block whose
    rows are ``symbols`` (``wanted``: symbol -> column)."""
    from symgd.io.parts import format_of

    p = Path(path)
    fmt = format_of(p)
    if fmt == "parquet":
        from symgd.io.parquet_reader import read_parquet
        cols, m = read_parquet(p, wanted, limits)
    elif fmt == "npz":
        from symgd.io.npz_reader import read_npz
        cols, m = read_npz(p, wanted, limits)
    else:
        from symgd.io.csv_reader import read_csv
        cols, m, _ = read_csv(p, wanted, limits)
    arr = np.empty((len(symbols), m))
    for j, s in enumerate(symbols):
        arr[j] = cols[wanted[s]]
    arr.setflags(write=False)
    return arr


def _ptr(a):
    return a.ctypes.data_as(_DOUBLE_P)


def _contiguous(block) -> np.ndarray:
    if block.dtype == np.float64 and block.flags.c_contiguous:
        return block
    return as_block(block, None)


def stack_rows(*columns) -> np.ndarray:
    """Chunks of 1-D columns (one per data symbol) as one block."""
    out = np.empty((len(columns), len(columns[0])))
    for j, c in enumerate(columns):
        out[j] = c
    out.setflags(write=False)
    return out


def describe(source: str, block) -> np.ndarray:
    """[samples, index of the first sample holding a value that is not finite or -1,
    that value's row, then :func:`moments` at theta = 0 less its first entry: W, the
    targets' weighted mean, M2]: the finite-values check every in-memory source gets
    (symgd.io.data_checks) and the targets' spread (independent of theta), one read."""
    block = _contiguous(block)
    bad = ~np.isfinite(block)
    if bad.any():
        rows, cols = np.nonzero(bad)
        k = int(np.argmin(cols))
        return np.array([block.shape[1], cols[k], rows[k], 0.0, 0.0, 0.0])
    p = getattr(module(source), "P")
    mom = moments(source, np.zeros(p), block)
    return np.array([block.shape[1], -1.0, -1.0, mom[1], mom[2], mom[3]])


def sums(source: str, kind: str, theta, block, n_out: int) -> np.ndarray:
    """[loss sum, out_0 .. out_{n_out-1}] of kernel ``k_<kind>`` over the block's
    samples (symgd.fit.parallel: f, fg, fgh, lsq, avv)."""
    block = _contiguous(block)
    res = np.zeros(n_out + 1)
    th = np.ascontiguousarray(theta, dtype=np.float64)
    kernel = getattr(module(source), f"k_{kind}").ctypes  # releases the GIL
    m = block.shape[1]
    out = res[1:]
    res[0] = kernel(_ptr(th), _ptr(block), m, 0, m, _ptr(out))
    return res


def add(a, b):
    """a + b (one node of the fixed reduction tree)."""
    return a + b


def mapped(source: str, theta, block) -> np.ndarray:
    """(3, m): model_i, target_i and weight_i of every sample (the ``pred`` kernel)."""
    block = _contiguous(block)
    m = block.shape[1]
    out = np.empty(3 * m)
    th = np.ascontiguousarray(theta, dtype=np.float64)
    module(source).k_pred.ctypes(_ptr(th), _ptr(block), m, 0, m, _ptr(out))
    return out.reshape(3, m)


def moments(source: str, theta, block) -> np.ndarray:
    """[sum r_i**2, W = sum w_i, the weighted mean of the targets, M2 = sum w_i (y_i -
    mean)**2] over the block, r_i = model_i - target_i (unweighted), w_i the
    least-squares weight: what R², chi-square's baseline and lm's |y|² need, without
    holding any per-sample array beyond the block."""
    pred, y, w = mapped(source, theta, block)
    r = pred - y
    W = float(np.sum(w))
    mean = float(w @ y) / W if W > 0.0 else 0.0
    d = y - mean
    return np.array([float(r @ r), W, mean, float(w @ (d * d))])


def merge_moments(a, b) -> np.ndarray:
    """Two blocks' :func:`moments` as one (Chan, Golub & LeVeque 1979, the pairwise
    update of a mean and a sum of squared deviations):
    W = Wa + Wb, mean = mean_a + d Wb / W, M2 = M2a + M2b + d**2 Wa Wb / W,
    d = mean_b - mean_a."""
    W = a[1] + b[1]
    if W <= 0.0:
        return np.array([a[0] + b[0], 0.0, 0.0, 0.0])
    d = b[2] - a[2]
    return np.array([a[0] + b[0], W, a[2] + d * b[1] / W, a[3] + b[3] + d * d * a[1] * b[1] / W])


def row(a, i: int):
    """Row i of a (3, m) array from :func:`mapped`."""
    return a[i]
