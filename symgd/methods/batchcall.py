"""Calling a fit's minibatch kernel by its address from loops compiled once.

The batch kernel of a data fit is a numba ``cfunc`` with the C signature

    double k(double *theta, double *data, int64 n_samples, int64 *idx, int64 m,
             double *grad)

returning the mean loss (1/m) sum_{q<m} l(theta; sample idx[q]) and writing the mean
gradient (length p) into grad. ``data`` is the (n_columns, n_samples) float64 array,
C-contiguous: column j of sample i is data[j * n_samples + i] (symgd.fit.abi).

:func:`call_batch_kernel` is a numba intrinsic that turns the integer address into a
function pointer and calls it with the arrays' data pointers, the same device as
:func:`symgd.compile.fastcall.call_kernel` for ``double k(double *x, double *out)``:
an indirect call of a few nanoseconds, so the SGD loop (symgd.methods.sgd) is
compiled once for all problems and cached on disk. Only contiguous arrays are
accepted (a strided view would hand the kernel the wrong elements); slices such as
``perm[pos:]`` of a C-contiguous array stay contiguous in numba.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from symgd.kernel_types import ADDR, VEC

IVEC = types.int64[::1]
DATA = types.Array(types.float64, 2, "C", readonly=True)


def _contiguous(*arrays) -> bool:
    return all(isinstance(a, types.Array) and a.layout == "C" for a in arrays)


@intrinsic
def call_batch_kernel(typingctx, addr, theta, data, n_samples, idx, m, grad):
    """``addr(theta.data, data.data, n_samples, idx.data, m, grad.data)``.

    theta, grad: float64 arrays (length p); data: float64 array (any dimension,
    C-contiguous); idx: int64 array of at least m sample indices. Returns the
    kernel's float64 (the mean loss over the m samples).
    """
    if not (isinstance(addr, types.Integer) and isinstance(n_samples, types.Integer)
            and isinstance(m, types.Integer) and _contiguous(theta, data, idx, grad)):
        return None
    if not (theta.dtype == data.dtype == grad.dtype == types.float64
            and idx.dtype == types.int64):
        return None
    sig = types.float64(addr, theta, data, n_samples, idx, m, grad)

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


@njit(types.float64(ADDR, VEC, DATA, IVEC, VEC), cache=True, nogil=True)
def call_batch(addr, theta, data, idx, grad):
    """The kernel over the samples ``idx`` from Python: mean loss; grad written."""
    return call_batch_kernel(addr, theta, data, data.shape[1], idx, idx.size, grad)


def full_pass(addr: int, data: np.ndarray, theta: np.ndarray) -> tuple[float, np.ndarray]:
    """(mean loss, mean gradient) over all samples, in sample order, from Python."""
    data = np.ascontiguousarray(data, dtype=np.float64)
    theta = np.ascontiguousarray(theta, dtype=np.float64)
    grad = np.empty(theta.size)
    idx = np.arange(data.shape[1], dtype=np.int64)
    return float(call_batch(addr, theta, data, idx, grad)), grad
