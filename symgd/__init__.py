"""symgd: symbolic-numeric optimisation.

State the objective as a SymPy expression (or a YAML problem file); symgd derives the
gradient and Hessian exactly, finds critical points in closed form where it can, and
otherwise runs numba-compiled gradient descent, line searches or Newton steps.
"""
from symgd.errors import InputError
from symgd.problem import Constraint, Problem, Variable

__version__ = "0.1.0"

__all__ = ["InputError", "Problem", "Variable", "Constraint", "__version__"]

from symgd.result import Result  # noqa: E402
from symgd.solve import solve  # noqa: E402

__all__ += ["Result", "solve"]
