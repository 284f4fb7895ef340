"""The calling convention of data kernels, and the parallel drivers that run them.

A fit's per-sample code is printed into small numba ``cfunc`` kernels (symgd.fit.codegen)
with one of two C signatures:

    chunk kernel   double k(double *theta, double *data, int64 n, int64 start,
                            int64 stop, double *out)
        loops over samples start..stop-1 of the (n_columns, n) array ``data`` (column j of
        sample i is data[j * n + i]); a *reducing* kernel returns its partial loss sum and
        writes partial sums (gradient, Hessian or JᵀJ) into out; a *mapping* kernel
        writes out[i], out[n + i] and out[2n + i] (prediction, target and weight of
        sample i).
    batch kernel   double k(double *theta, double *rows, int64 stride, int64 *idx,
                            int64 m, double *grad)
        the mean loss over samples idx[0..m) and its mean gradient (minibatch SGD), on
        the row-major (n, stride) copy of the data (column j of sample i is
        rows[i * stride + j]; symgd.fit.abi), without copying the batch. It is called
        through symgd.methods.batchcall (call_batch_kernel, call_batch).

The drivers below are compiled once for all problems (``cache=True``) and call a kernel
through its address (:func:`_call_chunk`, an indirect call, as in
symgd.kernelgen.fastcall), so a new fit compiles only its own small kernels, not a
parallel loop (numba's parfor compilation costs seconds per function).

Reduction is over a fixed number of chunks that depends on n alone: each chunk's sum
is written to its own row, and the rows are added in order afterwards. The result is
therefore the same for 1, 2 or 16 threads (DESIGN.md, reproducibility), while the
chunks themselves run in parallel (``prange``).
"""
from __future__ import annotations

import os

# numba's OpenMP threading layer (its default where libgomp exists) spins waiting
# threads; on a machine whose cores are shared with other work a spinning thread takes
# the core from the one still summing its chunks. Measured here, 1e7 samples, 2 threads,
# one core busy with another process: 32-40 ms spinning, 17 ms passive (1 thread: 12 ms).
# Waking a sleeping thread costs microseconds, nothing next to a pass over the data. Set
# before libgomp is loaded (numba loads it at the first parallel call); a value the user
# chose is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
from llvmlite import ir  # noqa: E402
from numba import njit, prange, types  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

from symgd.fit.abi import BATCH_SIG, CHUNK_SIG  # noqa: F401,E402  (re-exported)

VEC = types.float64[::1]
DATA = types.Array(types.float64, 2, "C", readonly=True)
ADDR = types.int64

MIN_CHUNK = 4096      # samples per chunk at least
MAX_CHUNKS = 256      # chunks at most (partial sums: MAX_CHUNKS x outputs doubles)


def n_chunks(n: int, n_out: int = 0) -> int:
    """Chunks for n samples: a function of n (and the output size) only."""
    c = max(1, min(MAX_CHUNKS, n // MIN_CHUNK))
    if n_out > 0:  # keep the partial sums under ~32 MB
        c = max(1, min(c, (4 << 20) // max(n_out, 1)))
    return c


def _ptr(context, builder, aty, val):
    dptr = ir.PointerType(ir.DoubleType())
    arr = context.make_array(aty)(context, builder, val)
    return builder.bitcast(arr.data, dptr)


@intrinsic
def _call_chunk(typingctx, addr, theta, data, n, start, stop, out):
    """``addr(theta.data, data.data, n, start, stop, out.data)`` (a chunk kernel)."""
    if not (isinstance(addr, types.Integer) and isinstance(theta, types.Array)
            and isinstance(data, types.Array) and isinstance(out, types.Array)):
        return None
    sig = types.float64(addr, theta, data, types.int64, types.int64, types.int64, out)

    def codegen(context, builder, signature, args):
        dptr = ir.PointerType(ir.DoubleType())
        i64 = ir.IntType(64)
        fnty = ir.FunctionType(ir.DoubleType(), [dptr, dptr, i64, i64, i64, dptr])
        fn = builder.inttoptr(args[0], fnty.as_pointer())
        return builder.call(fn, [_ptr(context, builder, signature.args[1], args[1]),
                                 _ptr(context, builder, signature.args[2], args[2]),
                                 args[3], args[4], args[5],
                                 _ptr(context, builder, signature.args[6], args[6])])

    return sig, codegen


_JIT = dict(cache=True, error_model="numpy", nogil=True)


@njit(types.float64(ADDR, VEC, DATA, types.int64, types.int64, VEC), parallel=True, **_JIT)
def reduce_chunks(addr, theta, data, n, nchunks, out):
    """Sum a reducing kernel over all samples in ``nchunks`` parallel chunks.

    Returns the loss sum; ``out`` receives the sums of the kernel's outputs.
    """
    m = out.size
    part = np.zeros((nchunks, max(m, 1)))
    fpart = np.zeros(nchunks)
    for c in prange(nchunks):
        start = c * n // nchunks
        stop = (c + 1) * n // nchunks
        fpart[c] = _call_chunk(addr, theta, data, n, start, stop, part[c])
    f = 0.0
    for j in range(m):
        out[j] = 0.0
    for c in range(nchunks):
        f += fpart[c]
        for j in range(m):
            out[j] += part[c, j]
    return f


@njit(types.float64(ADDR, VEC, DATA, types.int64, VEC), **_JIT)
def reduce_serial(addr, theta, data, n, out):
    """A reducing kernel over all samples in one call (small n: no thread start-up)."""
    for j in range(out.size):
        out[j] = 0.0
    return _call_chunk(addr, theta, data, n, 0, n, out)


@njit(types.float64(ADDR, VEC, DATA, types.int64, types.int64, VEC), parallel=True, **_JIT)
def map_chunks(addr, theta, data, n, nchunks, out):
    """Run a mapping kernel (out[i], out[n + i], out[2n + i] per sample) over all
    samples."""
    for c in prange(nchunks):
        start = c * n // nchunks
        stop = (c + 1) * n // nchunks
        _call_chunk(addr, theta, data, n, start, stop, out)
    return 0.0
