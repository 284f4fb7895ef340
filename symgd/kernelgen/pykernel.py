"""The Python fallback for kernels too large to compile within the budget.

The generated module is the same code as the numba one; only its ``KERNEL``
decorator differs: here it wraps each function in a ctypes callback with the C
signature of symgd.kernel_types (``double k(double *x, double *out)``), so the
compiled method loops call it by address exactly as they call a numba ``cfunc``.
About a microsecond per call instead of nanoseconds, but nothing waits minutes for
numba to compile thousands of lines.

Python arithmetic raises where numba's ``error_model="numpy"`` returns inf or nan
(1/0, log(-1), exp(1000)); such an evaluation returns nan and fills its outputs
with nan, which the loops treat as a step too long, as they treat inf.
"""
from __future__ import annotations

import ctypes
import math

KERNEL_CTYPE = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double),
                                ctypes.POINTER(ctypes.c_double))

# Set when Ctrl-C arrives inside a callback (ctypes cannot raise through the compiled
# loop); the driver checks it after each chunk and reports 'interrupted'.
interrupted = False


class PyKernel:
    """A Python kernel callable by address from compiled code."""

    cache_hits = 0  # the same attribute as numba's cfunc, for uniform reporting

    def __init__(self, func, n_out: int):
        self.func = func

        def call(x, out):
            global interrupted
            try:
                value = func(x, out)
                if isinstance(value, complex):
                    raise ValueError("complex value")
                return float(value)
            except KeyboardInterrupt:
                interrupted = True
            except Exception:  # the numerical errors listed in the module docstring
                pass
            for i in range(n_out):
                out[i] = math.nan
            return math.nan

        self._callback = KERNEL_CTYPE(call)  # must stay alive while its address is used
        self.address = ctypes.cast(self._callback, ctypes.c_void_p).value


def py_kernel(n_out: int):
    """Decorator used by generated modules in place of numba's ``cfunc``."""
    return lambda func: PyKernel(func, n_out)


def take_interrupt() -> bool:
    """Whether Ctrl-C arrived inside a Python kernel since the last call (and reset)."""
    global interrupted
    was, interrupted = interrupted, False
    return was
