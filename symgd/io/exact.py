"""Exact numbers kept within reach: size estimates before sympy computes, and checks that
what was built is a finite real number a double can hold.

sympy evaluates exact arithmetic eagerly: ``9**9**9`` or ``factorial(10**9)`` would run
for hours. The parser (:mod:`symgd.io.parser`) and :func:`substitute_checked` (the Python
API's parameter substitution) estimate the bits of every power, product and sum of exact
numbers from the operands, before sympy is asked, and refuse what exceeds
:class:`~symgd.io.limits.ExprLimits`. :func:`double_range_defect` and
:func:`check_double_range` find numbers beyond the double range that the compiled
kernels could not hold. Every walk is iterative (no recursion limit).
"""
from __future__ import annotations

import math
from typing import Mapping

import sympy as sp

from symgd.errors import InputError
from symgd.io.limits import DEFAULT_LIMITS, ExprLimits

LOG10_2 = math.log10(2)


def bit_size(n: int) -> int:
    """Bits of |n|, counting 0 and +-1 as free (they never grow under powers)."""
    n = abs(int(n))
    return 0 if n <= 1 else n.bit_length()


def _is_exact_root(e) -> bool:
    return e.is_Pow and e.base.is_Rational and e.exp.is_Rational


def exact_parts(e) -> tuple[int, int, int]:
    """(numerator bits, denominator bits, root-base bits) of the exact numbers
    at the top of ``e``: what sympy multiplies, adds or powers when ``e`` is
    combined with other terms. Looks one level into Mul and Add only."""
    if e.is_Rational:
        return bit_size(e.p), bit_size(e.q), 0
    if _is_exact_root(e):
        return 0, 0, bit_size(e.base.p) + bit_size(e.base.q)
    if e.is_Mul:
        num = den = root = 0
        for a in e.args:
            if a.is_Rational:
                num += bit_size(a.p)
                den += bit_size(a.q)
            elif _is_exact_root(a):
                root += bit_size(a.base.p) + bit_size(a.base.q)
        return num, den, root
    if e.is_Add:
        num = den = 0
        for a in e.args:
            n, d, _ = exact_parts(a)  # the terms of an Add are never Adds: 2 levels at most
            num = max(num, n)
            den += d
        return num, den, 0
    return 0, 0, 0


def digits_from_bits(bits: int) -> str:
    """'1,234' or '1.23e+45': the decimal digits of a number of ``bits`` bits (any size)."""
    bits = int(bits)
    if bits < 10**15:
        return f"{bits * LOG10_2:,.0f}"
    lg = math.log10(bits) + math.log10(LOG10_2)  # math.log10 takes ints of any size
    e = math.floor(lg)
    return f"{10 ** (lg - e):.2f}e+{e}"


_BAD_CONSTANTS = (sp.S.ComplexInfinity, sp.S.NaN, sp.S.Infinity, sp.S.NegativeInfinity,
                  sp.S.ImaginaryUnit)


_DOUBLE_MAX_BITS = 1024  # 2**1024 > the largest double (1.797e308) >= 2**1023


def _rational_too_large(e) -> bool:
    """|p/q| above the largest double (a cheap bit-length test, exact at the margin)."""
    p, q = abs(int(e.p)), int(e.q)
    if p.bit_length() - q.bit_length() < _DOUBLE_MAX_BITS - 1:
        return False
    try:
        return not math.isfinite(p / q)
    except OverflowError:
        return True


def _float_text(e) -> str:
    """'1.97e+434' or '10**(4.3e+99)': a sympy Float of any exponent, short, for messages."""
    try:
        mpf = sp.Float(e)._mpf_
        sign, man, exp2, _ = mpf
        if not man:
            return "infinity"
        log10 = (exp2 + man.bit_length()) * LOG10_2
        if abs(log10) < 1e6:
            return sp.Float(e, 3).__str__()
        return f"{'-' if sign else ''}10**({log10:.3g})"
    except Exception:  # pragma: no cover - printing never matters more than the error
        return "infinity"


def numeric_defect(e) -> str | None:
    """For a function of numbers only (``asin(2)``, ``exp(1000)``, ``pi**1e5``): why its
    value is not a finite real double, or None. sympy leaves such values unevaluated,
    and the kernels would only meet nan or inf at run time."""
    if not (e.is_Function or e.is_Pow) or e.is_Rational:
        return None
    if not all(a.is_Number or a.is_NumberSymbol for a in e.args):
        return None
    if e.is_Pow and e.base.is_Rational and e.exp.is_Rational:
        return None  # exact roots: sized by max_root_bits, real-checked by node_defect
    try:
        v = e.evalf(30)
    except Exception:  # sympy cannot evaluate it: leave it to the kernels
        return None
    if v.has(sp.S.ImaginaryUnit) or v.is_extended_real is False:
        return "is not a real number"
    if v.is_Number:
        if v.is_infinite or v is sp.S.NaN:
            return "is not finite"
        try:
            finite = math.isfinite(float(v))
        except (OverflowError, TypeError, ValueError):
            finite = False
        if not finite:
            size = _float_text(v)
            size = "far" if size == "infinity" else f"about {size},"
            return f"is {size} beyond the range of double precision (about 1.8e308)"
    return None


def substitute_checked(expr, values: Mapping, *, limits: ExprLimits = DEFAULT_LIMITS,
                       field: str | None = None):
    """``expr.xreplace(values)`` for a sympy expression built outside the parser (the
    Python API), refusing what would make sympy compute an exact number beyond
    ``limits.max_power_bits``: with P = 9, ``P**P**P`` becomes 9**387420489, which sympy
    would evaluate for hours. Rebuilds bottom-up (no recursion) and sizes each power,
    product and sum of exact numbers before sympy evaluates it, as the parser does.

    Raises:
        InputError(kind="expression", field=field) naming the power and its size.
    """
    if not values:
        return expr
    done: dict = {}
    stack = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if node in done:
            continue
        if node in values:
            done[node] = values[node]
            continue
        if not node.args:
            done[node] = node
            continue
        if not expanded:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args if a not in done)
            continue
        args = [done[a] for a in node.args]
        if all(a is b for a, b in zip(args, node.args)):
            done[node] = node
            continue
        _check_combination(node, args, limits, field)
        done[node] = node.func(*args)
    return done[expr]


_COMBINATORIAL = (sp.factorial, sp.factorial2, sp.gamma, sp.subfactorial, sp.binomial,
                  sp.RisingFactorial, sp.FallingFactorial)


def _check_combination(node, args, limits: ExprLimits, field) -> None:
    """Refuse rebuilding ``node`` from ``args`` where the exact result is too large."""
    bits = 0
    if node.is_Pow and args[0].is_Rational and args[1].is_Rational:
        base, exp = args
        per = bit_size(base.p) + bit_size(base.q)
        bits = per * abs(int(exp.p)) // int(exp.q) if exp.q == 1 else per
        if exp.q != 1 and per > limits.max_root_bits:
            raise InputError(f"the root {node} of a {per}-bit number is too large to "
                             f"simplify exactly (limit: max_root_bits={limits.max_root_bits:,})",
                             field=field, kind="expression")
    elif node.is_Mul:
        bits = sum(n + d for n, d, _ in (exact_parts(a) for a in args))
    elif node.is_Add:
        parts = [exact_parts(a) for a in args]
        bits = max(n for n, _, _ in parts) + 2 * sum(d for _, d, _ in parts)
    elif isinstance(node, _COMBINATORIAL) and all(a.is_Number for a in args):
        # n! (gamma, subfactorial, n!!) has about n log2 n bits; binomial(n, k) and the
        # rising/falling factorials of k terms about k log2 n
        n = abs(float(args[0]))
        k = n if len(args) == 1 else min(abs(float(args[1])), n)
        bits = math.inf if k > 1e15 else int(k * max(1.0, math.log2(n + 1)))
    if bits > limits.max_power_bits:
        raise InputError(f"with the parameter values, {node} would be an exact number of "
                         f"about {digits_from_bits(bits)} digits, too large to compute "
                         f"(limit: max_power_bits={limits.max_power_bits:,})",
                         field=field, kind="expression")


def double_range_defect(expr) -> str | None:
    """Why a number in ``expr`` cannot be computed in double precision, or None.

    The parser keeps exact numbers of any size it allows (``max_power_bits``), and
    sympy's Floats have an unbounded exponent (``1e308*10`` is finite to sympy). The
    compiled kernels compute in doubles, so a problem file refuses an expression holding
    a number above about 1.8e308 (:mod:`symgd.io.problem_file` calls this). One
    iterative pass, shared subtrees once.
    """
    for e in unique_nodes(expr):
        why = _range_defect(e)
        if why is not None:
            return why
    return None


def check_double_range(expr, *, field=None, file=None, line=None, column=None):
    """expr, or an InputError (at the place given) if :func:`double_range_defect` finds a
    number no double holds: what the loader and the Python API both refuse."""
    why = double_range_defect(expr)
    if why is not None:
        raise InputError(f"the expression {why}; the kernels compute in double precision",
                         field=field, file=file, line=line, column=column, kind="expression")
    return expr


def unique_nodes(expr):
    """Every node of expr once (shared subtrees once), iteratively: no recursion limit."""
    stack, seen = [expr], set()
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        stack.extend(e.args)


def _range_defect(e) -> str | None:
    """Why the number ``e`` does not fit a double, or None."""
    if e.is_Float:
        if not math.isfinite(float(e)):
            # sympy's Floats have an unbounded exponent (1e308*10 is finite there), the
            # kernels' doubles do not.
            return (f"holds the number {_float_text(e)}, beyond the range of double "
                    f"precision (the largest double is about 1.8e308)")
    elif e.is_Rational and _rational_too_large(e):
        return (f"holds an exact number of about {digits_from_bits(bit_size(e.p) - bit_size(e.q))}"
                f" digits, beyond the range of double precision (the largest double is "
                f"about 1.8e308)")
    return None


def node_defect(e) -> str | None:
    """Why ``e`` itself (one node, not its subtree) is not a finite real value, or None."""
    if any(e is c for c in _BAD_CONSTANTS):
        if e is sp.S.NaN:
            return "is undefined (like 0/0 or atan2(0, 0))"
        if e is sp.S.ImaginaryUnit:
            return "is not a real number (a root or log of a negative number?)"
        return "is infinite (a division by zero, or log(0)?)"
    if e.is_Float and not e.is_finite:
        return "is infinite"
    if e.is_Pow and e.base.is_Number and e.base.is_negative and e.exp.is_Rational \
            and not e.exp.is_Integer:
        return ("is not a real number (sympy reads a fractional power of a negative number "
                "as a complex root; for a real cube root write e.g. -(8**(1/3)))")
    return None

