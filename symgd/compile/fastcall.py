"""Calling compiled method loops with first-class function arguments, fast.

Method loops are compiled once for all problems with kernel arguments typed
``numba.types.FunctionType`` (DESIGN.md, "Compiling method loops once"). Passing a
dispatcher costs ~100 µs a call (numba looks up its address each time); an object
that carries the compiled address (numba's wrapper-address protocol) and calling the
loop's compiled entry point directly skip those look-ups (~15 µs per Rosenbrock solve).

These are numba internals, so they live here alone, with a fallback to the public
(slower) way if numba changes them; tests/test_fastcall.py checks both give the same.
"""
from __future__ import annotations

try:  # numba internals; see the module docstring
    from numba.core.types.function_type import CompileResultWAP as _WAP
except ImportError:  # pragma: no cover - depends on the numba version
    _WAP = None


def kernel_handle(dispatcher):
    """What to pass for a kernel: an address-carrying wrapper, or the dispatcher itself."""
    if _WAP is None or len(dispatcher.signatures) != 1:
        return dispatcher
    try:
        return _WAP(dispatcher.overloads[dispatcher.signatures[0]])
    except Exception:  # pragma: no cover - numba internals changed
        return dispatcher


_ENTRY_POINTS: dict = {}


def entry_point(dispatcher):
    """The compiled loop's direct entry point, or the dispatcher itself (memoised:
    looking it up costs more than a whole small solve)."""
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
