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

With ``sparse_outputs`` (problems large enough for sparse Newton systems,
symgd.constrained.sparse_newton), two more kernels write the nonzeros alone, in the
fixed order of :func:`sparse_layout`, so a method holds no m x n or n x n matrix:

    cjac_nz:  v[p] = d c_i / d x_j                  (i, j) = the layout's p-th entry
    chess_nz: v[p] = sum_i y_i d2 c_i / d x_j d x_k  (j, k) = the layout's p-th pair

The straight-line rows come first, in the order of their derivative dictionaries,
then each group's instances in turn, a template's nonzero derivatives in order.
Pairs may repeat (two constraints meeting the same variables): consumers add them.
"""
from __future__ import annotations

import numpy as np
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


def _nonzero(exprs) -> list:
    """The positions of the expressions that are not identically 0."""
    return [k for k, e in enumerate(exprs) if e != 0]


def sparse_layout(loops, groups, rest_jac, rest_hess) -> tuple:
    """(jac_rows, jac_cols, hess_rows, hess_cols): the entries cjac_nz and chess_nz
    write, in order (module docstring), as int64 arrays."""
    jr = [i for i, _ in rest_jac]
    jc = [j for _, j in rest_jac]
    hr = [j for j, _ in rest_hess]
    hc = [k for _, k in rest_hess]
    for g, (tpl, rows) in zip(loops, groups):
        grads = _nonzero(g.grad)
        jr += np.repeat(np.asarray(rows), len(grads)).tolist()
        jc += tpl.index[:, grads].ravel().tolist()
        pairs = [g.pairs[c] for c in _nonzero(g.hess)]
        hr += tpl.index[:, [a for a, _ in pairs]].ravel().tolist()
        hc += tpl.index[:, [b for _, b in pairs]].ravel().tolist()
    return tuple(np.asarray(v, dtype=np.int64) for v in (jr, jc, hr, hc))


def _sparse_kernels(loops, rows, rest_jac, rest_hess, ys, symbols) -> list:
    """The lines of cjac_nz and chess_nz (module docstring)."""
    n = len(symbols)
    out = ["@KERNEL(0)\ndef cjac_nz(x, v):"]
    if rest_jac:
        out += body_lines(list(rest_jac.values()), symbols,
                          [f"v[{p}]" for p in range(len(rest_jac))])
    base = len(rest_jac)
    for g, row in zip(loops, rows):
        grads = _nonzero(g.grad)
        if grads:
            out += g.loop([g.grad[j] for j in grads], lambda r, base=base, k=len(grads): [
                f"v[{base} + k_ * {k} + {q}] = {v}" for q, v in enumerate(r)])
        base += g.tpl.size * len(grads)
    out.append("    return 0.0\n")
    out.append("@KERNEL(0)\ndef chess_nz(x, v):")
    entries = [sp.Add(*[ys[i] * h for i, h in terms]) for terms in rest_hess.values()]
    if entries:
        out += body_lines(entries, list(symbols) + list(ys),
                          [f"v[{p}]" for p in range(len(entries))])
    base = len(entries)
    for g, row in zip(loops, rows):
        pairs = _nonzero(g.hess)
        if pairs:
            # y[r] is x[n + r]: chess_nz reads xy = [x, y]
            out += g.loop([g.hess[c] for c in pairs], lambda r, base=base, k=len(pairs),
                          row=row: [f"r_ = {row}", f"y_ = x[{n} + r_]"] + [
                f"v[{base} + k_ * {k} + {q}] = y_ * ({v})" for q, v in enumerate(r)])
        base += g.tpl.size * len(pairs)
    out.append("    return 0.0\n")
    return out


def constraint_loop_source(name: str, values, groups, rest, rest_jac, rest_hess,
                           symbols, sparse_outputs: bool = False) -> tuple:
    """(source, layout): the kernel module of m constraints ``values``: ``groups`` [(Template, rows)]
    as loops, the rows ``rest`` as straight-line code from their nonzero derivatives
    ``rest_jac`` {(i, j): expr} and ``rest_hess`` {(j, k): [(i, expr), ...]} (rows i
    into ``values``; symgd.constrained.kernels.sparse_constraint_derivatives);
    ``sparse_outputs``: with cjac_nz and chess_nz (module docstring) and their
    :func:`sparse_layout`, else layout ()."""
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
    layout = ()
    if sparse_outputs:
        out += _sparse_kernels(loops, rows, rest_jac, rest_hess, ys, symbols)
        layout = sparse_layout(loops, groups, rest_jac, rest_hess)
    source = HEADERS["numba"].format(name=name) + TABLES_HEADER + "\n" + "\n".join(out) + "\n"
    return source, layout
