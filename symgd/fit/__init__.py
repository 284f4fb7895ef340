"""Data fitting (SPEC §1, §2, §4): the data kernel source. A fit Problem becomes a
bundle of compiled per-sample kernels over its data, which symgd.solver runs with the
registry's methods like any other bundle; plus fit statistics and the fit report.

Layout (one job per module):
    spec       Problem -> FitSpec: the per-sample residual / logit / objective and loss
    losses     hand-written stable per-sample losses and their derivatives
    derive     symbolic per-sample derivatives in the parameters (derived once)
    codegen    the generated kernel module (cfuncs over samples)
    abi        the kernels' C signatures
    parallel   parallel drivers (prange over fixed chunks), compiled once
    kernels    the kernels bound to a dataset: the bundle the method runners take
    bundle     that bundle as the compiled loops see it (fun, fg, hess as reductions)
    source     Problem -> data and kernels, the start check, the Result's statistics
    lm         Levenberg-Marquardt with Marquardt scaling (lm_words: its messages)
    irls       IRLS for least absolute deviations (linear and over lm)
    linear     closed forms of models linear in their parameters (LS, LAD)
    stats      lmfit's statistics (chi-square, AIC, BIC), R², covariance, standard
               errors, confidence intervals (tdist: Student's t quantiles), correlations
    model      the fitted model a Result carries (predict, residuals)
    report     the fit report text, laid out as lmfit's
    rules      a fit Problem's rules: losses, weights, held and tied variables
"""


def __getattr__(name):
    # lazily: importing symgd.fit must not import sympy (the warm path, symgd.warm)
    if name == "fit_report":
        from symgd.fit.report import fit_report
        return fit_report
    if name == "fit_kernels":
        from symgd.fit.source import fit_kernels
        return fit_kernels
    raise AttributeError(f"module 'symgd.fit' has no attribute {name!r}")


__all__ = ["fit_report", "fit_kernels"]
