"""The fit report: what people read after a fit, laid out as lmfit's ``fit_report``.

    [[Fit Statistics]]
        # fitting method   = lm
        # function evals   = 7
        # data points      = 100
        # variables        = 2
        chi-square         = 0.0102
        reduced chi-square = 1.0408e-04
        Akaike info crit   = -913.7
        Bayesian info crit = -908.5
        R-squared          = 0.9994
    [[Variables]]
        a:  2.00012 +/- 0.00291 (0.15%) (init = 1)
        b:  0.5 (fixed)
        c:  4.00024 +/- 0.00582 (0.15%) == '2*a'
    [[Confidence Intervals]] (95%: value +/- t(0.975, 98) stderr)
        a:  [1.99434, 2.0059]
    [[Correlations]] (unreported correlations are < 0.100)
        C(a, c) = -0.9512

The statistics are symgd.fit.stats' (lmfit's definitions); correlations are listed by
magnitude, largest first, as lmfit lists them. A tied variable's stderr is propagated
through the gradient of its expression; a held one has none.
"""
from __future__ import annotations

import math
from dataclasses import replace

MIN_CORRELATION = 0.1


def _g(v, digits=10) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return f"{v:.{digits}g}"


def _statistics(result, ex) -> list:
    n, loss = ex["n_samples"], ex.get("loss")
    what = "per-sample objective" if loss == "per_sample" else str(loss)
    nvar = int(n) - int(ex.get("dof", n - len(result.names)))
    rows = [("# fitting method", result.method),
            ("# function evals", result.nfev or result.iterations),
            ("# data points", n), ("# variables", nvar),
            ("chi-square", _g(ex.get("chisqr"))),
            ("reduced chi-square", _g(ex.get("redchi"))),
            ("Akaike info crit", _g(ex.get("aic"))),
            ("Bayesian info crit", _g(ex.get("bic"))),
            ("R-squared", _g(ex.get("r_squared"))),
            ("loss", what if ex.get("weighted") is None else f"{what}, weighted by "
             f"{ex['weighted']}")]
    if ex.get("validation_loss") is not None:
        rows.append(("validation loss", f"{_g(ex['validation_loss'])} over "
                                        f"{ex['validation_samples']} held-out samples"))
    return ["[[Fit Statistics]]"] + [f"    {k:<18} = {v}" for k, v in rows]


def _variables(result, ex) -> list:
    stderr = ex.get("stderr") or {}
    rel = ex.get("relative_error") or {}
    fixed, tied = set(ex.get("fixed") or ()), ex.get("tied") or {}
    fit = getattr(result, "fit", None)
    init = None if fit is None or fit.init_values is None else \
        dict(zip(result.names, fit.init_values))
    width = max((len(nm) for nm in result.names), default=1) + 1
    lines = ["[[Variables]]"]
    for nm, v in result.x_dict.items():
        head = f"    {nm + ':':<{width}}  {_g(v, 10)}"
        if nm in fixed:
            lines.append(f"{head} (fixed)")
            continue
        se = stderr.get(nm)
        tail = " +/- n/a" if se is None else f" +/- {_g(se, 6)}" + (
            f" ({rel[nm]:.2f}%)" if rel.get(nm) is not None else "")
        if nm in tied:
            tail += f" == '{tied[nm]}'"
        elif init is not None:
            tail += f" (init = {_g(init[nm], 8)})"
        lines.append(head + tail)
    return lines


def _intervals(ex) -> list:
    ci = {k: v for k, v in (ex.get("confidence_interval") or {}).items() if v is not None}
    if not ci:
        return []
    level = ex.get("confidence_level", 0.95)
    width = max(len(k) for k in ci) + 1
    lines = [f"[[Confidence Intervals]] ({100 * level:g}%: value +/- "
             f"t({(1 + level) / 2:g}, {ex['dof']}) stderr)"]
    lines += [f"    {k + ':':<{width}}  [{_g(lo, 8)}, {_g(hi, 8)}]"
              for k, (lo, hi) in ci.items()]
    return lines


def _correlations(ex, min_correlation) -> list:
    corr = ex.get("correlation")
    if not corr:
        return []
    pairs = []
    names = list(corr)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            c = corr[a].get(b)
            if c is not None and abs(c) >= min_correlation:
                pairs.append((-abs(c), i, names.index(b), a, b, c))
    if not pairs:
        return []
    lines = [f"[[Correlations]] (unreported correlations are < {min_correlation:.3f})"]
    lines += [f"    C({a}, {b}) = {c:+.4f}" for *_, a, b, c in sorted(pairs)]
    return lines


def fit_report(result, *, min_correlation: float = MIN_CORRELATION) -> str:
    """The fit section of a Result of a data fit ('' for other results): lmfit's
    [[Fit Statistics]], [[Variables]] (value +/- stderr (relative %), fixed, == 'tie',
    initial value), the confidence intervals and [[Correlations]] of magnitude at
    least ``min_correlation``, largest first."""
    ex = result.extra
    if "n_samples" not in ex:
        return ""
    return "\n".join(_statistics(result, ex) + _variables(result, ex) + _intervals(ex)
                     + _correlations(ex, min_correlation))


# What ``derive`` prints of each loss (symgd.fit.losses computes them): the per-sample
# loss l(r) and its derivative l'(r), which the loss gradient weighs dr_i/dtheta with.
LOSS_FORMULAS = {
    "mse": ("r_i**2", "2 r_i"),
    "sse": ("r_i**2", "2 r_i"),
    "mae": ("|r_i|", "sign(r_i)"),
    "huber": ("huber_delta(r_i)", "clip(r_i, -delta, delta)"),
    "logcosh": ("log(cosh(r_i))", "tanh(r_i)"),
    "cross_entropy": ("log(1 + exp(z_i)) - y_i z_i", "(sigmoid(z_i) - y_i)"),
}
_NOTES = {
    "mae": "sign(0) = 0: where a residual is zero this is a subgradient",
    "huber": "huber_delta(r) = r**2/2 for |r| <= delta, else delta (|r| - delta/2)",
    "cross_entropy": "y_i is the target (the label, 0 or 1), z_i the model (the logit)",
}


def format_fit_derivatives(problem, *, latex: bool = False) -> str:
    """What ``symgd derive`` shows for a data fit.

    The loss is L = (1/n) sum_i l(r_i) (``sse`` and ``reduce: sum``: without 1/n) of the
    per-sample residual r_i = model(x_i) - target_i (the logit z_i for cross_entropy, the
    objective phi_i for a per-sample objective). symgd derives only r, in the
    parameters theta, and the kernels chain it per sample with l'(r) (symgd.fit.losses):

        dL/dtheta_j = (1/n) sum_i l'(r_i) dr_i/dtheta_j

    So the printed per-sample derivatives are those of r, labelled as such, and the loss
    gradient is printed as the formula that uses them.
    """
    import sympy as sp

    from symgd.fit.derive import derive
    from symgd.fit.spec import fit_spec

    show = sp.latex if latex else sp.sstr
    spec = fit_spec(problem)
    per_sample = spec.loss == "per_sample"
    if per_sample and spec.sign < 0:
        # the kernels minimise -phi; people read phi, in the sense they wrote
        spec = replace(spec, value=problem.objective, sign=1.0)
    der = derive(spec, hessian=True)
    r = {"per_sample": "phi", "cross_entropy": "z"}.get(spec.loss, "r")
    avg = "(1/n) sum_i" if spec.mean else "sum_i"
    red = "mean" if spec.mean else "sum"
    out = [f"{problem.name}: data fit, loss {spec.loss} ({red} over the n samples)"]
    if per_sample:
        out.append(f"per-sample objective phi = {show(der.value)}")
        out.append(f"objective: {problem.sense} L = {avg} phi_i")
    elif spec.from_square:
        out.append(f"per-sample objective {show(problem.objective)} = r**2, "
                   f"with r = {show(der.value)}")
        out.append(f"loss: L = {avg} r_i**2")
    elif spec.loss == "cross_entropy":
        out.append(f"logit z = model = {show(der.value)}")
        out.append(f"loss: L = {avg} [{LOSS_FORMULAS[spec.loss][0]}]")
    elif spec.weight is not None:  # weights (or sigma): every square is weighted
        out.append(f"weighted residual r = sqrt(w) (model - target) = {show(der.value)}, "
                   f"w = {show(spec.weight)}")
    else:
        out.append(f"residual r = model - target = {show(der.value)}")
        out.append(f"loss: L = {avg} {LOSS_FORMULAS[spec.loss][0]}")
    weight = "" if per_sample else LOSS_FORMULAS["mse" if spec.from_square
                                                 else spec.loss][1] + " "
    out += ["", "objective gradient:" if per_sample else "loss gradient:"]
    for s in spec.symbols:
        out.append(f"  dL/d{s} = {avg} {weight}d{r}_i/d{s}")
    note = _NOTES.get(spec.loss)
    if note:
        out.append(f"  ({note})")
    out += ["", f"derivatives of {r} (per sample; the gradient above uses them):"]
    for s, gj in zip(spec.symbols, der.grad):
        out.append(f"  d{r}/d{s} = {show(gj)}")
    out += ["", f"second derivatives of {r} (per sample, nonzero):"]
    for (j, k), h in sorted(der.hess.items()):
        out.append(f"  d2{r}/d{spec.symbols[j]}d{spec.symbols[k]} = {show(h)}")
    if not der.hess:
        out.append(f"  none: {r} is linear in the parameters")
    return "\n".join(out)
