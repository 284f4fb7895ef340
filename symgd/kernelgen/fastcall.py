"""Calling per-problem kernels from loops compiled once for all problems.

Method loops take each kernel as the integer address of a numba ``cfunc`` (C ABI,
``double k(double *x, double *out)``; symgd.kernel_types) and call it through
:func:`call_kernel`, a numba intrinsic that turns the address into a function
pointer. Measured on Rosenbrock 2-D (bench/small_solve.py): a whole Newton solve
costs ~3 µs this way, against ~20 µs with numba's first-class function types
(whose arguments are unboxed by Python code on every call, DESIGN.md).

This uses numba's extension API (``intrinsic``) and llvmlite directly, so it lives
here alone, with tests in tests/test_fastcall.py.
"""
from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from symgd.kernel_types import ADDR, MAT, VEC


@intrinsic
def call_kernel(typingctx, addr, x, out):
    """``addr(x.data, out.data)`` for a kernel address and two float64 arrays."""
    if not (isinstance(addr, types.Integer) and isinstance(x, types.Array)
            and isinstance(out, types.Array)):
        return None
    sig = types.float64(addr, x, out)

    def codegen(context, builder, signature, args):
        xa = context.make_array(signature.args[1])(context, builder, args[1])
        oa = context.make_array(signature.args[2])(context, builder, args[2])
        dptr = ir.PointerType(ir.DoubleType())
        fnty = ir.FunctionType(ir.DoubleType(), [dptr, dptr])
        fn = builder.inttoptr(args[0], fnty.as_pointer())
        return builder.call(fn, [builder.bitcast(xa.data, dptr), builder.bitcast(oa.data, dptr)])

    return sig, codegen


@njit(types.float64(ADDR, VEC, VEC), cache=True, nogil=True)
def call_vec(addr, x, out):
    """Call a kernel from Python with a vector output (f, fg)."""
    return call_kernel(addr, x, out)


@njit(types.float64(ADDR, VEC, MAT), cache=True, nogil=True)
def call_mat(addr, x, out):
    """Call a kernel from Python with a matrix output (hess)."""
    return call_kernel(addr, x, out)


_ENTRY_POINTS: dict = {}


def entry_point(dispatcher):
    """The compiled function's direct entry point (skips numba's argument-type dispatch,
    which costs more than a small solve), or the dispatcher itself. Memoised."""
    found = _ENTRY_POINTS.get(id(dispatcher))
    if found is not None and found[0] is dispatcher:
        return found[1]
    _ENTRY_POINTS[id(dispatcher)] = (dispatcher, _lookup_entry_point(dispatcher))
    return _ENTRY_POINTS[id(dispatcher)][1]


def _lookup_entry_point(dispatcher):
    try:
        if len(dispatcher.signatures) == 1:
            return dispatcher.overloads[dispatcher.signatures[0]].entry_point
    except Exception:  # pragma: no cover - numba internals changed
        pass
    return dispatcher
