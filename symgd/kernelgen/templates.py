"""Repeated terms of a sum found and compiled as one loop (issue 14).

An objective written out term by term repeats one shape many times: a chained
Rosenbrock in n variables is 2(n - 1) terms of two shapes,

    100 (x_{k+1} - x_k^2)^2   and   (1 - x_k)^2,        k = 0 .. n-2,

and a sum of squares over 99 observations (MGH 11, Gulf) is 99 terms of one shape that
differ only in their numeric constants. Printing every term as straight-line code makes
the kernels, their compile time and the symbolic Hessian grow with the number of terms
(numba: about 2 s per 500 lines; DESIGN.md). Here each term is reduced to its *shape*:
its expression tree with the variables replaced by local symbols v0, v1, ... (in order
of first appearance) and its numbers by slots. Terms of one shape form a group

    sum_k T(x[I_k0], x[I_k1], ...; C_k0, C_k1, ...),

whose one template T is differentiated once (gradient and Hessian in its p local
variables) and compiled as a loop over k that scatters the p gradient entries and the
p(p+1)/2 Hessian entries into place. Kernel size and compile time no longer grow with
the number of terms; only the tables I (variable indices) and C (constants) do, and an
index column that steps evenly (k, k + 1, 2k) is computed, not stored.

A slot whose number is the same in every term of its group is written back as that
exact sympy number (so an exponent 2 stays the integer 2 and differentiates exactly);
only numbers that differ between terms become float64 table entries. Numbers in an
exponent are always part of the shape, never a slot (x^C with C varying would turn
an exact power into pow(x, c) with its 0 * inf at x = 0 for c = 0).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

MIN_GROUP = 8         # terms of one shape below this stay straight-line code
MIN_COVERED = 24      # templated kernels are used when groups hold at least this many terms


@dataclass
class Template:
    """One group: ``expr`` in ``local`` (v0..) and ``slots`` (c0..), its instances'
    variable indices ``index`` (K x p, into the problem's symbols) and constants
    ``consts`` (K x q, float64)."""

    expr: sp.Expr
    local: tuple
    slots: tuple
    index: np.ndarray
    consts: np.ndarray

    @property
    def size(self) -> int:
        return int(self.index.shape[0])


@dataclass
class Split:
    """f = sum of the groups' terms + ``rest`` (the terms of shapes seen too rarely)."""

    groups: list
    rest: sp.Expr
    n_terms: int


def _skeleton(e, position) -> str:
    """The shape of ``e`` with every variable and number alike (a sort key)."""
    if e in position:
        return "v"
    if isinstance(e, sp.Number):
        return "c"
    if not e.args:
        return str(e)
    return f"{e.func.__name__}({','.join(_skeleton(a, position) for a in e.args)})"


def _ordered_args(e, position):
    """``e.args`` in a canonical order. sympy orders the terms of a sum or product
    partly by their coefficients (0.52*x2 may come before or after x1), so two terms of
    one shape can list their arguments differently; Add and Mul arguments are sorted
    by their skeleton, then by the variables they hold."""
    if not isinstance(e, (sp.Add, sp.Mul)):
        return e.args

    def key(a):
        held = sorted(position[s] for s in a.free_symbols if s in position)
        return _skeleton(a, position), held

    return tuple(sorted(e.args, key=key))


def _shape(e, position, numbers, variables, in_exponent=False):
    """The hashable shape of ``e``; fills ``numbers`` (slot values, in traversal order)
    and ``variables`` (symbol -> local index, in order of first appearance)."""
    if e in position:
        k = variables.setdefault(e, len(variables))
        return ("v", k)
    if isinstance(e, sp.Number):
        if in_exponent:
            return ("n", e)
        numbers.append(e)
        return ("c",)
    if not e.args:
        return ("a", e)
    parts = tuple(_shape(a, position, numbers, variables,
                         in_exponent=isinstance(e, sp.Pow) and i == 1)
                  for i, a in enumerate(_ordered_args(e, position)))
    return (e.func, parts)


def _rebuild(e, position, local, slot_of, counter, in_exponent=False, index_of=None):
    """``e`` with its variables replaced by ``local`` symbols and its numbers by the
    symbol or exact value ``slot_of`` gives for their slot (traversal order, as in
    :func:`_shape`)."""
    if e in position:
        return local[position[e]]
    if isinstance(e, sp.Number):
        if in_exponent:
            return e
        k = counter[0]
        counter[0] += 1
        return slot_of[k]
    if not e.args:
        return e
    args = [_rebuild(a, position, local, slot_of, counter,
                     in_exponent=isinstance(e, sp.Pow) and i == 1, index_of=index_of)
            for i, a in enumerate(_ordered_args(e, index_of))]
    return e.func(*args)


def split(f: sp.Expr, symbols) -> Split | None:
    """The groups of repeated shapes in ``f``, or None when too few terms repeat for a
    loop to pay (f not a sum, or fewer than MIN_COVERED terms in groups of MIN_GROUP)."""
    if not f.is_Add or len(f.args) < MIN_COVERED:
        return None
    index_of = {s: i for i, s in enumerate(symbols)}
    by_shape: dict = {}
    for term in f.args:
        numbers, variables = [], {}
        key = _shape(term, index_of, numbers, variables)
        by_shape.setdefault(key, []).append((term, numbers, variables))
    groups, rest = [], []
    for members in by_shape.values():
        if len(members) < MIN_GROUP:
            rest += [m[0] for m in members]
            continue
        groups.append(_template(members, index_of))
    covered = sum(g.size for g in groups)
    if covered < MIN_COVERED:
        return None
    return Split(groups, sp.Add(*rest), len(f.args))


def split_rows(exprs, symbols) -> tuple:
    """([(Template, rows)], rest): the expressions of ``exprs`` (a list, such as a
    problem's constraints, where each keeps its own row) grouped by shape as
    :func:`split` groups a sum's terms; ``rows[k]`` is the position in ``exprs`` of the
    template's instance k, and ``rest`` the positions left as they are (shapes seen
    fewer than MIN_GROUP times). No groups where fewer than MIN_COVERED would be
    covered."""
    index_of = {s: i for i, s in enumerate(symbols)}
    by_shape: dict = {}
    for row, e in enumerate(exprs):
        numbers, variables = [], {}
        key = _shape(e, index_of, numbers, variables)
        by_shape.setdefault(key, []).append((e, numbers, variables, row))
    groups, rest = [], []
    for members in by_shape.values():
        if len(members) < MIN_GROUP:
            rest += [m[3] for m in members]
            continue
        members = sorted(members, key=_instance_order(index_of))
        groups.append((_template(members, index_of),
                       np.array([m[3] for m in members], dtype=np.int64)))
    if sum(t.size for t, _ in groups) < MIN_COVERED:
        return [], list(range(len(exprs)))
    return groups, sorted(rest)


def _instance_order(index_of):
    """Instances in the order of their variables (sympy sorts w[10] before w[2]), so
    that index columns which step evenly are seen to."""
    return lambda m: sorted((k, index_of[sym]) for sym, k in m[2].items())


def _template(members, index_of) -> Template:
    members = sorted(members, key=_instance_order(index_of))
    term0, numbers0, variables0 = members[0][:3]
    p = len(variables0)
    local = tuple(sp.Symbol(f"v{j}", real=True) for j in range(p))
    values = [m[1] for m in members]
    varying = [s for s in range(len(numbers0)) if any(v[s] != numbers0[s] for v in values)]
    slots = tuple(sp.Symbol(f"c{j}", real=True) for j in range(len(varying)))
    slot_of = list(numbers0)
    for j, s in enumerate(varying):
        slot_of[s] = slots[j]
    # variables0: the local position of each of the first term's variables
    expr = _rebuild(term0, variables0, local, slot_of, [0], index_of=index_of)
    index = np.empty((len(members), p), dtype=np.int64)
    consts = np.empty((len(members), len(varying)), dtype=np.float64)
    for r, member in enumerate(members):
        numbers, variables = member[1], member[2]
        for sym, k in variables.items():
            index[r, k] = index_of[sym]
        consts[r] = [float(numbers[s]) for s in varying]
    return Template(expr, local, slots, index, consts)


def evenly_stepped(column: np.ndarray):
    """(start, step) when column[k] = start + step k for every k, else None."""
    if column.size == 1:
        return int(column[0]), 0
    step = int(column[1] - column[0])
    if np.array_equal(column, column[0] + step * np.arange(column.size)):
        return int(column[0]), step
    return None
