"""The calling convention of per-problem kernels, shared by compile/ (which makes them)
and methods/ (whose loops are compiled once for all problems and call them).

Every kernel is a numba ``cfunc`` with the C signature ``double k(double *x, double *out)``:
    fun(x, out) -> f              objective only; out is not touched
    fg(x, g) -> f                 objective and gradient in one pass (g written)
    hess(x, H) -> 0               Hessian, full symmetric, row-major n*n (H written)
Loops receive them as integer addresses inside a bundle (symgd.kernelgen.evaluate) and
call them through
:func:`symgd.kernelgen.fastcall.call_kernel`, an indirect call costing a few nanoseconds.
"""
from numba import types

VEC = types.float64[::1]
MAT = types.float64[:, ::1]
ADDR = types.int64

KERNEL_SIG = types.float64(types.CPointer(types.float64), types.CPointer(types.float64))
