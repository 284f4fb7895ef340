"""symgd: symbolic-numeric optimisation.

State the objective as a SymPy expression (or a YAML problem file); symgd derives the
gradient and Hessian exactly, finds critical points in closed form where it can, and
otherwise runs numba-compiled gradient descent, line searches or Newton steps.
"""
from symgd.errors import InputError
from symgd.result import Result

__version__ = "0.1.0"


def __getattr__(name):
    # Problem and friends import sympy (~0.3 s); a warm CLI run never needs it.
    if name in ("Problem", "Variable", "Constraint"):
        from symgd import problem as _problem
        return getattr(_problem, name)
    raise AttributeError(f"module 'symgd' has no attribute {name!r}")


def load(path, overrides=()):
    """Read a problem file (SPEC §1) into a :class:`Problem`."""
    from symgd.problem import load as _load
    return _load(path, overrides=overrides)


def solve(problem, method=None, x0=None, *, progress=None, callback=None, **options):
    """Solve a problem; see :func:`symgd.solver.solve`."""
    from symgd.solver import solve as _solve
    return _solve(problem, method=method, x0=x0, progress=progress, callback=callback,
                  **options)


def compile(problem):  # noqa: A001  (symgd.compile, as SPEC §5 names it)
    """Compiled f, grad and hess of a problem; see :func:`symgd.compiled_functions.compile_problem`."""
    from symgd.compiled_functions import compile_problem
    return compile_problem(problem)


def critical_points(problem, *, timeout: float = 10.0):
    """Every real critical point in closed form, classified (the analytic part alone)."""
    from symgd.analytic import critical_points as _cp
    return _cp(problem, timeout=timeout)


def derive(problem):
    """Exact gradient, Hessian and constraint Jacobian of the objective as written; see
    :func:`symgd.calculus.derivation` (renders as LaTeX in Jupyter)."""
    from symgd.calculus import derivation
    return derivation(problem)


def verify(problem):
    """Closed form vs iterative answer, and derivatives vs finite differences."""
    from symgd.verifier import verify as _verify
    return _verify(problem)


__all__ = ["InputError", "Problem", "Variable", "Constraint", "Result", "load", "solve",
           "critical_points", "verify", "compile", "derive", "__version__"]
