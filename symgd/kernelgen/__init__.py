"""sympy -> generated Python module -> numba kernels, cached on disk.

Nothing is imported eagerly: loading cached kernels (symgd.warm) must not import sympy.
"""
