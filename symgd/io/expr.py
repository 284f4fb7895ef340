"""The safe expression parser: problem-file text -> sympy, and back.

User text is never given to ``eval``, ``exec``, ``sympify``, ``parse_expr`` or
``Float(str)``: those run code or hang on hostile input (DESIGN.md, "Hard
facts"). Instead the text is checked cheaply (length, characters, nesting,
digit runs), parsed by :func:`ast.parse` in ``eval`` mode, and the syntax tree
is walked against a whitelist of node types; every sympy object is built here,
bottom up, after size checks that keep sympy from evaluating anything huge.

The grammar (SPEC §1) is Python expression syntax with

* numbers (``int`` and ``float`` literals), the constants ``pi`` and ``E``,
* the names in the ``symbols`` mapping (declared variables, parameters, data
  columns),
* ``+ - * / **`` and unary ``-``/``+``,
* calls of exactly these functions: ``exp``, ``log`` (``log(x)`` or
  ``log(x, base)``), ``sqrt``, ``sin``, ``cos``, ``tan``, ``asin``, ``acos``,
  ``atan``, ``atan2(y, x)``, ``sinh``, ``cosh``, ``tanh``, ``Abs``, ``sign``,
  ``Max`` and ``Min`` (two or more arguments),
* and, for constraints (``relation=True``), one comparison ``==``, ``<=`` or
  ``>=`` at the top (``<`` and ``>`` are read as ``<=`` and ``>=``).

Newlines and tabs (from YAML block scalars) are read as spaces.

Public API: :func:`parse_expression`, :func:`validate_symbol_name`,
:func:`to_source`, :class:`ExprLimits`, :data:`DEFAULT_LIMITS`, and the
grammar's tables :data:`FUNCTIONS` and :data:`CONSTANTS`. Every refusal is an
:class:`~symgd.errors.InputError` with ``kind="expression"``.
"""
from __future__ import annotations

import ast
import keyword
import math
import re
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Mapping

import sympy as sp
from sympy.printing.precedence import precedence
from sympy.printing.str import StrPrinter

from symgd.errors import InputError, nearest

__all__ = ["ExprLimits", "DEFAULT_LIMITS", "FUNCTIONS", "CONSTANTS", "parse_expression",
           "validate_symbol_name", "to_source", "double_range_defect", "check_double_range",
           "substitute_checked"]


# --------------------------------------------------------------------------------------
# Limits
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExprLimits:
    """Bounds on what one expression may ask of the parser and of sympy.

    Attributes:
        max_length: characters of expression text.
        max_depth: nesting depth of the expression (brackets, function calls,
            operators of different kinds; a flat chain ``a + b - c + ...`` or
            ``a * b / c * ...`` counts as one level).
        max_nodes: syntax-tree nodes (names, numbers, operators, calls).
        max_int_digits: digits of one integer literal (checked on the text,
            before Python converts it to an ``int``).
        max_power_bits: largest exact number, in bits, that a power, product or
            sum of exact numbers may produce, estimated *before* sympy computes
            it (``bits(base) * exponent`` for powers, so ``9**9**9`` and
            ``2**2**2**2**2`` are refused).
        max_root_bits: largest exact integer or rational (bits of numerator plus
            denominator) whose root sympy is asked to simplify, e.g. ``sqrt(n)``
            (sympy's perfect-power search grows steeply with the size of n).
        max_minmax_args: arguments of one Max or Min, counting those of a Max
            nested directly in a Max (sympy merges them); sympy compares every pair,
            and its cost grows steeply (200 arguments take seconds).
        max_minmax_depth: Max/Min calls nested inside one another (sympy's
            simplification of alternating Max/Min nests also grows steeply).
        max_seconds: wall-clock budget for building the sympy expression; a
            safety net against sympy constructions that are slow but not large.
        max_call_depth: function calls and powers with a non-numeric exponent nested
            inside one another (``sin(sin(...))``, ``x**x**x**...``). The Hessian of
            such a nest grows with about the cube of its depth (2 variables, depth 30:
            ~60,000 operations and seconds of sympy time; depth 60: ~15 s), so deeper
            nests are refused before anything is differentiated.

    A function of numbers whose value is not real or not finite as a double
    (``asin(2)``, ``exp(1000)``) is refused; exact numbers beyond the double range
    are kept (sympy computes with them exactly), and :func:`double_range_defect`
    finds them for callers that compile to doubles (problem files do). A user who
    needs more passes their own limits:
    ``parse_expression(text, symbols, limits=ExprLimits(max_depth=400))``.

    Independently of these, no exact number in the result may have more decimal
    digits than Python will convert to text (``sys.get_int_max_str_digits()``,
    4300 by default): sympy could not print it, nor generate code from it.
    """

    max_length: int = 100_000
    max_depth: int = 200
    max_nodes: int = 20_000
    max_int_digits: int = 1000
    max_power_bits: int = 100_000
    max_root_bits: int = 2048
    max_minmax_args: int = 50
    max_minmax_depth: int = 20
    max_seconds: float = 5.0
    max_call_depth: int = 32


DEFAULT_LIMITS = ExprLimits()

# --------------------------------------------------------------------------------------
# The grammar's names
# --------------------------------------------------------------------------------------
#: name -> (sympy constructor, fewest arguments, most arguments or None for any)
FUNCTIONS: dict[str, tuple[Callable, int, int | None]] = {
    "exp": (sp.exp, 1, 1),
    "log": (sp.log, 1, 2),
    "sqrt": (sp.sqrt, 1, 1),  # the parser builds it as a checked power x**(1/2)
    "sin": (sp.sin, 1, 1),
    "cos": (sp.cos, 1, 1),
    "tan": (sp.tan, 1, 1),
    "asin": (sp.asin, 1, 1),
    "acos": (sp.acos, 1, 1),
    "atan": (sp.atan, 1, 1),
    "atan2": (sp.atan2, 2, 2),
    "sinh": (sp.sinh, 1, 1),
    "cosh": (sp.cosh, 1, 1),
    "tanh": (sp.tanh, 1, 1),
    "Abs": (sp.Abs, 1, 1),
    "sign": (sp.sign, 1, 1),
    "Max": (sp.Max, 2, None),
    "Min": (sp.Min, 2, None),
}

#: the named constants of the grammar
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}

#: names people write that mean one of ours
_ALIASES = {
    "ln": "log", "abs": "Abs", "fabs": "Abs", "max": "Max", "min": "Min", "sgn": "sign",
    "arcsin": "asin", "arccos": "acos", "arctan": "atan", "arctan2": "atan2",
    "e": "E", "Pi": "pi", "PI": "pi", "power": "**", "pow": "**",
}

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_NAME_LENGTH = 64
_NAME_SHORT_FORMS = {"lambda": "lam"}
# a decimal digit run that starts a number (not inside a name, not after a '.')
_DIGIT_RUN_RE = re.compile(r"(?<![A-Za-z0-9_.])[0-9][0-9_]*")
_LONE_EQUALS_RE = re.compile(r"(?<![=<>!:])=(?!=)")
_LOG10_2 = math.log10(2)

# Characters people paste from documents, with what to write instead.
_UNICODE_HINTS = {
    "\u2212": "-", "\u2013": "-", "\u2014": "-", "\u00d7": "*", "\u00b7": "*", "\u22c5": "*",
    "\u2219": "*", "\u00f7": "/", "\u2215": "/", "\u00b2": "**2", "\u00b3": "**3",
    "\u03c0": "pi", "\u221a": "sqrt(...)", "\u2264": "<=", "\u2265": ">=",
    "\u00a0": "a plain space",
}


# --------------------------------------------------------------------------------------
# Symbol names
# --------------------------------------------------------------------------------------
def validate_symbol_name(name: str, *, field: str | None = None, file=None, line=None,
                         column=None) -> str:
    """Check that ``name`` can be a symbol in a problem file and return it.

    A name matches ``[A-Za-z_][A-Za-z0-9_]*`` (ASCII), is at most 64 characters,
    and is not a Python keyword, a function of the grammar, ``pi``, ``E`` or a
    name starting with ``__``. Raises :class:`InputError` (``kind="expression"``)
    saying what to write instead.
    """
    def fail(message: str):
        raise InputError(message, field=field, file=file, line=line, column=column,
                         kind="expression")

    if not isinstance(name, str):
        fail(f"a name must be text, got {type(name).__name__} {name!r}")
    if not name:
        fail("a name cannot be empty")
    if len(name) > MAX_NAME_LENGTH:
        fail(f"the name '{name[:20]}...' is {len(name)} characters long; names are limited "
             f"to {MAX_NAME_LENGTH}")
    bad = next((c for c in name if ord(c) > 127), None)
    if bad is not None:
        fail(f"the name {name!r} contains the non-ASCII character {bad!r}; names use ASCII "
             "letters, digits and '_'")
    if not NAME_RE.match(name):
        if name[0].isdigit():
            fail(f"the name '{name}' starts with a digit; names start with a letter or '_'")
        bad = next(c for c in name if not (c.isalnum() or c == "_"))
        better = re.sub(r"[^A-Za-z0-9_]", "_", name)
        fail(f"the name '{name}' contains {bad!r}; names use only ASCII letters, digits and "
             f"'_' (e.g. '{better}')")
    if keyword.iskeyword(name):
        fail(f"'{name}' is a Python keyword and cannot be a name; did you mean "
             f"'{_NAME_SHORT_FORMS.get(name, name + '_')}'?")
    if name.startswith("__"):
        fail(f"names starting with '__' are reserved: '{name}'")
    if name in FUNCTIONS:
        fail(f"'{name}' is a function of the expression language and cannot be a name; "
             f"did you mean '{name}_'?")
    if name in CONSTANTS:
        fail(f"'{name}' is the constant {'pi' if name == 'pi' else 'e = 2.718...'} and "
             f"cannot be a name; did you mean '{name}_'?")
    return name


# --------------------------------------------------------------------------------------
# Helpers on exact numbers (cheap, non-recursive)
# --------------------------------------------------------------------------------------
def _bits(n: int) -> int:
    """Bits of |n|, counting 0 and +-1 as free (they never grow under powers)."""
    n = abs(int(n))
    return 0 if n <= 1 else n.bit_length()


def _is_exact_root(e) -> bool:
    return e.is_Pow and e.base.is_Rational and e.exp.is_Rational


def _exact_parts(e) -> tuple[int, int, int]:
    """(numerator bits, denominator bits, root-base bits) of the exact numbers
    at the top of ``e``: what sympy multiplies, adds or powers when ``e`` is
    combined with other terms. Looks one level into Mul and Add only."""
    if e.is_Rational:
        return _bits(e.p), _bits(e.q), 0
    if _is_exact_root(e):
        return 0, 0, _bits(e.base.p) + _bits(e.base.q)
    if e.is_Mul:
        num = den = root = 0
        for a in e.args:
            if a.is_Rational:
                num += _bits(a.p)
                den += _bits(a.q)
            elif _is_exact_root(a):
                root += _bits(a.base.p) + _bits(a.base.q)
        return num, den, root
    if e.is_Add:
        num = den = 0
        for a in e.args:
            n, d, _ = _exact_parts(a)  # the terms of an Add are never Adds: 2 levels at most
            num = max(num, n)
            den += d
        return num, den, 0
    return 0, 0, 0


def _digits_from_bits(bits: int) -> str:
    """'1,234' or '1.23e+45': the decimal digits of a number of ``bits`` bits (any size)."""
    bits = int(bits)
    if bits < 10**15:
        return f"{bits * _LOG10_2:,.0f}"
    lg = math.log10(bits) + math.log10(_LOG10_2)  # math.log10 takes ints of any size
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
        log10 = (exp2 + man.bit_length()) * _LOG10_2
        if abs(log10) < 1e6:
            return sp.Float(e, 3).__str__()
        return f"{'-' if sign else ''}10**({log10:.3g})"
    except Exception:  # pragma: no cover - printing never matters more than the error
        return "infinity"


def _numeric_defect(e) -> str | None:
    """For a function of numbers only (``asin(2)``, ``exp(1000)``, ``pi**1e5``): why its
    value is not a finite real double, or None. sympy leaves such values unevaluated,
    and the kernels would only meet nan or inf at run time."""
    if not (e.is_Function or e.is_Pow) or e.is_Rational:
        return None
    if not all(a.is_Number or a.is_NumberSymbol for a in e.args):
        return None
    if e.is_Pow and e.base.is_Rational and e.exp.is_Rational:
        return None  # exact roots: sized by max_root_bits, real-checked by _defect
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
        per = _bits(base.p) + _bits(base.q)
        bits = per * abs(int(exp.p)) // int(exp.q) if exp.q == 1 else per
        if exp.q != 1 and per > limits.max_root_bits:
            raise InputError(f"the root {node} of a {per}-bit number is too large to "
                             f"simplify exactly (limit: max_root_bits={limits.max_root_bits:,})",
                             field=field, kind="expression")
    elif node.is_Mul:
        bits = sum(n + d for n, d, _ in (_exact_parts(a) for a in args))
    elif node.is_Add:
        parts = [_exact_parts(a) for a in args]
        bits = max(n for n, _, _ in parts) + 2 * sum(d for _, d, _ in parts)
    elif isinstance(node, _COMBINATORIAL) and all(a.is_Number for a in args):
        # n! (gamma, subfactorial, n!!) has about n log2 n bits; binomial(n, k) and the
        # rising/falling factorials of k terms about k log2 n
        n = abs(float(args[0]))
        k = n if len(args) == 1 else min(abs(float(args[1])), n)
        bits = math.inf if k > 1e15 else int(k * max(1.0, math.log2(n + 1)))
    if bits > limits.max_power_bits:
        raise InputError(f"with the parameter values, {node} would be an exact number of "
                         f"about {_digits_from_bits(bits)} digits, too large to compute "
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
    for e in _unique_nodes(expr):
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


def _unique_nodes(expr):
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
        return (f"holds an exact number of about {_digits_from_bits(_bits(e.p) - _bits(e.q))}"
                f" digits, beyond the range of double precision (the largest double is "
                f"about 1.8e308)")
    return None


def _defect(e) -> str | None:
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


# --------------------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------------------
_VISIT, _APPLY = 0, 1

_OPERATOR_TEXT = {
    ast.FloorDiv: "floor division '//' is not allowed; use / for division",
    ast.Mod: "the remainder operator '%' is not allowed",
    ast.MatMult: "matrix multiplication '@' is not allowed; use *",
    ast.LShift: "the shift operator '<<' is not allowed",
    ast.RShift: "the shift operator '>>' is not allowed",
    ast.BitOr: "the operator '|' is not allowed",
    ast.BitAnd: "the operator '&' is not allowed",
    ast.BitXor: "use ** for powers, ^ is not a power (in Python it is bitwise xor)",
}

_COMPARE_TEXT = {ast.Eq: "==", ast.LtE: "<=", ast.GtE: ">=", ast.Lt: "<", ast.Gt: ">",
                 ast.NotEq: "!=", ast.Is: "is", ast.IsNot: "is not", ast.In: "in",
                 ast.NotIn: "not in"}

_NODE_TEXT = {
    "Attribute": "attribute access (.name) is not allowed",
    "Subscript": "indexing with [...] is not allowed",
    "Slice": "slices are not allowed",
    "Lambda": "lambda is not allowed",
    "ListComp": "comprehensions are not allowed",
    "SetComp": "comprehensions are not allowed",
    "DictComp": "comprehensions are not allowed",
    "GeneratorExp": "generator expressions are not allowed",
    "List": "lists [...] are not allowed",
    "Tuple": "tuples (comma-separated values) are not allowed; give one expression",
    "Set": "sets {...} are not allowed",
    "Dict": "dictionaries {...} are not allowed",
    "JoinedStr": "f-strings are not allowed",
    "FormattedValue": "f-strings are not allowed",
    "Starred": "'*' unpacking is not allowed",
    "IfExp": "conditional expressions (a if c else b) are not allowed; Max, Min, Abs or "
             "sign may express what you need",
    "NamedExpr": "assignment ':=' is not allowed",
    "Await": "'await' is not allowed",
    "Yield": "'yield' is not allowed",
    "YieldFrom": "'yield' is not allowed",
}


def _python_parse(text: str) -> ast.Expression:
    with warnings.catch_warnings():
        # "invalid decimal literal" and the like: Python warns on stderr before the
        # SyntaxError that the parser turns into a message of its own.
        warnings.simplefilter("ignore", SyntaxWarning)
        return ast.parse(text, mode="eval")


_DEEP_STACK_BYTES = 256 * 1024 * 1024  # reserved, not used, unless the tree is that deep


def _python_parse_deep(text: str, max_nodes: int) -> ast.Expression:
    """:func:`ast.parse` on a thread with a large stack and a recursion limit that fits a
    syntax tree as deep as ``max_nodes`` (Python's own limit stops at about 3,000 levels,
    and raising it on the main thread's 8 MB stack could crash the interpreter)."""
    import threading

    out: dict = {}

    def work():
        old = sys.getrecursionlimit()
        try:
            sys.setrecursionlimit(max(old, 4 * max_nodes + 1000))
            out["tree"] = _python_parse(text)
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            out["error"] = exc
        finally:
            sys.setrecursionlimit(old)

    previous = threading.stack_size(_DEEP_STACK_BYTES)
    try:
        thread = threading.Thread(target=work, name="symgd-parse", daemon=True)
        thread.start()
    finally:
        threading.stack_size(previous)
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["tree"]


def _is_nonlinear_nest(node) -> bool:
    """A function call, or a power whose exponent is not a plain number (``x**y``)."""
    if isinstance(node, ast.Call):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        e = node.right
        while isinstance(e, ast.UnaryOp):
            e = e.operand
        return not isinstance(e, ast.Constant)
    return False


def _is_minmax_call(node) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in ("Max", "Min"))


class _Parser:
    """One parse: the cleaned text, where errors point, and the walk's counters."""

    def __init__(self, text: str, symbols: Mapping[str, sp.Symbol], relation: bool,
                 limits: ExprLimits, where: dict):
        self.raw = text
        self.symbols = symbols
        self.relation = relation
        self.limits = limits
        self.where = where
        self.text = ""
        self.shift = 0  # characters stripped from the front of the raw text
        self.nodes = 0
        self.start = time.perf_counter()

    # -- errors ---------------------------------------------------------------------------
    def fail(self, message: str, node: ast.AST | None = None, *, at: int | None = None):
        """Raise the InputError; ``node`` or ``at`` (0-based, in the cleaned text) locate it."""
        if node is not None and getattr(node, "col_offset", None) is not None:
            at = node.col_offset
        if at is not None:
            message = f"{message} (at character {at + self.shift + 1})"
        raise InputError(message, kind="expression", **self.where)

    def segment(self, node: ast.AST, limit: int = 40) -> str:
        """The source text of ``node``, shortened for messages."""
        start = getattr(node, "col_offset", None)
        end = getattr(node, "end_col_offset", None)
        if start is None or end is None:
            return "this part"
        seg = self.text[start:end]
        return seg if len(seg) <= limit else seg[: limit - 3] + "..."

    # -- stage 1: text checks before Python sees the text -----------------------------------
    def clean(self) -> str:
        text, lim = self.raw, self.limits
        if len(text) > lim.max_length:
            self.fail(f"the expression is {len(text):,} characters long; the limit is "
                      f"{lim.max_length:,}")
        if not text.isascii():
            i, ch = next((i, c) for i, c in enumerate(text) if ord(c) > 127)
            hint = _UNICODE_HINTS.get(ch)
            self.fail(f"non-ASCII character {ch!r} (U+{ord(ch):04X}) in the expression"
                      + (f"; write {hint} instead" if hint else
                         "; names and operators use ASCII only"), at=i)
        bad = re.search(r"[\x00-\x08\x0e-\x1f\x7f]", text)
        if bad is not None:
            self.fail(f"control character U+{ord(bad.group()):04X} in the expression",
                      at=bad.start())
        if "#" in text:
            # Python would read the rest as a comment and silently drop it ("x # + y" is x).
            self.fail("'#' is not allowed in an expression (Python would ignore everything "
                      "after it); put YAML comments outside the quotes", at=text.index("#"))
        # Newlines may come from YAML block scalars: read them as spaces (same offsets).
        text = re.sub(r"[\t\n\r\f\v]", " ", text)
        stripped = text.lstrip(" ")
        self.shift = len(text) - len(stripped)
        text = stripped.rstrip(" ")
        self.text = text
        if not text:
            self.fail("the expression is empty")
        depth = 0
        for i, ch in enumerate(text):
            if ch in "([{":
                depth += 1
                if depth > lim.max_depth:
                    self.fail(f"brackets are nested more than {lim.max_depth} levels deep",
                              at=i)
            elif ch in ")]}" and depth > 0:
                depth -= 1
        for m in _DIGIT_RUN_RE.finditer(text):
            digits = len(m.group()) - m.group().count("_")
            if digits > lim.max_int_digits:
                self.fail(f"a number literal has {digits:,} digits; the limit is "
                          f"{lim.max_int_digits:,}", at=m.start())
        return text

    # -- stage 2: Python's parser ---------------------------------------------------------
    def parse_ast(self) -> ast.Expression:
        try:
            try:
                return _python_parse(self.text)
            except RecursionError:
                # A long flat chain (a + b + ... with ~3,000 terms) is as deep as it is long
                # in Python's syntax tree; within max_nodes, parse it again on a thread
                # with room for that depth.
                return _python_parse_deep(self.text, self.limits.max_nodes)
        except SyntaxError as exc:  # IndentationError included
            self._syntax_error(exc)
        except RecursionError:
            self.fail("the expression is too long or too deeply nested to parse; group long "
                      "sums or products with parentheses, e.g. (a + b + ...) + (c + d + ...)")
        except MemoryError:
            self.fail("the expression is too deeply nested or too complex to parse (long "
                      "runs of '-' or '**'?)")
        except (ValueError, OverflowError) as exc:
            self.fail(f"the expression cannot be parsed: {exc}")
        raise AssertionError("unreachable")  # pragma: no cover

    def _syntax_error(self, exc: SyntaxError):
        msg = str(exc.msg or "invalid syntax")
        at = exc.offset - 1 if isinstance(exc.offset, int) and exc.offset > 0 else None
        if at is not None:
            at = min(at, len(self.text))
        if "too many nested parentheses" in msg:
            self.fail("brackets are nested too deeply (Python allows fewer than 200 levels)",
                      at=at)
        if "Exceeds the limit" in msg:
            self.fail("a number literal has too many digits", at=at)
        arrow = re.search(r"=[<>]", self.text)
        if arrow is not None:
            self.fail(f"write {arrow.group()[::-1]} instead of {arrow.group()}", at=arrow.start())
        eq = _LONE_EQUALS_RE.search(self.text)
        if eq is not None:
            self.fail("'=' is not allowed; use == for an equality constraint", at=eq.start())
        if "invalid decimal literal" in msg or "invalid imaginary literal" in msg:
            self.fail("invalid number; for a product write 2*x, not 2x", at=at)
        if "leading zeros" in msg:
            self.fail("a number cannot start with 0 (write 10, not 010)", at=at)
        if "forgot a comma" in msg:
            self.fail("two terms with no operator between them; for a product write a*b, "
                      "not a b", at=at)
        if at is not None and re.search(r"[A-Za-z0-9_.)\]]\s+\Z", self.text[:at]) \
                and re.match(r"[A-Za-z0-9_.(]", self.text[at:]):
            self.fail("two terms with no operator between them; for a product write a*b, "
                      "not a b", at=at)
        if msg.startswith("invalid syntax"):
            self.fail("invalid syntax", at=at)
        self.fail(f"invalid syntax: {msg}", at=at)

    # -- stage 3: the whitelist walk, building sympy bottom up ------------------------------
    def build(self, tree: ast.Expression):
        """Walk the tree iteratively (no Python recursion) and return the sympy result."""
        body = tree.body
        if self.relation and not isinstance(body, ast.Compare):
            if isinstance(body, ast.BoolOp):
                self.fail("'and'/'or' cannot join constraints; write each condition as its "
                          "own constraint", body)
            self.fail("expected a constraint with ==, <= or >=, e.g. 'x + y <= 3'; found an "
                      "expression without a comparison")
        work: list[tuple] = [(_VISIT, body, 1, 0, 0)]
        values: list = []
        while work:
            item = work.pop()
            if item[0] == _APPLY:
                _, fn, n, node = item
                args = values[len(values) - n:]
                del values[len(values) - n:]
                values.append(self._apply(fn, args, node))
                continue
            _, node, depth, minmax, calls = item
            if _is_nonlinear_nest(node):
                calls += 1
                if calls > self.limits.max_call_depth:
                    self.fail(f"function calls and powers with a variable exponent are nested "
                              f"more than {self.limits.max_call_depth} deep (limit: "
                              f"max_call_depth); the derivatives of such nests grow too "
                              f"large to compute", node)
            self._count(node, depth)
            leaf, children, fn = self._classify(node, depth, is_root=node is body)
            if fn is None:
                values.append(leaf)
                continue
            if _is_minmax_call(node):
                minmax += 1
                if minmax > self.limits.max_minmax_depth:
                    self.fail(f"Max/Min calls are nested more than "
                              f"{self.limits.max_minmax_depth} deep (limit: max_minmax_depth)",
                              node)
            work.append((_APPLY, fn, len(children), node))
            for child in reversed(children):
                work.append((_VISIT, child, depth + 1, minmax, calls))
        (result,) = values
        self._final_check(result)
        return result

    def _count(self, node: ast.AST, depth: int):
        lim = self.limits
        self.nodes += 1
        if self.nodes > lim.max_nodes:
            self.fail(f"the expression has more than {lim.max_nodes:,} parts (names, numbers, "
                      "operators); simplify it, e.g. with parameters")
        if depth > lim.max_depth:
            self.fail(f"the expression is nested more than {lim.max_depth} levels deep", node)
        if (self.nodes & 255) == 0:
            self._check_time(node)

    def _check_time(self, node):
        if time.perf_counter() - self.start > self.limits.max_seconds:
            self.fail(f"the expression is too complex: building it took more than "
                      f"{self.limits.max_seconds:g} s", node)

    def _apply(self, fn, args, node):
        self._check_time(node)
        result = fn(args)
        if isinstance(result, sp.Basic):
            self._node_check(result, node)
        return result

    def _sym(self, node, make: Callable, *args, **kwargs):
        """Call a sympy constructor, turning its failures into InputErrors at ``node``."""
        try:
            return make(*args, **kwargs)
        except InputError:
            raise
        except RecursionError:
            self.fail("the expression is nested too deeply for sympy to build", node)
        except MemoryError:
            self.fail(f"{self.segment(node)} is too large to build", node)
        except Exception as exc:  # sympy's own refusals: ValueError, TypeError, ...
            self.fail(f"{self.segment(node)} cannot be evaluated: {exc}", node)

    def _node_check(self, e, node):
        """Refuse a freshly built node that is (or directly holds) zoo, nan, oo or I, a
        number beyond double range, or a function of numbers that is not a finite real."""
        why = _defect(e) or _numeric_defect(e)
        if why is None and (e.is_Add or e.is_Mul or e.is_Pow or e.is_Function
                            or e.is_Relational):
            for a in e.args:
                why = _defect(a) or _numeric_defect(a)
                if why is not None:
                    break
        if why is not None:
            self.fail(f"{self.segment(node)} {why}", node)

    def _final_check(self, result):
        """One iterative pass over the whole result (no recursion, shared nodes once)."""
        max_digits = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") \
            else 0
        for e in _unique_nodes(result):
            why = _defect(e)
            if why is not None:
                self.fail(f"the expression {why}")
            if max_digits and e.is_Rational and \
                    max(_bits(e.p), _bits(e.q)) * _LOG10_2 > max_digits - 2:
                self.fail(f"the expression holds an exact number with about "
                          f"{_digits_from_bits(max(_bits(e.p), _bits(e.q)))} digits, more than "
                          f"can be printed ({max_digits}); write a factor as a float")

    # -- node classification ----------------------------------------------------------------
    def _classify(self, node: ast.AST, depth: int, is_root: bool):
        """(leaf value, children, combine function or None for a leaf)."""
        if isinstance(node, ast.Constant):
            return self._number(node), (), None
        if isinstance(node, ast.Name):
            return self._name(node), (), None
        if isinstance(node, ast.BinOp):
            op = type(node.op)
            if op in (ast.Add, ast.Sub):
                return self._chain(node, depth, (ast.Add, ast.Sub), self._add)
            if op in (ast.Mult, ast.Div):
                return self._chain(node, depth, (ast.Mult, ast.Div), self._mul)
            if op is ast.Pow:
                return None, (node.left, node.right), lambda a: self._pow(a[0], a[1], node)
            self.fail(_OPERATOR_TEXT.get(op, f"the operator {op.__name__} is not allowed"),
                      node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return None, (node.operand,), lambda a: self._sym(node, lambda v: -v, a[0])
            if isinstance(node.op, ast.UAdd):
                return None, (node.operand,), lambda a: a[0]
            if isinstance(node.op, ast.Not):
                self.fail("'not' is not allowed", node)
            self.fail("the operator '~' is not allowed", node)
        if isinstance(node, ast.Call):
            return self._call_node(node)
        if isinstance(node, ast.Compare):
            return self._compare_node(node, is_root)
        if isinstance(node, ast.BoolOp):
            self.fail(f"'{'and' if isinstance(node.op, ast.And) else 'or'}' is not allowed"
                      + ("; write each condition as its own constraint" if self.relation
                         else ""), node)
        name = type(node).__name__
        self.fail(_NODE_TEXT.get(name, f"{name} is not allowed in an expression"), node)

    def _number(self, node: ast.Constant):
        v = node.value
        if isinstance(v, bool):
            self.fail(f"{v} is not a number here", node)
        if isinstance(v, int):
            # decimal literals were measured in clean(); this catches 0x/0o/0b literals
            if v.bit_length() * _LOG10_2 > self.limits.max_int_digits:
                self.fail(f"a number literal has about {_digits_from_bits(v.bit_length())} "
                          f"digits; the limit is {self.limits.max_int_digits:,}", node)
            return sp.Integer(v)
        if isinstance(v, float):
            if not math.isfinite(v):
                self.fail(f"number too large: {self.segment(node)} is beyond the largest "
                          "double (about 1.8e308)", node)
            return sp.Float(v)  # from Python's own double, never from the text
        if isinstance(v, complex):
            self.fail("complex numbers (like 1j) are not allowed", node)
        if isinstance(v, (str, bytes)):
            self.fail("strings are not allowed in an expression", node)
        if v is None:
            self.fail("None is not allowed in an expression", node)
        if v is Ellipsis:
            self.fail("'...' is not allowed in an expression", node)
        self.fail(f"the constant {v!r} is not allowed", node)

    def _name(self, node: ast.Name):
        name = node.id
        if name.startswith("__"):
            self.fail(f"names starting with '__' are not allowed: '{name}'", node)
        if name in FUNCTIONS:
            self.fail(f"'{name}' is a function; call it like {name}(x)", node)
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in self.symbols:
            return self.symbols[name]
        self.fail(self._unknown_name_message(name), node)

    def _unknown_name_message(self, name: str) -> str:
        declared = sorted(str(s) for s in self.symbols)
        guess = nearest(name, declared)
        if guess is None:
            alias = _ALIASES.get(name)
            guess = alias if alias in CONSTANTS else nearest(name, list(CONSTANTS))
        hint = f"; did you mean '{guess}'?" if guess else ""
        if name in FUNCTIONS or _ALIASES.get(name) in FUNCTIONS:
            hint = f"; '{_ALIASES.get(name, name)}' is a function, call it with (...)"
        if declared:
            shown = ", ".join(declared[:20]) + (f", ... ({len(declared)} in all)"
                                               if len(declared) > 20 else "")
            listing = f" (declared: {shown})"
        else:
            listing = " (no names are declared)"
        return f"unknown name '{name}'{hint}{listing}"

    def _chain(self, node: ast.BinOp, depth: int, ops: tuple, combine):
        """Flatten ``a op b op c ...`` (one precedence level) into one list of operands."""
        rights = []
        n = node
        while isinstance(n, ast.BinOp) and isinstance(n.op, ops):
            if n is not node:
                self._count(n, depth)
            rights.append((type(n.op), n.right))
            n = n.left
        rights.reverse()
        operands = [n] + [r for _, r in rights]
        kinds = [ops[0]] + [k for k, _ in rights]
        return None, operands, lambda args: combine(args, kinds, operands, node)

    # -- arithmetic with size checks ----------------------------------------------------------
    def _add(self, args, kinds, operands, node):
        num = den = 0
        for a in args:
            n, d, _ = _exact_parts(a)
            num = max(num, n)
            den += d
        est = num + 2 * den + len(args).bit_length()
        if est > self.limits.max_power_bits:
            self.fail(f"{self.segment(node)} is too large to compute exactly: the sum would "
                      f"have up to about {_digits_from_bits(est)} digits (limit: "
                      f"max_power_bits={self.limits.max_power_bits:,})", node)
        terms = [a if k is ast.Add else self._sym(o, lambda v: -v, a)
                 for a, k, o in zip(args, kinds, operands)]
        return self._sym(node, sp.Add, *terms)

    def _mul(self, args, kinds, operands, node):
        bits = root = 0
        for a in args:
            n, d, r = _exact_parts(a)
            bits += n + d
            root += r
        if bits > self.limits.max_power_bits:
            self.fail(f"{self.segment(node)} is too large to compute exactly: the product "
                      f"would have up to about {_digits_from_bits(bits)} digits (limit: "
                      f"max_power_bits={self.limits.max_power_bits:,})", node)
        if root > self.limits.max_root_bits:
            self.fail(f"{self.segment(node)}: the exact roots in this product are of numbers "
                      f"too large to simplify (limit: max_root_bits="
                      f"{self.limits.max_root_bits:,})", node)
        factors = []
        for a, k, o in zip(args, kinds, operands):
            if k is ast.Div:
                if a.is_Number and a.is_zero:
                    self.fail(f"division by zero in {self.segment(node)}", o)
                a = self._sym(o, sp.Pow, a, sp.S.NegativeOne)
            factors.append(a)
        return self._sym(node, sp.Mul, *factors)

    def _pow(self, base, exponent, node):
        lim = self.limits
        if base.is_Number and base.is_zero and exponent.is_Number and exponent.is_negative:
            self.fail(f"division by zero: {self.segment(node)} is 0 to a negative power", node)
        if exponent.is_Rational and not base.is_Add:
            n, d, r = _exact_parts(base)
            size = n + d + r
            if size:
                est = size * abs(exponent.p) // exponent.q  # exact int: no float overflow
                if est > lim.max_power_bits:
                    self.fail(f"{self.segment(node)} would have up to about "
                              f"{_digits_from_bits(est)} digits; exact powers are limited to "
                              f"{lim.max_power_bits:,} bits (bits(base) * exponent); write "
                              "the base as a float (e.g. 9.0) for a floating-point value",
                              node)
                if not exponent.is_Integer and size > lim.max_root_bits:
                    self.fail(f"{self.segment(node)}: the exact root of a number with about "
                              f"{_digits_from_bits(size)} digits is too expensive to simplify "
                              f"(limit: max_root_bits={lim.max_root_bits:,}); write the base "
                              "as a float", node)
        return self._sym(node, sp.Pow, base, exponent)

    # -- calls ----------------------------------------------------------------------------
    def _call_node(self, node: ast.Call):
        func = node.func
        if not isinstance(func, ast.Name):
            if isinstance(func, ast.Attribute):
                self.fail("attribute access (.name) is not allowed", func)
            self.fail(f"only the functions {', '.join(FUNCTIONS)} can be called", node)
        name = func.id
        if name.startswith("__"):
            self.fail(f"names starting with '__' are not allowed: '{name}'", func)
        if name not in FUNCTIONS:
            if name in self.symbols:
                self.fail(f"'{name}' is a declared symbol, not a function; for a product "
                          f"write {name}*(...)", func)
            if name in CONSTANTS:
                self.fail(f"'{name}' is a constant, not a function; for a product write "
                          f"{name}*(...)", func)
            alias = _ALIASES.get(name) or nearest(name, list(FUNCTIONS))
            hint = f"; did you mean '{alias}'?" if alias in FUNCTIONS else ""
            if alias == "**":
                hint = "; write a**b for powers"
            self.fail(f"unknown function '{name}'{hint} (functions: "
                      f"{', '.join(FUNCTIONS)})", func)
        if node.keywords:
            self.fail(f"keyword arguments are not allowed in {name}(...)", node.keywords[0])
        for a in node.args:
            if isinstance(a, ast.Starred):
                self.fail("'*' unpacking is not allowed", a)
        _, lo, hi = FUNCTIONS[name]
        k = len(node.args)
        if k < lo or (hi is not None and k > hi):
            if hi is None:
                want = f"at least {lo} arguments"
            elif lo == hi:
                want = f"{lo} argument{'s' if lo != 1 else ''}"
            else:
                want = f"{lo} to {hi} arguments"
            usage = {"log": " (log(x) or log(x, base))", "atan2": " (atan2(y, x))"}.get(name, "")
            self.fail(f"{name}() takes {want}{usage}, got {k}", node)
        if name in ("Max", "Min") and k > self.limits.max_minmax_args:
            # the same refusal as in _call, before thousands of arguments are built
            self.fail(f"{name}() would compare {k} arguments; the limit is "
                      f"{self.limits.max_minmax_args} (max_minmax_args)", node)
        return None, tuple(node.args), lambda args: self._call(name, args, node)

    def _call(self, name: str, args: list, node: ast.Call):
        if name == "sqrt":
            return self._pow(args[0], sp.S.Half, node)
        if name in ("Max", "Min"):
            cls = FUNCTIONS[name][0]
            count = sum(len(a.args) if type(a) is cls else 1 for a in args)
            if count > self.limits.max_minmax_args:
                self.fail(f"{name}() would compare {count} arguments; the limit is "
                          f"{self.limits.max_minmax_args} (max_minmax_args)", node)
        if name == "log" and len(args) == 2:
            base = args[1]
            if base.is_Number and (base.is_zero or base.is_negative or base == 1):
                self.fail(f"the base of a logarithm must be positive and not 1, got {base}",
                          node.args[1])
        return self._sym(node, FUNCTIONS[name][0], *args)

    # -- relations ------------------------------------------------------------------------
    def _compare_node(self, node: ast.Compare, is_root: bool):
        ops = [type(o) for o in node.ops]
        texts = [_COMPARE_TEXT.get(o, "?") for o in ops]
        if not self.relation:
            self.fail(f"a comparison ('{texts[0]}') is not allowed here: this field takes an "
                      "expression, not a constraint", node)
        if not is_root:
            self.fail("a comparison can only be a whole constraint, not part of an "
                      "expression", node)
        if len(ops) > 1:
            parts = [node.left] + list(node.comparators)
            pairs = " and ".join(f"'{self.segment(parts[i])} {texts[i]} "
                                 f"{self.segment(parts[i + 1])}'" for i in range(len(ops)))
            self.fail(f"chained comparisons are not allowed; write separate constraints: "
                      f"{pairs} (or use the variable's lower/upper bounds)", node)
        op = ops[0]
        if op is ast.NotEq:
            self.fail("'!=' cannot be a constraint; use ==, <= or >=", node)
        if op not in (ast.Eq, ast.LtE, ast.GtE, ast.Lt, ast.Gt):
            self.fail(f"'{texts[0]}' is not allowed; a constraint uses ==, <= or >=", node)
        rel = {ast.Eq: sp.Eq, ast.LtE: sp.Le, ast.Lt: sp.Le, ast.GtE: sp.Ge,
               ast.Gt: sp.Ge}[op]
        return None, (node.left, node.comparators[0]), \
            lambda a: self._relation(rel, a[0], a[1], node)

    def _relation(self, rel, lhs, rhs, node):
        """The relation, unevaluated (no assumption queries); a constant one is refused."""
        if not (lhs.free_symbols or rhs.free_symbols):
            truth = self._sym(node, rel, lhs, rhs)
            what = {sp.true: "always true, so it restricts nothing",
                    sp.false: "never true, so no point can satisfy it"}.get(truth, "constant")
            self.fail(f"the constraint '{self.segment(node, 60)}' involves no symbol: it is "
                      f"{what}", node)
        return self._sym(node, rel, lhs, rhs, evaluate=False)


def parse_expression(text: str, symbols: Mapping[str, sp.Symbol], *, field: str | None = None,
                     file: str | None = None, line: int | None = None,
                     column: int | None = None, relation: bool = False,
                     limits: ExprLimits = DEFAULT_LIMITS) -> sp.Expr | sp.Relational:
    """Read expression text into sympy, safely.

    Args:
        text: the expression, in the grammar of the module docstring.
        symbols: name -> sympy Symbol for every name the text may use (declared
            variables, parameters, data columns); these Symbol objects are used as
            they are. ``pi``, ``E`` and the function names always mean the constant
            or function.
        field, file, line, column: where the text came from, copied to errors.
        relation: True for a constraint: the text must be one comparison
            ``lhs == rhs``, ``lhs <= rhs`` or ``lhs >= rhs`` (``<``/``>`` read as
            ``<=``/``>=``), returned unevaluated as ``sympy.Eq``/``Le``/``Ge``; a
            comparison without any symbol is refused. False: the text must not
            contain a comparison.
        limits: size limits (:class:`ExprLimits`).

    Returns:
        A sympy expression (or relation), with exact Integers and Rationals for
        integer literals and their quotients, and Floats equal to Python's double
        for float literals. Chains ``a + b - c`` and ``a * b / c`` are built in one
        ``sympy.Add``/``sympy.Mul`` call (linear time for long sums).

    Raises:
        InputError: ``kind="expression"``, with ``field``/``file``/``line``/
            ``column`` as given; the message says what is wrong and, where it
            helps, ``at character N`` (1-based, within ``text``). Division by zero,
            ``log(0)``, results that are not real (``sqrt(-1)``) and numbers
            beyond the limits are refused too.
    """
    where = {"field": field, "file": file, "line": line, "column": column}
    if not isinstance(text, str):
        raise InputError(f"expected an expression as text, got {type(text).__name__}",
                         kind="expression", **where)
    parser = _Parser(text, symbols if symbols is not None else {}, relation, limits, where)
    parser.clean()
    tree = parser.parse_ast()
    return parser.build(tree)


# --------------------------------------------------------------------------------------
# Printing back
# --------------------------------------------------------------------------------------
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
