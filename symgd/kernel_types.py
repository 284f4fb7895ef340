"""numba types of the per-problem kernels, shared by compile/ (which makes them) and
methods/ (whose loops are compiled once, with these as first-class function types).

Kernels (x is the point, C-contiguous float64):
    fun(x) -> f                     objective only (line searches)
    fg(x, g) -> f                   objective and gradient in one pass (g written)
    hess(x, H) -> None              Hessian, full symmetric (H written)
"""
from numba import types

VEC = types.float64[::1]
MAT = types.float64[:, ::1]

SIG_FUN = types.float64(VEC)
SIG_FG = types.float64(VEC, VEC)
SIG_HESS = types.void(VEC, MAT)

FUN = types.FunctionType(SIG_FUN)
FG = types.FunctionType(SIG_FG)
HESS = types.FunctionType(SIG_HESS)
