"""Print sympy expressions as numba-compilable Python source.

The kernels use the ``math`` module (numba compiles Piecewise as a conditional
expression, Max/Min as ``max``/``min``, Abs as ``abs``; DESIGN.md). Floats print with
``repr`` of the double so no digit of the user's constant is lost.
"""
from __future__ import annotations

import math

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter


class KernelPrinter(PythonCodePrinter):
    """PythonCodePrinter with exact doubles, safe signs and Heaviside."""

    def __init__(self):
        super().__init__({"fully_qualified_modules": True, "standard": "python3"})

    def _print_Float(self, expr):
        v = float(expr)
        if math.isnan(v):
            return "math.nan"
        if math.isinf(v):
            return "math.inf" if v > 0 else "(-math.inf)"
        return repr(v)

    def _print_Integer(self, expr):
        # Large integers would overflow numba's int64: print them as doubles.
        v = int(expr)
        return repr(v) if abs(v) < 2**53 else repr(float(v))

    def _print_Rational(self, expr):
        return repr(float(expr))

    def _print_sign(self, expr):
        a = self._print(expr.args[0])
        return f"(0.0 if {a} == 0.0 else (1.0 if {a} > 0.0 else (-1.0 if {a} < 0.0 else {a})))"

    def _print_Heaviside(self, expr):
        a = self._print(expr.args[0])
        half = self._print(expr.args[1]) if len(expr.args) > 1 else "0.5"
        return f"(0.0 if {a} < 0.0 else (1.0 if {a} > 0.0 else {half}))"

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.args
        if exp == sp.S.Half:
            return f"math.sqrt({self._print(base)})"
        if exp == -sp.S.Half:
            return f"(1.0/math.sqrt({self._print(base)}))"
        if exp.is_Integer and abs(int(exp)) <= 64:
            b = self.parenthesize(base, 1000)  # always parenthesise compound bases
            e = int(exp)
            if e == -1:
                return f"(1.0/{b})"
            if e < 0:
                return f"(1.0/{b}**{-e})"
            return f"{b}**{e}"
        return f"{self.parenthesize(base, 1000)}**{self.parenthesize(exp, 1000)}"


_PRINTER = KernelPrinter()


def to_code(expr: sp.Expr) -> str:
    """Python source for one scalar expression."""
    return _PRINTER.doprint(expr)
