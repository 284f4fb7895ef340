"""Kernel source for an objective split into templated groups (symgd.kernelgen.templates).

The module has the kernels of :func:`symgd.kernelgen.codegen.kernel_source` (``fun``,
``fg``, ``hess``, same calling convention), built as

    f = rest(x) + sum over groups g of sum_k T_g(x[I_g[k, 0]], ...; C_g[k, 0], ...)

The rest is straight-line code as before; each group is one loop whose body is the
template's value, its p partial derivatives (added into g at the instance's indices)
and the upper triangle of its p x p Hessian (added into H at both (i, j) and (j, i)).
Index columns that step evenly are computed from k; the others, and the constants,
are module-level arrays, which numba compiles in as constants.
"""
from __future__ import annotations

import base64

import numpy as np
import sympy as sp

from symgd.calculus import smooth, sparse_derivatives
from symgd.kernelgen.codegen import HEADERS, body_lines
from symgd.kernelgen.printer import to_code
from symgd.kernelgen.templates import evenly_stepped

# numpy arrays as module text: small ones as literals (readable), large ones as the
# base64 of their little-endian bytes (exact, and Python compiles one string literal in
# microseconds where nested lists of 60,000 numbers took seconds)
TABLES_HEADER = "import base64\nimport numpy as np\n"
LITERAL_MAX = 64


def template_derivatives(tpl, hessian: bool):
    """(gradient in the local variables, [(a, b) for a <= b], the Hessian entries at those
    pairs, or [] without ``hessian``) of a template: what its loops compile and what
    ``derive`` prints (symgd.report)."""
    grad = [smooth(sp.diff(tpl.expr, v)) for v in tpl.local]
    p = len(tpl.local)
    pairs = [(a, b) for a in range(p) for b in range(a, p)]
    hess = [smooth(sp.diff(grad[a], tpl.local[b])) for a, b in pairs] if hessian else []
    return grad, pairs, hess


def table_text(name, array, dtype):
    if array.size > LITERAL_MAX:
        little = np.dtype(dtype).newbyteorder("<")
        data = base64.b64encode(np.ascontiguousarray(array, dtype=little).tobytes()).decode()
        return (f"{name} = np.frombuffer(base64.b64decode('{data}'), dtype='{little.str}')"
                f".reshape({array.shape[0]}, {array.shape[1]}).astype(np.{dtype})")
    rows = ",".join("[" + ",".join(repr(v) for v in row.tolist()) + "]" for row in array)
    return f"{name} = np.array([{rows}], dtype=np.{dtype}).reshape({array.shape[0]}, {array.shape[1]})"


class GroupLoop:
    """One template's symbolic derivatives and the lines that read its inputs."""

    def __init__(self, number, tpl, hessian):
        self.tpl = tpl
        self.grad, self.pairs, self.hess = template_derivatives(tpl, hessian)
        self.tables, self.index_code = [], []
        stepped = [evenly_stepped(col) for col in tpl.index.T]
        if any(st is None for st in stepped):   # the index table, once per group
            self.tables.append((f"I{number}", tpl.index, "int64"))
        for j, st in enumerate(stepped):
            if st is None:
                self.index_code.append(f"I{number}[k_, {j}]")
            else:
                start, step = st
                self.index_code.append(f"{start} + {step} * k_" if step else f"{start}")
        if tpl.slots:
            self.tables.append((f"C{number}", tpl.consts, "float64"))
        self.const_name = f"C{number}"

    def loop(self, exprs, writes):
        """A loop over the instances computing ``exprs`` (in the template's symbols)
        and running ``writes(results)`` -> lines, in the loop body."""
        tpl = self.tpl
        replacements, reduced = sp.cse(exprs, symbols=sp.numbered_symbols("t"),
                                       optimizations=None)
        used = set()
        for e in list(reduced) + [r[1] for r in replacements]:
            used |= e.free_symbols
        lines = [f"    for k_ in range({tpl.size}):"]
        for j, v in enumerate(tpl.local):
            lines.append(f"        i{j} = {self.index_code[j]}")
            if v in used:
                lines.append(f"        {v} = x[i{j}]")
        for j, c in enumerate(tpl.slots):
            if c in used:
                lines.append(f"        {c} = {self.const_name}[k_, {j}]")
        lines += [f"        {name} = {to_code(val)}" for name, val in replacements]
        results = [to_code(r) for r in reduced]
        lines += ["        " + w for w in writes(results)]
        return lines


def loop_source(name: str, parts, symbols, *, hessian: bool, band: int = -1,
                band_pos=None, sparse=None) -> str:
    """The kernel module of f = parts.rest + the groups of ``parts`` (a templates.Split).

    ``hessian``: include ``hess`` (dense n x n). ``band`` >= 0: include ``hess_band``,
    the lower band of half-width b = band packed by rows, B[i (b+1) + i - j] = H_ij
    for i - b <= j <= i (what symgd.methods.linalg.band_cholesky factors), and BAND = b.
    ``band_pos``: the band is of the Hessian with variable i at position band_pos[i]
    (symgd.kernelgen.band.ordering; also written out as BAND_POS). ``sparse``: a
    symgd.kernelgen.sparse_pattern.SparsePattern; include ``hess_sparse``, writing
    H's lower triangle into the pattern's slots, with SPARSE_NNZ, SPARSE_POS and
    SPARSE_STRUCT (its packed structure) for the loop."""
    n = len(symbols)
    need_second = hessian or band >= 0 or sparse is not None
    groups = [GroupLoop(k, g, need_second) for k, g in enumerate(parts.groups)]
    rest_grad, rest_hess = sparse_derivatives(parts.rest, list(symbols), hessian=need_second)
    out = []
    for g in groups:
        out += [table_text(tname, arr, dtype) for tname, arr, dtype in g.tables]

    out.append("\n@KERNEL(0)\ndef fun(x, out):")
    out += body_lines([parts.rest], symbols, ["f_r"])
    out.append("    f = 0.0 + f_r")   # a float from the start (the rest may print as 0)
    for g in groups:
        out += g.loop([g.tpl.expr], lambda r: [f"f += {r[0]}"])
    out.append("    return f\n")

    out.append(f"@KERNEL({n})\ndef fg(x, g):")
    out += [f"    for k_ in range({n}):", "        g[k_] = 0.0"]
    out += body_lines([parts.rest, *rest_grad.values()], symbols,
                      ["f_r"] + [f"g[{i}]" for i in rest_grad])
    out.append("    f = 0.0 + f_r")
    for g in groups:
        p = len(g.tpl.local)
        out += g.loop([g.tpl.expr, *g.grad], lambda r, p=p: [f"f += {r[0]}"] + [
            f"g[i{j}] += {r[1 + j]}" for j in range(p)])
    out.append("    return f\n")

    if hessian:
        out.append(f"@KERNEL({n * n})\ndef hess(x, H):")
        out += [f"    for k_ in range({n * n}):", "        H[k_] = 0.0"]
        if rest_hess:
            out += body_lines(list(rest_hess.values()), symbols,
                              [f"H[{i * n + j}]" for i, j in rest_hess])
            out += [f"    H[{j * n + i}] = H[{i * n + j}]" for i, j in rest_hess if i != j]
        for g in groups:
            out += g.loop(g.hess, lambda r, g=g: hess_writes(r, g.pairs, n))
        out.append("    return 0.0\n")
    if band >= 0:
        w = band + 1
        pos = list(range(n)) if band_pos is None else [int(v) for v in band_pos]
        out.append(f"BAND = {band}")
        out.append(f"BAND_POS = {None if band_pos is None else pos!r}")
        if band_pos is not None:
            out.append(f"P_ = np.array({pos!r}, dtype=np.int64)")
        out.append(f"\n@KERNEL({n * w})\ndef hess_band(x, B):")
        out += [f"    for k_ in range({n * w}):", "        B[k_] = 0.0"]
        if rest_hess:   # the entry's row in the band is its larger position
            targets = []
            for i, j in rest_hess:
                r, c = max(pos[i], pos[j]), min(pos[i], pos[j])
                targets.append(f"B[{r * w + r - c}]")
            out += body_lines(list(rest_hess.values()), symbols, targets)
        for g in groups:
            out += g.loop(g.hess, lambda r, g=g: _band_writes(r, g.pairs, w,
                                                              band_pos is not None))
        out.append("    return 0.0\n")
    if sparse is not None:
        out += _sparse_kernel(sparse, groups, rest_hess, symbols)
    body = "\n".join(out) + "\n"
    return HEADERS["numba"].format(name=name) + TABLES_HEADER + "\n" + body


def hess_writes(results, pairs, n, factor=""):
    """Lines adding a template's Hessian entries (``results`` at ``pairs`` (a, b), a <=
    b, of its local variables, indices i<a>) into the dense n x n H, both triangles,
    each times ``factor`` (code such as "y_ * ", or "")."""
    lines = []
    for r, (a, b) in zip(results, pairs):
        if r == "0":
            continue
        value = f"{factor}({r})" if factor else r
        lines.append(f"H[i{a} * {n} + i{b}] += {value}")
        if a != b:
            lines.append(f"H[i{b} * {n} + i{a}] += {value}")
    return lines


def _band_writes(results, pairs, w, permuted):
    """Lines adding the template's Hessian entries into the band; ``permuted``: the
    positions come from P_ (the band ordering), else they are the indices."""
    lines = []
    used = sorted({a for a, _ in pairs} | {b for _, b in pairs})
    if permuted:
        lines += [f"q{a} = P_[i{a}]" for a in used]
    q = "q" if permuted else "i"
    for r, (a, b) in zip(results, pairs):
        if r == "0":
            continue
        if a == b:
            lines.append(f"B[{q}{a} * {w}] += {r}")
        else:   # one triangle: the entry's row is the larger position
            lines.append(f"B[({q}{a} * {w} + {q}{a} - {q}{b}) if {q}{a} > {q}{b} else "
                         f"({q}{b} * {w} + {q}{b} - {q}{a})] += {r}")
    return lines


def _sparse_kernel(sp_pattern, groups, rest_hess, symbols):
    """``hess_sparse``: each Hessian entry added into its slot of the sparse pattern;
    a group's slots are a table (instance x template pair)."""
    nnz = sp_pattern.nnz
    out = [f"SPARSE_NNZ = {nnz}",
           table_text("SPARSE_POS", sp_pattern.pos[None, :], "int64"),
           table_text("SPARSE_STRUCT", sp_pattern.packed()[None, :], "float64")]
    for number, g in enumerate(groups):
        slots = np.array([[sp_pattern.slot(int(row[a]), int(row[b])) for a, b in g.pairs]
                          for row in g.tpl.index], dtype=np.int64)
        out.append(table_text(f"SL{number}", slots, "int64"))
    out.append(f"\n@KERNEL({nnz})\ndef hess_sparse(x, A):")
    out += [f"    for k_ in range({nnz}):", "        A[k_] = 0.0"]
    if rest_hess:
        out += body_lines(list(rest_hess.values()), symbols,
                          [f"A[{sp_pattern.slot(i, j)}]" for i, j in rest_hess])
    for number, g in enumerate(groups):
        out += g.loop(g.hess, lambda r, number=number: [
            f"A[SL{number}[k_, {c}]] += {v}" for c, v in enumerate(r) if v != "0"])
    out.append("    return 0.0\n")
    return out
