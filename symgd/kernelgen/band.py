"""The band of a templated objective's Hessian, and an ordering that narrows it.

H_ij can be nonzero only where x_i and x_j appear in one term. The templates list every
term's variables (symgd.kernelgen.templates), so the pattern is known without a
derivative: a chained sum has a band of half-width b = 1 or 2 in the given order. A
pattern that is sparse but not banded in the given order (a term coupling x_k with
x_{n-1-k}) is renumbered by reverse Cuthill-McKee (Cuthill & McKee 1969; George & Liu,
Computer Solution of Large Sparse Positive Definite Systems, 1981, ch. 4), which orders
the variables breadth-first from a peripheral one so that coupled variables get nearby
positions; the band Cholesky (symgd.methods.linalg) then works in that order.
"""
from __future__ import annotations

import numpy as np
import sympy as sp


def term_variables(parts, symbols):
    """Each term's variable indices: the groups' index rows, then the rest's terms."""
    index_of = {s: i for i, s in enumerate(symbols)}
    for g in parts.groups:
        yield from g.index
    for term in sp.Add.make_args(parts.rest):
        held = [index_of[s] for s in term.free_symbols if s in index_of]
        if held:
            yield np.array(held, dtype=np.int64)


def rest_hessian_entries(parts, symbols) -> int:
    """At most how many Hessian entries the terms left out of the groups have (p (p+1)
    / 2 for a term in p variables): each is a line of straight-line kernel code, and a
    term coupling every variable, such as (sum x_i)^2, has n (n+1) / 2 of them."""
    index_of = set(symbols)
    total = 0
    for term in sp.Add.make_args(parts.rest):
        p = sum(1 for s in term.free_symbols if s in index_of)
        total += p * (p + 1) // 2
    return total


def bandwidth(parts, symbols, pos=None) -> int:
    """The half-bandwidth b (H_ij = 0 where |pos_i - pos_j| > b); ``pos``: each
    variable's position (None: the given order)."""
    b = 0
    for held in term_variables(parts, symbols):
        p = held if pos is None else pos[held]
        if p.size:
            b = max(b, int(p.max() - p.min()))
    return b


def ordering(parts, symbols):
    """(b, pos): the half-bandwidth in the given order and None, or a narrower one with
    the reverse Cuthill-McKee positions pos (pos[i] = the position of variable i)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    n = len(symbols)
    b0 = bandwidth(parts, symbols)
    if b0 <= 2 or n < 3:
        return b0, None
    rows, cols = [], []
    for held in term_variables(parts, symbols):
        r, c = np.meshgrid(held, held)
        rows.append(r.ravel())
        cols.append(c.ravel())
    r, c = np.concatenate(rows), np.concatenate(cols)
    A = coo_matrix((np.ones(r.size), (r, c)), shape=(n, n)).tocsr()
    perm = reverse_cuthill_mckee(A, symmetric_mode=True)   # perm[k]: variable at k
    pos = np.empty(n, dtype=np.int64)
    pos[perm] = np.arange(n)
    b1 = bandwidth(parts, symbols, pos)
    return (b1, pos) if b1 < b0 else (b0, None)
