"""Printing sympy back as problem-file text (:func:`to_source`).

The inverse of :func:`symgd.io.parser.parse_expression`: a StrPrinter restricted to
the grammar's node types, so that what it writes reads back to an equal expression,
and anything outside the grammar is a ValueError rather than text that would not load.
"""
from __future__ import annotations

import keyword
import math

import sympy as sp
from sympy.printing.precedence import precedence
from sympy.printing.str import StrPrinter

from symgd.io.grammar import CONSTANTS, FUNCTIONS, MAX_NAME_LENGTH, NAME_RE

_PRINTABLE_FUNCTIONS = tuple(f for f, _, _ in FUNCTIONS.values() if isinstance(f, type))
_RELATION_TEXT = {sp.Equality: "==", sp.LessThan: "<=", sp.GreaterThan: ">=",
                  sp.StrictLessThan: "<", sp.StrictGreaterThan: ">"}


class _SourcePrinter(StrPrinter):
    """StrPrinter restricted to the problem-file grammar (whitelist of node types)."""

    def _print(self, expr, **kwargs):
        if isinstance(expr, sp.Basic):
            self._check(expr)
        return super()._print(expr, **kwargs)

    @staticmethod
    def _check(expr):
        ok = (
            (isinstance(expr, sp.Symbol) and not isinstance(expr, (sp.Dummy, sp.Wild)))
            or isinstance(expr, (sp.Rational, sp.Add, sp.Mul, sp.Pow))
            or (isinstance(expr, sp.Float) and expr.is_finite)
            or expr is sp.pi or expr is sp.E
            or type(expr) in _PRINTABLE_FUNCTIONS
            or type(expr) in _RELATION_TEXT
        )
        if not ok:
            raise ValueError(f"{sp.sstr(expr)[:60]} ({type(expr).__name__}) cannot be written "
                             "in a problem file")

    def _print_Symbol(self, expr):
        name = expr.name
        if (not NAME_RE.match(name) or keyword.iskeyword(name) or name.startswith("__")
                or name in FUNCTIONS or name in CONSTANTS or len(name) > MAX_NAME_LENGTH):
            raise ValueError(f"the symbol name {name!r} cannot be written in a problem file")
        return name

    def _print_Float(self, expr):
        value = float(expr)
        if not math.isfinite(value):
            raise ValueError(f"{expr} cannot be written in a problem file")
        return repr(value)

    def _print_Integer(self, expr):
        return str(expr.p)

    def _print_Rational(self, expr):
        return f"{expr.p}/{expr.q}" if expr.q != 1 else str(expr.p)

    def _print_Exp1(self, expr):
        return "E"

    def _print_Pi(self, expr):
        return "pi"

    def _print_Function(self, expr):
        return f"{type(expr).__name__}({', '.join(self._print(a) for a in expr.args)})"

    def _print_Max(self, expr):
        return "Max(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Min(self, expr):
        return "Min(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Relational(self, expr):
        op = _RELATION_TEXT.get(type(expr))
        if op is None:
            raise ValueError(f"the relation {sp.sstr(expr)} cannot be written in a problem "
                             "file; use ==, <= or >=")
        return (f"{self.parenthesize(expr.lhs, precedence(expr))} {op} "
                f"{self.parenthesize(expr.rhs, precedence(expr))}")


def to_source(expr: sp.Basic) -> str:
    """Write a sympy expression (or relation) in problem-file syntax.

    The text uses ``**``, the grammar's function names, ``pi`` and ``E``;
    :func:`parse_expression` reads it back to an equal expression (relations with
    ``relation=True``). Floats print with Python's shortest round-trip ``repr``
    (exact for 53-bit Floats; higher-precision Floats are rounded to a double),
    rationals as ``p/q``, in parentheses where precedence needs them. ``<`` and
    ``>`` print as such and are read back as ``<=``/``>=``.

    Raises:
        ValueError: for anything outside the grammar (``I``, ``oo``, ``nan``,
            Piecewise, Heaviside, other functions, symbols that are not valid names).
        TypeError: for objects that are not sympy expressions or Python numbers.
    """
    if isinstance(expr, bool) or not isinstance(expr, (sp.Basic, int, float)):
        raise TypeError(f"to_source expects a sympy expression, got {type(expr).__name__}")
    if isinstance(expr, int):
        expr = sp.Integer(expr)
    elif isinstance(expr, float):
        expr = sp.Float(expr)
    return _SourcePrinter().doprint(expr)
