"""Calling a fit's minibatch kernel by its address from loops compiled once.

The batch kernel of a data fit is a numba ``cfunc`` with the C signature

    double k(double *theta, double *rows, int64 stride, int64 *idx, int64 m,
             double *grad)

returning the mean loss (1/m) sum_{q<m} l(theta; sample idx[q]) and writing the mean
gradient (length p) into grad. ``rows`` is the data laid out by sample, an
(n_samples, stride) float64 array, C-contiguous: column j of sample i is
rows[i * stride + j] (symgd.fit.abi). Samples come in random order; by rows, one
sample's columns share a cache line or two, where the (columns, n) layout costs a
cache miss per column. Measured here on an epoch of SGD over 1e6 samples of 11
columns, batch 32: 73 ms by rows against 111 ms by columns.

:func:`call_batch_kernel` is a numba intrinsic that turns the integer address into a
function pointer and calls it with the arrays' data pointers, the same device as
:func:`symgd.kernelgen.fastcall.call_kernel` for ``double k(double *x, double *out)``:
an indirect call of a few nanoseconds, so the SGD loop (symgd.methods.sgd) is
compiled once for all problems and cached on disk. Only contiguous arrays are
accepted (a strided view would hand the kernel the wrong elements); slices such as
``perm[pos:]`` of a C-contiguous array stay contiguous in numba.
"""
from __future__ import annotations

import os

# As in symgd.fit.parallel: waiting OpenMP threads sleep instead of spinning on the core
# the loop needs (set before numba first loads libgomp; a value the user chose is kept).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
from llvmlite import ir  # noqa: E402
from numba import njit, prange, types  # noqa: E402
from numba.core import cgutils  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

from symgd.kernel_types import ADDR, VEC  # noqa: E402

IVEC = types.int64[::1]
DATA = types.Array(types.float64, 2, "C", readonly=True)


def _contiguous(*arrays) -> bool:
    return all(isinstance(a, types.Array) and a.layout == "C" for a in arrays)


@intrinsic
def call_batch_kernel(typingctx, addr, theta, rows, stride, idx, m, grad):
    """``addr(theta.data, rows.data, stride, idx.data, m, grad.data)``.

    theta, grad: float64 arrays (length p); rows: float64 array (any dimension,
    C-contiguous) with ``stride`` values per sample; idx: int64 array of at least m
    sample indices. Returns the kernel's float64 (the mean loss over the m samples).
    """
    if not (isinstance(addr, types.Integer) and isinstance(stride, types.Integer)
            and isinstance(m, types.Integer) and _contiguous(theta, rows, idx, grad)):
        return None
    if not (theta.dtype == rows.dtype == grad.dtype == types.float64
            and idx.dtype == types.int64):
        return None
    sig = types.float64(addr, theta, rows, stride, idx, m, grad)

    def codegen(context, builder, signature, args):
        dptr = ir.PointerType(ir.DoubleType())
        i64 = ir.IntType(64)
        iptr = ir.PointerType(i64)

        def pointer(k, ptype):
            arr = context.make_array(signature.args[k])(context, builder, args[k])
            return builder.bitcast(arr.data, ptype)

        def as_i64(k):
            return context.cast(builder, args[k], signature.args[k], types.int64)

        fnty = ir.FunctionType(ir.DoubleType(), [dptr, dptr, i64, iptr, i64, dptr])
        fn = builder.inttoptr(context.cast(builder, args[0], signature.args[0], types.int64),
                              fnty.as_pointer())
        return builder.call(fn, [pointer(1, dptr), pointer(2, dptr), as_i64(3),
                                 pointer(4, iptr), as_i64(5), pointer(6, dptr)])

    return sig, codegen


@intrinsic
def prefetch(typingctx, arr, byte_offset):
    """Hint the CPU to fetch the cache line at arr's data + byte_offset (LLVM's
    llvm.prefetch: a read, locality 2 = x86 prefetcht1, into L2 rather than L1, data
    cache). A hint only: it never faults, so an offset past the array is harmless.

    Into L2, because L1 holds few outstanding misses: an epoch's minibatch steps (1e6
    samples of 11 columns, batch 32) took 31-33 ms with locality 1 or 2 against 46-51
    ms with 3 (prefetcht0) and 56-59 ms without prefetching (this machine, AMD EPYC)."""
    if not (isinstance(arr, types.Array) and isinstance(byte_offset, types.Integer)):
        return None
    sig = types.void(arr, byte_offset)

    def codegen(context, builder, signature, args):
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        a = context.make_array(signature.args[0])(context, builder, args[0])
        off = context.cast(builder, args[1], signature.args[1], types.int64)
        ptr = builder.gep(builder.bitcast(a.data, i8p), [off])
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        builder.call(fn, [ptr, ir.Constant(i32, 0), ir.Constant(i32, 2), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


LINE = 64             # bytes per cache line
PREFETCH_SAMPLES = 256  # at most this many samples ahead (a batch fits in L2)
PREFETCH_LINES = 4      # lines per sample (rows of up to 32 columns in full)


@njit(cache=True, nogil=True)
def prefetch_rows(rows, idx, start, stop):
    """Ask for the rows idx[start:stop] of ``rows`` (at most PREFETCH_SAMPLES of them,
    PREFETCH_LINES cache lines each) ahead of their use.

    A minibatch reads its samples in random order: each is a cache miss (~100 ns), and
    the out-of-order window of one batch kernel call covers only a few samples. Asking
    for the next batch while this one is computed overlaps all its misses (figures in
    :func:`prefetch`).
    """
    rb = rows.shape[1] * rows.itemsize
    stop = min(stop, start + PREFETCH_SAMPLES, idx.size)
    for q in range(start, stop):
        off = idx[q] * rb
        a = off - off % LINE
        end = min(off + rb, a + PREFETCH_LINES * LINE)
        while a < end:
            prefetch(rows, a)
            a += LINE


@njit(types.float64(ADDR, VEC, DATA, IVEC, VEC), cache=True, nogil=True)
def call_batch(addr, theta, rows, idx, grad):
    """The kernel over the samples ``idx`` of ``rows`` (n_samples, n_columns) from
    Python: mean loss; grad written."""
    return call_batch_kernel(addr, theta, rows, rows.shape[1], idx, idx.size, grad)


FULL_BLOCK = 4096  # samples per kernel call in a full-data pass
PARALLEL_MIN_SAMPLES = 1 << 16  # below this a full pass is serial (thread start-up)
PARALLEL_CHUNKS = 16  # fixed, so that sums depend on n alone, never on the threads


@njit(nogil=True, error_model="numpy")
def _sum_range(addr, rows, block, theta, s0, s1, acc):
    """acc[:p] += sum of m_b * (block mean gradient), acc[2p] += sum of m_b * (block mean
    loss), over consecutive blocks of samples s0..s1-1; acc[p:2p] is scratch."""
    stride, bsz, p = rows.shape[1], block.size, theta.size
    for s in range(s0, s1, bsz):
        m = min(bsz, s1 - s)
        acc[2 * p] += m * call_batch_kernel(addr, theta, rows[s:], stride, block, m,
                                            acc[p:2 * p])
        for j in range(p):
            acc[j] += m * acc[p + j]


@njit(types.float64(ADDR, DATA, IVEC, VEC, VEC), cache=True, nogil=True,
      error_model="numpy", parallel=True)
def _mean_parallel(addr, rows, block, theta, grad):
    """:func:`mean_over_all` over PARALLEL_CHUNKS chunks in parallel, their sums added in
    chunk order (the same result on any number of threads)."""
    n, p = rows.shape[0], theta.size
    part = np.zeros((PARALLEL_CHUNKS, 2 * p + 1))
    for c in prange(PARALLEL_CHUNKS):
        _sum_range(addr, rows, block, theta, c * n // PARALLEL_CHUNKS,
                   (c + 1) * n // PARALLEL_CHUNKS, part[c])
    f = 0.0
    for j in range(p):
        grad[j] = 0.0
    for c in range(PARALLEL_CHUNKS):
        f += part[c, 2 * p]
        for j in range(p):
            grad[j] += part[c, j]
    for j in range(p):
        grad[j] /= n
    return f / n


@njit(types.float64(ADDR, DATA, IVEC, VEC, VEC), cache=True, nogil=True, error_model="numpy")
def mean_over_all(addr, rows, block, theta, grad):
    """Mean loss over all samples of ``rows`` (returned) and mean gradient (into grad):
    the kernel's means L_b over consecutive blocks of block.size samples,
    F = (1/n) sum_b m_b L_b. ``block`` is 0..B-1 and each block's rows are reached by
    offsetting the data, so no n-long index array is needed. From PARALLEL_MIN_SAMPLES
    samples on, fixed chunks run in parallel: a pass over 1e6 samples of 11 columns took
    4.0 ms on 2 threads against 6.6-7.7 ms on one (memory-bound; this machine)."""
    n, p = rows.shape[0], theta.size
    if n >= PARALLEL_MIN_SAMPLES:
        return _mean_parallel(addr, rows, block, theta, grad)
    acc = np.zeros(2 * p + 1)
    _sum_range(addr, rows, block, theta, 0, n, acc)
    for j in range(p):
        grad[j] = acc[j] / n
    return acc[2 * p] / n


def full_pass(addr: int, rows: np.ndarray, theta: np.ndarray) -> tuple[float, np.ndarray]:
    """(mean loss, mean gradient) over all samples of ``rows`` (n_samples, n_columns),
    in sample order, from Python (:func:`mean_over_all`)."""
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    theta = np.ascontiguousarray(theta, dtype=np.float64)
    grad = np.empty(theta.size)
    block = np.arange(min(rows.shape[0], FULL_BLOCK), dtype=np.int64)
    f = mean_over_all(addr, rows, block, theta, grad)
    return float(f), grad
