"""The fit report: what people read after a fit (in the manner of lmfit's fit_report).

    [[Fit]]
        loss       mse over 100 samples, 3 parameters, 97 degrees of freedom
        RSS        0.0102
        R²         0.9994
    [[Parameters]]
        a =  2.00012 +/- 0.00291 (0.15%)
    [[Correlations]] (|corr| >= 0.1)
        C(a, b) = -0.9512
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


def fit_report(result, *, min_correlation: float = MIN_CORRELATION) -> str:
    """The fit section of a Result of a data fit ('' for other results)."""
    ex = result.extra
    if "n_samples" not in ex:
        return ""
    n, loss = ex["n_samples"], ex.get("loss")
    p = len(result.names)
    lines = ["[[Fit]]"]
    what = "per-sample objective" if loss == "per_sample" else str(loss)
    lines.append(f"    loss       {what} over {n} samples, {p} parameters, "
                 f"{ex.get('dof', n - p)} degrees of freedom")
    lines.append(f"    fun        {_g(result.fun)}")
    if ex.get("rss") is not None:
        lines.append(f"    RSS        {_g(ex['rss'])}")
    if ex.get("r_squared") is not None:
        lines.append(f"    R²         {_g(ex['r_squared'])}")
    hist = ex.get("history") or []
    if hist:
        lines.append(f"    history    {len(hist)} values, {_g(hist[0], 6)} -> {_g(hist[-1], 6)}")
    lines.append("[[Parameters]]")
    width = max((len(nm) for nm in result.names), default=1)
    stderr = ex.get("stderr") or {}
    for nm, v in result.x_dict.items():
        se = stderr.get(nm)
        if se is None:
            tail = "(no standard error)"
        else:
            rel = f" ({abs(se / v) * 100:.3g}%)" if v != 0 else ""
            tail = f"+/- {_g(se, 6)}{rel}"
        lines.append(f"    {nm:<{width}} = {_g(v, 12)} {tail}")
    corr = ex.get("correlation")
    if corr:
        pairs = []
        names = list(corr)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                c = corr[a].get(b)
                if c is not None and abs(c) >= min_correlation:
                    pairs.append((abs(c), a, b, c))
        if pairs:
            lines.append(f"[[Correlations]] (|corr| >= {min_correlation:g})")
            for _, a, b, c in sorted(pairs, reverse=True):
                lines.append(f"    C({a}, {b}) = {c:+.4f}")
    return "\n".join(lines)


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
