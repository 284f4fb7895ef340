"""Text for people: results, derivatives and verify reports (the CLI prints these)."""
from __future__ import annotations

import math


def _num(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return f"{v:.12g}"


def _fit_header(problem) -> str:
    """One line saying what a data fit minimises."""
    if problem.model is not None:
        return f"{problem.name}: fit {problem.model} to {problem.target} (loss {problem.loss})"
    return f"{problem.name}: {problem.sense} the {problem.reduce} over samples of " \
           f"{problem.objective}"


def format_result(problem, result) -> str:
    # the warm index's text (no sympy), or the objective's (a long sum: its first terms
    # and a count)
    objective = getattr(problem, "objective_text", None) or problem.objective
    if objective is not None and not isinstance(objective, str):
        from symgd import large_expr
        objective = large_expr.text(objective)
    lines = [_fit_header(problem) if getattr(problem, "is_fit", False)
             else f"{problem.name}: {problem.sense} {objective}"]
    lines.append(f"status:   {result.status} ({'success' if result.success else 'not solved'})")
    lines.append(f"method:   {result.method}" + (
        f" (requested {result.requested_method})"
        if result.requested_method != result.method else ""))
    lines.append(f"message:  {result.message}")
    width = max((len(n) for n in result.names), default=1)
    lines.append("x:")
    for name, value in result.x_dict.items():
        lines.append(f"  {name:<{width}} = {_num(value)}")
    lines.append(f"f(x):     {_num(result.fun)}")
    if result.grad_norm is not None:
        lines.append(f"|grad|:   {_num(result.grad_norm)}")
    if result.iterations or result.evaluations:
        ev = ", ".join(f"{k} {v}" for k, v in result.evaluations.items())
        lines.append(f"iterations: {result.iterations}; evaluations: {ev}")
    if "n_samples" in result.extra:  # data fits: RSS, R², standard errors, correlations
        from symgd.fit.report import fit_report
        lines.append(fit_report(result))
    mult = result.extra.get("multipliers")
    if mult:
        lines.append("multipliers:")
        for c, v in mult.items():
            lines.append(f"  {c}: {_num(v)}")
    if result.analytic is not None:
        lines.append(format_analytic(result.analytic))
    if getattr(result, "runs", None):
        lines.append(format_runs(result, getattr(problem, "sense", "minimize")))
    if result.path:
        lines.append("path:     " + " -> ".join(result.path))
    lines.append(f"time:     {result.time_s:.3g} s")
    return "\n".join(lines)


def format_runs(result, sense: str = "minimize", most: int = 20) -> str:
    """Multistart: one line per run (status, f, x, start), successes first and best f
    first (in the problem's sense), at most ``most`` lines and a count of the rest."""
    sign = -1.0 if sense == "maximize" else 1.0

    def order(kr):
        f = kr[1]["fun"]
        return (kr[1]["status"] not in ("converged", "solved"),
                math.inf if f is None or not math.isfinite(f) else sign * f, kr[0])

    runs = sorted(enumerate(result.runs), key=order)
    lines = [f"runs:     {len(runs)} starts (successes first, best f first)"]
    for k, r in runs[:most]:
        start = ", ".join(f"{v:.4g}" for v in r["start"].values())
        x = ", ".join(f"{v:.6g}" for v in r["x"].values())
        lines.append(f"  [{k}] {r['status']:<10} f = {_num(r['fun']):<20} x = ({x})  "
                     f"from ({start}), {r['iterations']} iterations")
    if len(runs) > most:
        lines.append(f"  ... {len(runs) - most} more (all in --json's runs)")
    return "\n".join(lines)


def format_analytic(report) -> str:
    lines = [f"closed form: {report.status}" + (f" ({report.message})" if report.message else "")]
    for fam in getattr(report, "families", ()) or ():
        lines.append(f"  family: {fam}")
    for i, p in enumerate(report.critical_points):
        mark = " <- best" if report.best == i else ""
        xs = ", ".join(f"{k} = {p.exact.get(k, _num(v))}" for k, v in p.x.items())
        lines.append(f"  [{i}] {p.classification:<10} f = {getattr(p, 'fun_exact', None) or _num(p.fun)}"
                     f"  at ({xs}){mark}")
        eig = getattr(p, "eigenvalues", None)
        if eig is not None:
            what = "reduced Hessian (Lagrangian, tangent space)" if getattr(p, "active", ()) \
                else "Hessian"
            lines.append(f"       eigenvalues of the {what}: "
                         + (", ".join(f"{v:.6g}" for v in eig) if eig else "none (no free "
                            "direction: the active constraints fix the point)"))
        if p.multipliers:
            lines.append("       multipliers: " + ", ".join(f"{c}: {_num(v)}"
                                                         for c, v in p.multipliers.items()))
    if report.best is not None:
        g = {True: "proven global", False: "not global", None: "global optimality not shown"}
        lines.append(f"  best: [{report.best}], {g[report.global_]}")
    return "\n".join(lines)


def format_derivatives(problem, *, latex: bool = False) -> str:
    """The gradient, the Hessian and the constraint Jacobian of the user's objective."""
    import sympy as sp

    show = sp.latex if latex else sp.sstr
    f = problem.objective
    syms = problem.symbols
    from symgd.kernelgen import templates
    parts = templates.split(f, syms)
    if parts is not None:   # many terms of a few shapes: each shape's derivatives once
        return format_templated(problem, parts, show)
    grad = [sp.diff(f, s) for s in syms]
    hess = sp.Matrix([[sp.diff(g, s) for s in syms] for g in grad])
    out = [f"{problem.name}: {problem.sense}", f"f = {show(f)}", "", "gradient:"]
    for s, g in zip(syms, grad):
        out.append(f"  df/d{s} = {show(g)}")
    out += ["", "Hessian:"]
    if latex:
        out.append("  " + sp.latex(hess))
    else:
        for i in range(len(syms)):
            out.append("  [" + ", ".join(sp.sstr(hess[i, j]) for j in range(len(syms))) + "]")
    if problem.constraints:
        out += ["", "constraint Jacobian (rows: constraints as g(x) (op) 0):"]
        for c in problem.constraints:
            row = [show(sp.diff(c.expr, s)) for s in syms]
            out.append(f"  {c.text}:  [" + ", ".join(row) + "]")
    return "\n".join(out)


def _instances(tpl, syms, k_list):
    return ", ".join("(" + ", ".join(str(syms[i]) for i in tpl.index[k]) + ")" for k in k_list)


def format_templated(problem, parts, show) -> str:
    """The derivatives of an objective made of many terms of a few shapes, one shape at a
    time: the template T(v; c), which variables (and constants) each term puts in it,
    and T's gradient and Hessian in its local variables v (what the kernels compile,
    symgd.kernelgen.templates), then the other terms' derivatives in full. The
    objective itself is sum over the shapes of sum_k T(x[I_k]; C_k) + rest."""
    import sympy as sp

    from symgd.kernelgen.loop_codegen import template_derivatives

    syms = problem.symbols
    out = [f"{problem.name}: {problem.sense}",
           f"f = {len(parts.groups)} term shape(s) over {sum(g.size for g in parts.groups)} "
           f"of its {parts.n_terms} terms, plus the rest (each shape's derivatives below "
           "are in its local variables v)", ""]
    for number, tpl in enumerate(parts.groups, 1):
        K = tpl.size
        if K > 3:
            inst = _instances(tpl, syms, [0, 1]) + ", ..., " + _instances(tpl, syms, [K - 1])
        else:
            inst = _instances(tpl, syms, range(K))
        out.append(f"shape {number}: {K} terms T = {show(tpl.expr)}")
        out.append(f"  ({', '.join(map(str, tpl.local))}) = {inst}")
        for j, c in enumerate(tpl.slots):
            vals = tpl.consts[:, j]
            listed = ", ".join(repr(float(v)) for v in vals[:2]) + \
                (f", ..., {float(vals[-1])!r}" if K > 2 else "")
            out.append(f"  {c} = {listed}")
        grad, pairs, upper = template_derivatives(tpl, hessian=True)
        for v, g in zip(tpl.local, grad):
            out.append(f"  dT/d{v} = {show(g)}")
        entry = {**dict(zip(pairs, upper)), **{(b, a): h for (a, b), h in zip(pairs, upper)}}
        p = len(tpl.local)
        out.append("  Hessian of T: [" + "; ".join(
            ", ".join(show(entry[(a, b)]) for b in range(p)) for a in range(p)) + "]")
        out.append("")
    rest = parts.rest
    out.append(f"rest = {show(rest)}")
    held = [s for s in syms if s in rest.free_symbols]
    for s in held:
        out.append(f"  d(rest)/d{s} = {show(sp.diff(rest, s))}")
    if problem.constraints:
        out += ["", "constraint Jacobian (rows: constraints as g(x) (op) 0; nonzero entries):"]
        for c in problem.constraints:
            row = [f"d/d{s}: {show(sp.diff(c.expr, s))}" for s in syms if s in c.expr.free_symbols]
            out.append(f"  {c.text}:  " + ", ".join(row))
    return "\n".join(out)


def format_verify(problem, report) -> str:
    d = report.to_dict()
    lines = [f"verify {problem.name}: {'OK' if report.ok else 'DISAGREEMENT'}"]
    for key in ("gradient_check", "hessian_check"):
        c = d.get(key)
        if c:
            lines.append(f"{key.replace('_', ' ')}: {'ok' if c['ok'] else 'FAILED'} "
                         f"(max relative error {_num(c['max_rel_error'])} at {c['points']} points)")
    it = d.get("iterative")
    if it:
        lines.append(f"iterative: {it.get('method')} {it.get('status')} at "
                     f"{it.get('x')} f = {_num(it.get('fun'))}")
    m = d.get("match")
    if m:
        lines.append("match: " + ", ".join(f"{k} {v}" for k, v in m.items()))
    an = report.analytic
    if an is not None and hasattr(an, "critical_points"):
        lines.append(format_analytic(an))
    elif an is not None:  # a data fit's closed form (symgd.verifier.FitClosedForm)
        lines.append(f"closed form: {an.status} ({an.message})")
        if an.x is not None:
            lines.append(f"  {an.how}: f = {_num(an.fun)} at ("
                         + ", ".join(f"{k} = {_num(v)}" for k, v in an.x.items()) + ")")
    for note in d.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)
