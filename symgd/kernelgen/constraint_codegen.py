"""Kernel source for constraints of repeated shapes as loops (issue 14).

m constraints written out one by one (a pair constraint for every other variable,
x_i^2 + x_{i+1}^2 <= 1.5) repeat a few shapes. Printing each as straight-line code
makes the constraint module's compile time grow with m (1,000 constraints: ~40 s).
Here the constraints are grouped by shape exactly as an objective's terms are
(symgd.kernelgen.templates.split_rows: variables and differing numbers become table
entries), and each group is one loop per kernel over its instances, with the
template's value, gradient and Hessian differentiated once:

    cval:   c[r_k] = T(x[I_k0], ...; C_k)
    cjac:   J[r_k n + I_kj] = dT/dv_j
    chess:  H[I_ka n + I_kb] += y[r_k] d2T/dv_a dv_b   (both triangles)

with r_k the constraint's row. The kernels are those of
symgd.kernelgen.codegen.constraint_source (same names, calling convention and dense
outputs); constraints of shapes seen too rarely stay straight-line code there.
"""
from __future__ import annotations

import sympy as sp

from symgd.kernelgen.codegen import HEADERS, body_lines, weighted_hessian_lines
from symgd.kernelgen.loop_codegen import TABLES_HEADER, GroupLoop, hess_writes, table_text
from symgd.kernelgen.templates import evenly_stepped


def _row_code(number, rows, tables):
    """The row of instance k_ as code: computed where the rows step evenly, else
    read from a table R<number> (appended to ``tables``)."""
    st = evenly_stepped(rows)
    if st is None:
        tables.append(table_text(f"R{number}", rows.reshape(-1, 1), "int64"))
        return f"R{number}[k_, 0]"
    start, step = st
    return f"{start} + {step} * k_" if step else f"{start}"


def constraint_loop_source(name: str, values, groups, rest, rest_jac, rest_hess,
                           symbols) -> str:
    """The kernel module of m constraints ``values``: ``groups`` [(Template, rows)]
    as loops, the rows ``rest`` as straight-line code from their nonzero derivatives
    ``rest_jac`` {(i, j): expr} and ``rest_hess`` {(j, k): [(i, expr), ...]} (rows i
    into ``values``; symgd.constrained.kernels.sparse_constraint_derivatives)."""
    n, m = len(symbols), len(values)
    ys = [sp.Dummy(f"y{i}", real=True) for i in range(m)]
    loops = [GroupLoop(k, tpl, True) for k, (tpl, _) in enumerate(groups)]
    tables = []
    for g in loops:
        tables += [table_text(tname, arr, dtype) for tname, arr, dtype in g.tables]
    rows = [_row_code(k, r, tables) for k, (_, r) in enumerate(groups)]
    out = list(tables)

    out.append("\n@KERNEL(0)\ndef cval(x, c):")
    if rest:
        out += body_lines([values[i] for i in rest], symbols, [f"c[{i}]" for i in rest])
    for g, row in zip(loops, rows):
        out += g.loop([g.tpl.expr], lambda r, row=row: [f"r_ = {row}", f"c[r_] = {r[0]}"])
    out.append("    return 0.0\n")

    out.append("@KERNEL(0)\ndef cjac(x, J):")
    out += [f"    for k_ in range({m * n}):", "        J[k_] = 0.0"]
    if rest_jac:
        out += body_lines(list(rest_jac.values()), symbols,
                          [f"J[{i * n + j}]" for i, j in rest_jac])
    for g, row in zip(loops, rows):
        out += g.loop(g.grad, lambda r, row=row: [f"r_ = {row}"] + [
            f"J[r_ * {n} + i{j}] = {v}" for j, v in enumerate(r) if v != "0"])
    out.append("    return 0.0\n")

    out.append("@KERNEL(0)\ndef chess(x, H):")
    out += [f"    for k_ in range({n * n}):", "        H[k_] = 0.0"]
    out += weighted_hessian_lines(rest_hess, ys, symbols)
    for g, row in zip(loops, rows):
        # y[r] is x[n + r]: chess reads xy = [x, y]
        out += g.loop(g.hess, lambda r, g=g, row=row: [f"r_ = {row}", f"y_ = x[{n} + r_]"]
                      + hess_writes(r, g.pairs, n, "y_ * "))
    out.append("    return 0.0\n")
    return HEADERS["numba"].format(name=name) + TABLES_HEADER + "\n" + "\n".join(out) + "\n"
