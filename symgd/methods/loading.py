"""Loading the compiled method loops, and saying so when that means compiling them.

The loops (methods/loops.py, qn_loops.py, sgd.py, and their copies for fits) carry
explicit signatures, so numba compiles them when their module is imported, or loads them
from its disk cache (a fraction of a second). Right after an install or an upgrade there
is no cache yet and compiling takes about 10 s on two cores, which a user would
otherwise sit through with nothing on screen: a timer announces it on stderr when an
import runs longer than NOTICE_AFTER_S (numba's LLVM calls release the GIL, so the timer
thread gets to run).
"""
from __future__ import annotations

import importlib
import sys
import threading
import time

NOTICE_AFTER_S = 0.5
_SPENT = [0.0]  # seconds this process has spent importing loop modules
LOOP_MODULES = {"loops": "gradient descent, line searches and Newton",
                "fit_loops": "full-batch gradient descent, line searches and Newton on data",
                "qn_loops": "BFGS and L-BFGS",
                "fit_qn_loops": "BFGS and L-BFGS on data",
                "sgd": "minibatch SGD",
                "search_loops": "random search and local search",
                "fit_search_loops": "random search and local search on data",
                "multistart_loop": "multistart batches"}


def _announce(what: str, state: dict) -> None:
    state["announced"] = True
    print(f"symgd: compiling the method loops for {what} (once after an install or "
          "upgrade, about 10 s; cached for later runs) ...", file=sys.stderr, flush=True)


def spent() -> float:
    """Seconds this process has spent loading loop modules (for ``timings``)."""
    return _SPENT[0]


def load(name: str):
    """Import and return symgd.methods.<name> (a key of LOOP_MODULES).

    The first import costs about 0.3 s from numba's cache and about 10 s when the loops
    have to be compiled; it is added to :func:`spent`.
    """
    module = f"symgd.methods.{name}"
    if module in sys.modules:
        return sys.modules[module]
    state = {"announced": False}
    timer = threading.Timer(NOTICE_AFTER_S, _announce, args=(LOOP_MODULES[name], state))
    timer.daemon = True
    t0 = time.perf_counter()
    timer.start()
    try:
        loaded = importlib.import_module(module)
    finally:
        timer.cancel()
        took = time.perf_counter() - t0
        _SPENT[0] += took
    if state["announced"]:
        print(f"symgd: compiled the method loops in {took:.1f} s", file=sys.stderr,
              flush=True)
    return loaded
