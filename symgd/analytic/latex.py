"""LaTeX for an :class:`~symgd.analytic.report.AnalyticReport` (Jupyter's ``_repr_latex_``).

One ``aligned`` block: the status line, each family of critical points, then one row per
critical point: index, class, the exact coordinates (parsed back from their problem-file
syntax by the safe parser and printed by ``sympy.latex``; the 30-digit decimals of
algebraic points as they are), the objective value, the eigenvalues of the (reduced)
Hessian (symgd.analytic.eigen) and the multipliers where there are constraints.
"""
from __future__ import annotations

import math

import sympy as sp

from symgd.calculus import tex_text


def text(s: str) -> str:
    """``s`` inside LaTeX's \\text{...}, its special characters escaped."""
    return r"\text{" + tex_text(s) + "}"


def number(v) -> str:
    """A float in LaTeX with 6 significant digits (1.5 \\times 10^{-7})."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return text("n/a" if v is None else str(v))
    s = f"{v:.6g}"
    if "e" in s:
        mant, exp = s.split("e")
        return rf"{mant} \times 10^{{{int(exp)}}}"
    return s


def exact(value: str, kind: str, fallback: float) -> str:
    """An exact value (problem-file syntax) in LaTeX; decimals of algebraic numbers as
    they are; the float where the text cannot be read."""
    if kind == "algebraic":
        return value
    from symgd.errors import InputError
    from symgd.io.parser import parse_expression

    try:
        return sp.latex(parse_expression(value, {}))
    except (InputError, ValueError, TypeError):
        return number(fallback)


def constraint(c: str, names) -> str:
    """A constraint's text (problem-file syntax) as LaTeX, read by the safe parser with
    the variables as symbols; as plain text where it names anything else."""
    from symgd.calculus import relation_latex
    from symgd.errors import InputError
    from symgd.io.parser import parse_expression

    syms = {n: sp.Symbol(n, real=True) for n in names}
    try:
        rel = parse_expression(c, syms, relation=True)
    except (InputError, ValueError, TypeError):
        return text(c)
    op = {sp.Eq: "==", sp.Le: "<=", sp.Ge: ">="}.get(type(rel))
    return text(c) if op is None else relation_latex(op, rel.lhs, rel.rhs)


def point_row(i: int, p, best: bool) -> str:
    names = list(p.x)
    syms = ", ".join(sp.latex(sp.Symbol(n)) for n in names)
    vals = ", ".join(exact(p.exact.get(n, ""), p.exact_kind, p.x[n]) if n in p.exact
                     else number(p.x[n]) for n in names)
    where = rf"({syms}) = \left({vals}\right)" if len(names) > 1 else rf"{syms} = {vals}"
    fun = exact(p.fun_exact, p.exact_kind, p.fun) if p.fun_exact else number(p.fun)
    row = rf"&[{i}]\ {text(p.classification.replace('_', ' '))}:\ {where},\ f = {fun}"
    eig = getattr(p, "eigenvalues", None)
    if eig is not None:
        sym = r"\lambda(\nabla^2 L|_T)" if p.active else r"\lambda(\nabla^2 f)"
        row += rf",\ {sym} = \left({', '.join(number(v) for v in eig)}\right)"
    if p.multipliers:
        row += r",\ " + r",\ ".join(rf"\mu[{constraint(c, names)}] = {number(v)}"
                                    for c, v in p.multipliers.items())
    if best:
        row += r"\quad \leftarrow " + text("best")
    return row


def report_latex(report) -> str:
    """``$$\\begin{aligned} ... \\end{aligned}$$`` for the report (see the module docstring)."""
    head = f"closed form: {report.status}"
    if report.best is not None:
        head += {True: "; best proven global", False: "; not global",
                 None: "; global optimality not shown"}[report.global_]
    rows = ["&" + text(head)]
    if report.message:
        rows.append("&" + text(report.message))
    rows += ["&" + text("family: " + fam) for fam in report.families]
    rows += [point_row(i, p, report.best == i) for i, p in enumerate(report.critical_points)]
    return "$$\\begin{aligned}" + r" \\ ".join(rows) + "\\end{aligned}$$"
