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


def format_fit_derivatives(problem, *, latex: bool = False) -> str:
    """What ``symgd derive`` can show for a data fit: the per-sample residual (or logit,
    or objective) and its derivatives in the parameters; the loss is applied to it
    per sample (symgd.fit.losses), never expanded into a sum over the data."""
    import sympy as sp

    from symgd.fit.derive import derive
    from symgd.fit.spec import fit_spec

    show = sp.latex if latex else sp.sstr
    spec = fit_spec(problem)
    der = derive(spec, hessian=True)
    what = {"per_sample": "per-sample objective phi", "cross_entropy": "logit z"}.get(
        spec.loss, "residual r = model - target")
    red = "mean" if spec.mean else "sum"
    out = [f"{problem.name}: data fit, loss {spec.loss} ({red} over samples)",
           f"{what} = {show(der.value)}", "", "gradient (per sample):"]
    for s, gj in zip(spec.symbols, der.grad):
        out.append(f"  d/d{s} = {show(gj)}")
    out += ["", "second derivatives (per sample, nonzero):"]
    for (j, k), h in sorted(der.hess.items()):
        out.append(f"  d2/d{spec.symbols[j]}d{spec.symbols[k]} = {show(h)}")
    if not der.hess:
        out.append("  none: linear in the parameters")
    return "\n".join(out)
