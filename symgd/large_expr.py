"""Facts about an objective and its text, in time linear in its size.

sympy's own answers grow much faster than the expression on sums of thousands of terms
(chained Rosenbrock written out, n = 2,000, 3,998 terms): ``Expr.is_polynomial(*syms)``
4.4 s (each node intersects its symbols with all n), ``str`` 2.4 s (the printer sorts
the terms by their canonical keys); at n = 10,000 the two took minutes, after a solve of
seconds (issue 14). Here both are one walk over the tree.
"""
from __future__ import annotations

import sympy as sp

# A sum of more terms than this is shown as its first SHOWN_TERMS terms and a count
FULL_TEXT_TERMS = 400
SHOWN_TERMS = 6


def is_polynomial(expr, symbols) -> bool:
    """Whether ``expr`` is a polynomial in ``symbols``: sympy's rule (Add and Mul of
    polynomials; a power of one with an Integer exponent >= 0; anything else only where
    it holds none of the symbols), by one walk over the tree."""
    syms = set(symbols)
    stack = [sp.sympify(expr)]
    while stack:
        e = stack.pop()
        if e.is_Number or e in syms:
            continue
        if e.is_Add or e.is_Mul:
            stack.extend(e.args)
        elif e.is_Pow:
            base, exp = e.args
            if exp.free_symbols & syms:
                return False
            if base.free_symbols & syms:
                if not (exp.is_Integer and exp >= 0):
                    return False
                stack.append(base)
        elif e.free_symbols & syms:
            return False
    return True


def text(expr) -> str:
    """The expression as people read it: sympy's text, or for a sum of more than
    FULL_TEXT_TERMS terms its first SHOWN_TERMS terms (in sympy's stored order, unsorted)
    and how many there are."""
    if expr is None:
        return ""
    if isinstance(expr, sp.Add) and len(expr.args) > FULL_TEXT_TERMS:
        head = " + ".join(sp.sstr(t, order="none") for t in expr.args[:SHOWN_TERMS])
        return f"{head} + ... (a sum of {len(expr.args):,} terms)"
    return str(expr)
