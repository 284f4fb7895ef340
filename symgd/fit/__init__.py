"""Data fitting (SPEC §1, §2, §4): per-sample losses over data, solved by lm, gd,
linesearch, newton or minibatch sgd, with fit statistics and a fit report.

Layout (one job per module):
    spec       Problem -> FitSpec: the per-sample residual / logit / objective and loss
    losses     hand-written stable per-sample losses and their derivatives
    derive     symbolic per-sample derivatives in the parameters (derived once)
    codegen    the generated kernel module (cfuncs over samples)
    abi        the kernels' C signatures
    parallel   parallel drivers (prange over fixed chunks), compiled once
    kernels    the kernels bound to a dataset, callable from Python
    lm         Levenberg-Marquardt with Marquardt scaling
    fullbatch  gd / linesearch / newton through symgd's compiled method loops
    stats      RSS, R², standard errors, correlations
    report     the fit report text
    run        run a method, make the Result
    solve      solve_fit: method choice, options, data, kernels
"""
from symgd.fit.report import fit_report
from symgd.fit.solve import fit_kernels, solve_fit

__all__ = ["solve_fit", "fit_report", "fit_kernels"]
