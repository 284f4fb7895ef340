"""Whether ``device: cuda`` can run: the CUDA target importable, a device (or numba's
simulator) present, and the method one of those ported to the device so far.

Nothing falls back to the CPU silently: each missing piece is an InputError (field
``options.device``, kind ``unavailable``) that says which piece is missing.
"""
from __future__ import annotations

import os

from symgd.errors import InputError

# Methods whose heavy reductions run on the device so far (on data fits): lm's
# least-squares pass (symgd.cuda.kernels), the loss, gradient and Hessian passes of the
# compiled loops (symgd.cuda.objective) and sgd's minibatch sums (symgd.cuda.minibatch).
CUDA_METHODS = ("lm", "newton", "lbfgs", "bfgs", "gd", "linesearch", "sgd")
# Methods whose multistart (options.starts > 1) on a symbolic objective runs one thread
# per start on the device (symgd.cuda.multistart), and the most variables it takes
# (each thread keeps its Hessian and factor as N x N local arrays).
CUDA_MULTISTART_METHODS = ("newton",)
MULTISTART_MAX_VARS = 16


def _refuse(message: str) -> InputError:
    return InputError(message, field="options.device", kind="unavailable")


def simulator_requested() -> bool:
    """NUMBA_ENABLE_CUDASIM set to a true value (numba reads it at import)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0").strip() not in ("", "0")


def cuda_module():
    """numba's CUDA target module (numba-cuda's when installed: it takes over the name
    ``numba.cuda``), or an InputError naming the extra to install."""
    try:
        from numba import cuda
    except Exception as exc:  # ImportError, or a broken CUDA toolkit at import
        raise _refuse("device 'cuda' needs numba's CUDA target, which cannot be imported "
                      f"here ({type(exc).__name__}: {exc}); install it with "
                      "`pip install symgd[cuda]` (NVIDIA's numba-cuda)") from None
    return cuda


def check_cuda():
    """The CUDA module when a GPU or the simulator is there; else an InputError saying
    which is missing."""
    cuda = cuda_module()
    try:
        present = bool(cuda.is_available())
    except Exception:  # a driver that fails to initialise counts as no GPU
        present = False
    if not present:
        if simulator_requested():
            raise _refuse("device 'cuda': NUMBA_ENABLE_CUDASIM is set but numba's CUDA "
                          "simulator did not start in this process (the variable must be "
                          "set before numba.cuda is first imported)")
        raise _refuse("device 'cuda': no GPU was found (numba's CUDA target sees no "
                      "device or driver) and the CUDA simulator is not enabled; use "
                      "device: cpu, or for testing set NUMBA_ENABLE_CUDASIM=1 before "
                      "starting Python")
    return cuda


def check_device(method: str, data: bool, starts: int = 1) -> None:
    """InputError unless ``method`` on this kind of problem can run on the device now.

    Checked in this order: a data fit (or, without data, a multistart of a method in
    CUDA_MULTISTART_METHODS), a method ported to the device, then the device itself (so
    a wrong method is named even on a machine without a GPU). The problem's size and
    constraints are checked when its multistart starts (:func:`check_multistart`).
    """
    if not data:
        if starts <= 1:
            raise _refuse("device 'cuda' runs data fits only (a problem with a data "
                          "block), or a multistart (options.starts > 1) of a symbolic "
                          f"objective with method {_names(CUDA_MULTISTART_METHODS)}; "
                          "use device: cpu")
        # auto: checked again for the iterative method it chooses
        if method not in CUDA_MULTISTART_METHODS and method != "auto":
            raise _refuse(f"method '{method}' runs its multistart on device 'cpu' only so "
                          "far; on a symbolic objective device 'cuda' runs the multistart "
                          f"of {_names(CUDA_MULTISTART_METHODS)}")
        check_cuda()
        return
    # auto: checked again for the method it chooses (lm for a least-squares fit)
    if method not in CUDA_METHODS and method != "auto":
        raise _refuse(f"method '{method}' runs on device 'cpu' only so far; methods that "
                      f"run on device 'cuda': {', '.join(CUDA_METHODS)}")
    check_cuda()


def _names(methods) -> str:
    return ", ".join(methods)


def check_multistart(method: str, n: int, constraints: int, data: bool) -> None:
    """InputError unless a multistart of ``method`` on a symbolic objective with n
    variables and ``constraints`` constraints (bounds not counted) can run one thread
    per start on the device (symgd.cuda.multistart)."""
    if data:
        raise _refuse("device 'cuda' runs a data fit's multistart one start after another "
                      "(each start's passes on the device); the one-thread-per-start "
                      "multistart is for symbolic objectives")
    if method not in CUDA_MULTISTART_METHODS:
        raise _refuse(f"method '{method}' runs its multistart on device 'cpu' only so far; "
                      "on a symbolic objective device 'cuda' runs the multistart of "
                      f"{_names(CUDA_MULTISTART_METHODS)}")
    if constraints:
        raise _refuse(f"device 'cuda' multistart handles bounds only; this problem has "
                      f"{constraints} constraint(s) (use device: cpu with method auglag "
                      "or sqp)")
    if n > MULTISTART_MAX_VARS:
        raise _refuse(f"device 'cuda' multistart takes at most {MULTISTART_MAX_VARS} "
                      f"variables (one thread per start holds an n x n Hessian); this "
                      f"problem has {n}; use device: cpu")
