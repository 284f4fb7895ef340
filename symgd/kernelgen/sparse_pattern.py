"""The sparse Cholesky structure of a templated objective's Hessian.

Where no ordering makes the Hessian narrowly banded (symgd.kernelgen.band) — an
arrowhead, where one variable meets every term, or a 2-D grid, whose best band is
sqrt(n) wide — newton factors it as a general sparse matrix. The pattern comes from
the templates' variable lists (H_ij can be nonzero only where x_i and x_j share a
term). A fill-reducing ordering, the minimum-degree rule (Tinney & Walker 1967;
George & Liu, "The evolution of the minimum degree ordering algorithm", SIAM Review
31, 1989), eliminates at each step the variable with the fewest neighbours; the
neighbours it leaves form a clique, and those cliques are exactly the columns of the
Cholesky factor L (George & Liu, Computer Solution of Large Sparse Positive Definite
Systems, 1981, ch. 5). An arrowhead orders its hub last and fills nothing.

The structure is fixed for the whole solve, so it is computed once here and handed to
the compiled loop (symgd.methods.sparse_linalg) packed into one float vector:

    [colptr (n+1), rowidx (nnz), rowptr (n+1), rowcol (m), rowslot (m)]

L is stored by columns (CSC) in the elimination order, diagonal first in each column,
rows ascending; nnz = colptr[n] and m = nnz - n off-diagonal entries. Row j's entries
L[j, k], k < j, are rowcol[rowptr[j]:rowptr[j+1]] with their slots in rowslot (what
the left-looking factorisation reads).
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from symgd.kernelgen.band import term_variables

# Sparse Cholesky beats the dense one where its flops are under this share of n^3 / 3
# (indirect addressing costs a few times the dense inner loop).
DENSE_SHARE = 1 / 8
# ... and beats the band where its flops are under this share of the band's n (b+1)^2.
BAND_SHARE = 1 / 4


@dataclass
class SparsePattern:
    """A Hessian's Cholesky structure in the minimum-degree order.

    pos[i]: the position of variable i; colptr, rowidx: L's pattern (CSC, positions);
    flops: sum over columns of their entry count squared (the factorisation's work)."""

    n: int
    pos: np.ndarray
    colptr: np.ndarray
    rowidx: np.ndarray
    flops: int

    @property
    def nnz(self) -> int:
        return int(self.colptr[-1])

    def slot(self, i: int, j: int) -> int:
        """The storage slot of H_ij (variables i, j) in L's pattern: the lower entry
        (row = the larger position) of column = the smaller position."""
        r, c = int(self.pos[i]), int(self.pos[j])
        if r < c:
            r, c = c, r
        lo, hi = int(self.colptr[c]), int(self.colptr[c + 1])
        k = lo + int(np.searchsorted(self.rowidx[lo + 1:hi], r)) + (1 if r != c else 0)
        if k >= hi or self.rowidx[k] != r:
            raise KeyError(f"H[{i}, {j}] is outside the sparsity pattern")
        return k

    def slots(self, i, j, missing: bool = False) -> np.ndarray:
        """:meth:`slot` for arrays of variable pairs at once; ``missing``: -1 for a
        pair outside the pattern, where otherwise it is a KeyError."""
        n = self.n
        keys = getattr(self, "_keys", None)
        if keys is None:   # column * n + row of every slot: ascending in CSC order
            col_of = np.repeat(np.arange(n, dtype=np.int64), np.diff(self.colptr))
            keys = self._keys = col_of * n + self.rowidx.astype(np.int64)
        r = self.pos[np.asarray(i, dtype=np.int64)]
        c = self.pos[np.asarray(j, dtype=np.int64)]
        want = np.minimum(r, c) * n + np.maximum(r, c)
        k = np.minimum(np.searchsorted(keys, want), keys.size - 1)
        found = keys[k] == want
        if not missing and not np.all(found):
            bad = int(np.flatnonzero(~found)[0])
            raise KeyError(f"H[{int(np.ravel(i)[bad])}, {int(np.ravel(j)[bad])}] is outside "
                           "the sparsity pattern")
        return np.where(found, k, -1)

    def arrays(self) -> tuple:
        """(colptr, rowidx, rowptr, rowcol, rowslot) as int64 arrays (see the module
        docstring): what symgd.methods.sparse_linalg takes."""
        n, nnz = self.n, self.nnz
        col_of = np.repeat(np.arange(n), np.diff(self.colptr))
        off = np.ones(nnz, dtype=bool)
        off[self.colptr[:-1]] = False            # the diagonal slots
        slots = np.nonzero(off)[0]
        rows, cols = self.rowidx[slots], col_of[slots]
        order = np.lexsort((cols, rows))          # by row, then column
        rowptr = np.zeros(n + 1, dtype=np.int64)
        np.add.at(rowptr, rows + 1, 1)
        rowptr = np.cumsum(rowptr)
        return (self.colptr.astype(np.int64), self.rowidx.astype(np.int64),
                rowptr.astype(np.int64), cols[order].astype(np.int64),
                slots[order].astype(np.int64))

    def packed(self) -> np.ndarray:
        """The structure as one float vector (see the module docstring)."""
        return np.concatenate(self.arrays()).astype(np.float64)

    def pays(self, band: int) -> bool:
        """Whether factoring this pattern beats the dense Hessian and, where the band
        of half-width ``band`` (-1: none that pays) is usable, that band too."""
        n = self.n
        if n < 16 or self.flops > DENSE_SHARE * n ** 3 / 3:
            return False
        return band < 0 or self.flops < BAND_SHARE * n * (band + 1) ** 2


def neighbours(parts, symbols) -> list:
    """Each variable's set of the other variables it shares a term with."""
    return clique_neighbours(term_variables(parts, symbols), len(symbols))


def clique_neighbours(cliques, n: int) -> list:
    """Each of n variables' set of the others it shares a clique (an iterable of
    variable indices: a term, a constraint) with."""
    adj = [set() for _ in range(n)]
    for held in cliques:
        members = set(int(v) for v in held)
        for v in members:
            adj[v] |= members
    for v, s in enumerate(adj):
        s.discard(v)
    return adj


def minimum_degree(adj: list) -> tuple:
    """(order, columns): the elimination order and, for each eliminated variable, the
    variables still uneliminated that it is joined to at that moment (L's column).
    Ties go to the lower index, so the order is the same run to run."""
    adj = [set(s) for s in adj]
    heap = [(len(s), v) for v, s in enumerate(adj)]
    heapq.heapify(heap)
    done = bytearray(len(adj))
    order, columns = [], []
    while heap:
        degree, v = heapq.heappop(heap)
        if done[v] or degree != len(adj[v]):
            continue                              # a stale entry
        done[v] = 1
        joined = adj[v]
        order.append(v)
        columns.append(joined)
        for u in joined:                          # v's neighbours become a clique
            au = adj[u]
            au.discard(v)
            au |= joined
            au.discard(u)
            heapq.heappush(heap, (len(au), u))
        adj[v] = set()
    return order, columns


def pattern(parts, symbols) -> SparsePattern:
    """The minimum-degree Cholesky structure of the templated objective's Hessian."""
    return pattern_of(neighbours(parts, symbols))


def pattern_of(adj: list) -> SparsePattern:
    """The minimum-degree Cholesky structure of a symmetric matrix whose off-diagonal
    entry (i, j) can be nonzero only where j is in adj[i] (clique_neighbours)."""
    n = len(adj)
    order, columns = minimum_degree(adj)
    pos = np.empty(n, dtype=np.int64)
    pos[np.asarray(order, dtype=np.int64)] = np.arange(n)
    counts = np.array([1 + len(c) for c in columns], dtype=np.int64)
    colptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    rowidx = np.empty(int(colptr[-1]), dtype=np.int64)
    for k, joined in enumerate(columns):
        rowidx[colptr[k]] = k
        rowidx[colptr[k] + 1:colptr[k + 1]] = np.sort(pos[list(joined)]) if joined else []
    return SparsePattern(n, pos, colptr, rowidx, int(np.sum(counts.astype(np.float64) ** 2)))
