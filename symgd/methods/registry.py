"""The method registry: every method's name, options, needs and runner, declared once.

The solver dispatches through this table alone; docs/methods.md (symgd.docgen) and the
"did you mean" errors read the options from here. Plain Python: importing it loads
neither sympy nor numba (runners import their loops when they first run).

Adding a method is one entry here and one runner in symgd.methods.runners with the
signature ``run(bundle, x0, lower, upper, opts, deadline) -> symgd.outcome.Outcome``,
where ``bundle`` is the kernel bundle of the problem's kernel source (symgd.kernelgen
for objectives, symgd.fit for data fits).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from symgd.errors import InputError, unknown_name_message
from symgd.methods import runners
from symgd.methods.option_checks import OPTIMIZER_OPTIONS
from symgd.methods.sgd_options import SGD_OPTIONS


@dataclass(frozen=True)
class MethodSpec:
    """One method.

    Attributes:
        options: option -> default, beyond symgd.methods.options.COMMON_OPTIONS.
        default_max_iter: max_iter when not given (None: not an iteration count).
        run: the runner (None for auto and analytic, which the solver composes).
        needs_hessian: the runner calls the Hessian kernel.
        needs_data: runs on data fits only (lm, sgd).
        needs_residuals: needs a least-squares loss (lm: residuals and JᵀJ).
        accepts_data: may run on a data fit.
        handles_constraints: enforces general constraints (bounds every method keeps).
        gradient_test: success is SPEC §2's relative-gradient test, which the solver
            recomputes at the returned point (lm has MINPACK's test, sgd patience).
        minibatch: visits the data in minibatches (its limit is ``epochs``).
        internal: a path of ``auto`` (not asked for by name).
        planned: listed, not available yet.
    """

    name: str
    options: dict
    default_max_iter: int | None
    run: Callable | None
    needs_hessian: bool = False
    needs_data: bool = False
    needs_residuals: bool = False
    accepts_data: bool = True
    handles_constraints: bool = False
    gradient_test: bool = False
    minibatch: bool = False
    internal: bool = False
    planned: bool = False
    summary: str = ""


_LINE = {"line_search": "armijo", "c1": 1e-4, "c2": 0.9}

REGISTRY = {
    "auto": MethodSpec("auto", {**_LINE, "learning_rate": 0.01, "schedule": "constant",
                                "memory": 10},
                       None, None, handles_constraints=True,
                       summary="fits: linear closed form (least squares, LAD), else lm, IRLS "
                               "or newton; otherwise the closed form in its worker beside "
                               "newton (lbfgs above 50 variables)"),
    "analytic": MethodSpec("analytic", {}, None, None, accepts_data=False,
                           handles_constraints=True,
                           summary="closed-form critical points, classified"),
    "gd": MethodSpec("gd", {"learning_rate": 0.01, "schedule": "constant", "optimizer": "sgd",
                            **OPTIMIZER_OPTIONS}, 10_000, runners.gd, gradient_test=True,
                     summary="gradient descent with a fixed or scheduled step, and the "
                             "optimizers of sgd (momentum, nesterov, adagrad, rmsprop, adam, "
                             "adamw) on any objective"),
    "linesearch": MethodSpec("linesearch", dict(_LINE), 10_000, runners.linesearch,
                             gradient_test=True,
                             summary="steepest descent with a line search"),
    "newton": MethodSpec("newton", {"c1": 1e-4}, 500, runners.newton, needs_hessian=True,
                         gradient_test=True,
                         summary="Newton with a modified Cholesky, damped by a line search"),
    "lm": MethodSpec("lm", {"damping": 1e-3}, 10_000, runners.lm, needs_data=True,
                     needs_residuals=True,
                     summary="Levenberg-Marquardt for least-squares fits"),
    "sgd": MethodSpec("sgd", dict(SGD_OPTIONS), None, runners.sgd, needs_data=True,
                      minibatch=True,
                      summary="minibatch stochastic gradient descent (data fits)"),
    # auto's own paths on fits: the closed forms of models linear in their parameters,
    # and IRLS over lm for nonlinear mae fits
    "linear": MethodSpec("linear", {}, 10_000, runners.linear, needs_data=True,
                         internal=True, summary="closed-form linear fits (LS, LAD)"),
    "irls": MethodSpec("irls", {}, 10_000, runners.irls, needs_data=True, internal=True,
                       summary="IRLS over lm (nonlinear mae fits)"),
    "auglag": MethodSpec("auglag", {"penalty": None}, 1000, runners.auglag,
                         accepts_data=False, handles_constraints=True,
                         summary="augmented Lagrangian (ALGENCAN's safeguards) over "
                                 "projected Newton with the exact Hessians, then Newton on "
                                 "the KKT equations of the active set"),
    "sqp": MethodSpec("sqp", {}, 500, runners.sqp, accepts_data=False,
                      handles_constraints=True,
                      summary="primal-dual interior point (IPOPT's filter line search) with "
                              "the exact Hessian of the Lagrangian, then Newton on the KKT "
                              "equations of the active set; from 200 variables, where the "
                              "terms and constraints leave it sparse, the primal-dual system's "
                              "inertia is proved by a sparse Cholesky and its step solved by "
                              "a sparse LU"),
    # quasi-Newton max_iter: chained Rosenbrock takes both about 5 n iterations (n = 100:
    # 515, n = 200: 990, n = 400: 1930, as scipy's); bfgs (O(n^2) a step) is for n up to
    # a few hundred, so 2000; lbfgs (any n) has scipy L-BFGS-B's default, 15000
    "bfgs": MethodSpec("bfgs", {"c1": 1e-4, "c2": 0.9}, 2000, runners.bfgs,
                       gradient_test=True,
                       summary="quasi-Newton BFGS (dense inverse Hessian, strong Wolfe "
                               "search; bounds by a projected step on the free variables)"),
    "lbfgs": MethodSpec("lbfgs", {"memory": 10, "c1": 1e-4, "c2": 0.9}, 15_000, runners.lbfgs,
                        gradient_test=True,
                        summary="limited-memory BFGS (two-loop recursion, strong Wolfe "
                                "search; bounds by a projected step on the free variables)"),
    # the derivative-free baselines (methods/search_loops.py): no gradient, so no
    # gradient test and never 'converged'; max_iter is the budget when samples is none
    "random_search": MethodSpec("random_search", {"samples": None, "radius": 10.0}, 1000,
                                runners.random_search,
                                summary="derivative-free baseline: the best of the start "
                                        "and samples seeded uniform points in the bounds "
                                        "(or a box around the start); never converged"),
    "local_search": MethodSpec("local_search", {"samples": None, "step": 0.1}, 1000,
                               runners.local_search,
                               summary="derivative-free baseline: seeded Gaussian steps "
                                       "kept when f falls, step size by the 1/5th success "
                                       "rule; ends max_iter or stalled, never converged"),
}


def public_methods() -> list:
    """Names a user may ask for (available ones)."""
    return [n for n, s in REGISTRY.items() if not (s.planned or s.internal)]


def method_spec(name, *, field="method", internal_ok: bool = False) -> MethodSpec:
    """The spec of method ``name``; an InputError for a name that is unknown, planned,
    or one of auto's internal paths (unless ``internal_ok``)."""
    spec = REGISTRY.get(name) if isinstance(name, str) else None
    if spec is None or (spec.internal and not internal_ok):
        planned = [n for n, s in REGISTRY.items() if s.planned]
        raise InputError(unknown_name_message("method", name, public_methods())
                         + (f" (planned, not available yet: {', '.join(planned)})"
                            if planned else ""),
                         field=field, kind="option")
    if spec.planned:
        raise InputError(f"method '{name}' ({spec.summary}) is planned and not available yet; "
                         f"available: {', '.join(public_methods())}",
                         field=field, kind="unavailable")
    return spec
