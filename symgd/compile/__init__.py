"""sympy -> generated Python module -> numba kernels, cached on disk."""
from symgd.compile.kernels import Kernels, compile_problem

__all__ = ["Kernels", "compile_problem"]
