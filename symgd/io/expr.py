"""The safe expression parser: problem-file text -> SymPy, never through ``eval``.

User text is parsed by :func:`ast.parse` and walked against a whitelist of node
types; SymPy objects are built here, node by node. ``sympify``/``parse_expr`` are
never used on user text because they call ``eval`` (DESIGN.md). Limits on length,
depth, node count, integer size and the size of exact powers keep small inputs from
taking long or using much memory.
"""
from __future__ import annotations

import ast
import keyword
import math
import re
from dataclasses import dataclass
from typing import Mapping

import sympy as sp

from symgd.errors import InputError, nearest


@dataclass(frozen=True)
class ExprLimits:
    """Size limits on one expression (documented in SPEC-facing errors)."""

    max_length: int = 100_000        # characters
    max_depth: int = 200             # nesting of operations
    max_nodes: int = 20_000          # syntax-tree nodes
    max_int_digits: int = 1000       # digits of an integer literal
    max_power_bits: int = 100_000    # estimated bits of an exact power's value


DEFAULT_LIMITS = ExprLimits()

# name -> (sympy constructor, minimum args, maximum args (None: any))
FUNCTIONS = {
    "exp": (sp.exp, 1, 1), "log": (sp.log, 1, 2), "sqrt": (sp.sqrt, 1, 1),
    "sin": (sp.sin, 1, 1), "cos": (sp.cos, 1, 1), "tan": (sp.tan, 1, 1),
    "asin": (sp.asin, 1, 1), "acos": (sp.acos, 1, 1), "atan": (sp.atan, 1, 1),
    "atan2": (sp.atan2, 2, 2), "sinh": (sp.sinh, 1, 1), "cosh": (sp.cosh, 1, 1),
    "tanh": (sp.tanh, 1, 1), "Abs": (sp.Abs, 1, 1), "sign": (sp.sign, 1, 1),
    "Max": (sp.Max, 2, None), "Min": (sp.Min, 2, None),
}
CONSTANTS = {"pi": sp.pi, "E": sp.E}
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_NAME_LENGTH = 64

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_REFUSED = {
    ast.Attribute: "attribute access (a.b) is not allowed",
    ast.Subscript: "subscripts (a[i]) are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed", ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "f-strings are not allowed", ast.FormattedValue: "f-strings are not allowed",
    ast.Starred: "starred arguments are not allowed", ast.BoolOp: "and/or are not allowed",
    ast.IfExp: "conditional expressions (a if c else b) are not allowed",
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.List: "lists are not allowed", ast.Tuple: "tuples are not allowed",
    ast.Dict: "mappings are not allowed", ast.Set: "sets are not allowed",
    ast.Await: "await is not allowed", ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed", ast.Slice: "slices are not allowed",
}


class _Refuse(Exception):
    """Raised inside the walk; turned into an InputError with the location."""

    def __init__(self, message, node=None):
        super().__init__(message)
        self.message = message
        self.offset = getattr(node, "col_offset", None)


def validate_symbol_name(name: str, *, field=None, file=None, line=None, column=None) -> str:
    """Check a variable, parameter or column name (SPEC §1); return it unchanged."""
    def refuse(msg):
        raise InputError(msg, field=field, file=file, line=line, column=column,
                         kind="expression")

    if not isinstance(name, str) or not name:
        refuse(f"a name must be a non-empty string, got {name!r}")
    shown = name if len(name) <= 80 else name[:77] + "..."
    if len(name) > MAX_NAME_LENGTH:
        refuse(f"the name '{shown}' is longer than {MAX_NAME_LENGTH} characters")
    if not NAME_RE.match(name):
        refuse(f"'{shown}' is not a valid name: use ASCII letters, digits and _, not starting "
               "with a digit")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        hint = "lam" if name == "lambda" else name + "_"
        refuse(f"'{name}' is a Python keyword and cannot be a name; did you mean '{hint}'?")
    if name in FUNCTIONS:
        refuse(f"'{name}' is a function name and cannot be a variable; did you mean "
               f"'{name}_'?")
    if name in CONSTANTS:
        refuse(f"'{name}' is the constant {name} and cannot be a name; did you mean "
               f"'{name.lower()}_'?")
    if name.startswith("__") and name.endswith("__"):
        refuse(f"'{name}': names beginning and ending with __ are not allowed")
    return name


class _Builder:
    """Walks a parsed tree, checking limits, and builds SymPy objects."""

    def __init__(self, symbols: Mapping[str, sp.Symbol], limits: ExprLimits):
        self.symbols = symbols
        self.limits = limits
        self.nodes = 0

    def build(self, node, depth=0):
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise _Refuse(f"the expression has more than {self.limits.max_nodes} parts "
                          "(limit); split it using parameters", node)
        if depth > self.limits.max_depth:
            raise _Refuse(f"the expression is nested more than {self.limits.max_depth} "
                          "levels deep (limit)", node)
        kind = type(node)
        if kind is ast.Constant:
            return self.constant(node)
        if kind is ast.Name:
            return self.name(node)
        if kind is ast.UnaryOp:
            if isinstance(node.op, ast.USub):
                return -self.build(node.operand, depth + 1)
            if isinstance(node.op, ast.UAdd):
                return self.build(node.operand, depth + 1)
            raise _Refuse(f"the operator {_op_text(node.op)} is not allowed", node)
        if kind is ast.BinOp:
            return self.binop(node, depth)
        if kind is ast.Call:
            return self.call(node, depth)
        if kind is ast.Compare:
            raise _Refuse("a comparison is not allowed here", node)
        raise _Refuse(_REFUSED.get(kind, f"'{kind.__name__}' syntax is not allowed"), node)

    def constant(self, node):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            what = "strings" if isinstance(v, (str, bytes)) else f"{type(v).__name__} values"
            raise _Refuse(f"{what} are not allowed in expressions", node)
        if isinstance(v, int):
            return sp.Integer(v)
        if not math.isfinite(v):
            raise _Refuse("number too large (it overflows a double)", node)
        return sp.Float(v)  # from Python's own double, never from text

    def name(self, node):
        ident = node.id
        if ident in self.symbols:
            return self.symbols[ident]
        if ident in CONSTANTS:
            return CONSTANTS[ident]
        if ident in FUNCTIONS:
            raise _Refuse(f"'{ident}' is a function: call it, e.g. {ident}(x)", node)
        if not ident.isascii():
            raise _Refuse("names must be ASCII", node)
        declared = sorted(self.symbols)
        guess = nearest(ident, declared)
        hint = f"; did you mean '{guess}'?" if guess else ""
        raise _Refuse(f"unknown name '{ident}'{hint} (declared: "
                      f"{', '.join(declared) or 'none'})", node)

    def binop(self, node, depth):
        op = type(node.op)
        if op is ast.BitXor:
            raise _Refuse("'^' is not a power here: write x**2", node)
        if op not in _BINOPS:
            raise _Refuse(f"the operator {_op_text(node.op)} is not allowed", node)
        left = self.build(node.left, depth + 1)
        right = self.build(node.right, depth + 1)
        if op is ast.Add:
            return left + right
        if op is ast.Sub:
            return left - right
        if op is ast.Mult:
            return left * right
        if op is ast.Div:
            return left / right
        self.check_power(left, right, node)
        return left ** right

    def check_power(self, base, exp, node):
        """Refuse exact powers whose value would be huge (9**9**9 has 369 million digits)."""
        if not (base.is_number and exp.is_number):
            if exp.is_Integer and abs(int(exp)) > 10_000:
                raise _Refuse(f"the exponent {exp} is too large (limit 10000)", node)
            return
        if exp.is_Integer or exp.is_Rational:
            e = abs(exp.p) if exp.is_Rational else abs(int(exp))
            if base.is_Rational:
                if base in (0, 1, -1):
                    return
                bits = max(_log2(abs(base.p)), _log2(base.q), 1.0)
                if bits * e > self.limits.max_power_bits:
                    digits = int(bits * e * 0.30103)
                    raise _Refuse(f"the exact power would have about {digits} digits (limit "
                                  f"{int(self.limits.max_power_bits * 0.30103)}); write it "
                                  "as a float if you mean an approximate value", node)
            elif e > 10_000:
                raise _Refuse(f"the exponent {exp} is too large (limit 10000)", node)
        elif exp.is_Float and base.is_Float:
            return

    def call(self, node, depth):
        if not isinstance(node.func, ast.Name):
            raise _Refuse("only the functions exp, log, sqrt, sin, ... can be called", node)
        fname = node.func.id
        if fname not in FUNCTIONS:
            if fname in self.symbols:
                raise _Refuse(f"'{fname}' is a symbol, not a function; write {fname}*(...) "
                              "to multiply", node)
            guess = nearest(fname, FUNCTIONS)
            hint = f"; did you mean '{guess}'?" if guess else ""
            raise _Refuse(f"unknown function '{fname}'{hint} (allowed: "
                          f"{', '.join(sorted(FUNCTIONS))})", node)
        if node.keywords:
            raise _Refuse(f"{fname}() takes no keyword arguments", node)
        ctor, lo, hi = FUNCTIONS[fname]
        n = len(node.args)
        if n < lo or (hi is not None and n > hi):
            want = str(lo) if lo == hi else (f"{lo} or more" if hi is None else f"{lo} or {hi}")
            raise _Refuse(f"{fname}() takes {want} argument(s), got {n}", node)
        args = [self.build(a, depth + 1) for a in node.args]
        return ctor(*args)


def _log2(n: int) -> float:
    """log2 of a positive integer of any size (no float overflow)."""
    extra = max(n.bit_length() - 60, 0)
    return math.log2(n >> extra) + extra if n > 0 else 0.0


def _op_text(op) -> str:
    return {ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<",
            ast.RShift: ">>", ast.BitOr: "|", ast.BitAnd: "&", ast.Invert: "~",
            ast.Not: "not"}.get(type(op), type(op).__name__)


_COMPARE = {ast.Eq: "==", ast.LtE: "<=", ast.GtE: ">=", ast.Lt: "<=", ast.Gt: ">="}


def parse_expression(text, symbols: Mapping[str, sp.Symbol], *, field=None, file=None,
                     line=None, column=None, relation: bool = False,
                     limits: ExprLimits = DEFAULT_LIMITS):
    """Parse ``text`` into a SymPy expression (or, with ``relation``, a relation).

    Args:
        text: the user's expression, e.g. ``"(1 - x)**2 + 100*(y - x**2)**2"``.
        symbols: the declared names (variables, parameters, data columns) -> Symbol.
        field, file, line, column: where the text came from, for error messages.
        relation: expect exactly one ``==``, ``<=`` or ``>=`` (``<``/``>`` read as
            ``<=``/``>=``); returns a SymPy Eq/Le/Ge (or true/false when constant).

    Raises:
        InputError: kind ``expression``, naming the field and what is wrong.
    """
    def fail(message, offset=None):
        where = f" (at character {offset + 1})" if offset is not None else ""
        raise InputError(message + where, field=field, file=file, line=line, column=column,
                         kind="expression")

    if not isinstance(text, str):
        fail(f"expected an expression as text, got {type(text).__name__}")
    if len(text) > limits.max_length:
        fail(f"the expression is {len(text)} characters long (limit {limits.max_length})")
    if not text.strip():
        fail("the expression is empty")
    if not text.isascii():
        bad = next(i for i, ch in enumerate(text) if not ch.isascii())
        fail(f"non-ASCII character {text[bad]!r} in the expression", bad)
    if "\n" in text.strip() or "\r" in text or ";" in text:
        fail("an expression is one line without ';'")
    # A cheap pre-check: runs of nesting that Python's own parser may choke on.
    run = max((len(m.group()) for m in re.finditer(r"[(\-+~]+", text)), default=0)
    if run > limits.max_depth:
        fail(f"the expression is nested more than {limits.max_depth} levels deep (limit)")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        msg = err.msg or "invalid syntax"
        fail(f"syntax error: {msg}", None if err.offset is None else err.offset - 1)
    except (RecursionError, MemoryError, ValueError, OverflowError):
        fail("the expression is too deeply nested or too large to parse")
    body = tree.body
    builder = _Builder(symbols, limits)
    try:
        if relation:
            if not isinstance(body, ast.Compare):
                fail("a constraint needs ==, <= or >= (e.g. x + y <= 3)")
            if len(body.ops) != 1:
                fail("write a chain like 0 <= x <= 1 as two constraints, or as bounds "
                     "(lower/upper) of the variable")
            op = type(body.ops[0])
            if op not in _COMPARE:
                fail(f"the comparison {'!=' if op is ast.NotEq else op.__name__} is not "
                     "allowed; use ==, <= or >=")
            lhs = builder.build(body.left, 1)
            rhs = builder.build(body.comparators[0], 1)
            rel = _COMPARE[op]
            if rel == "==":
                return sp.Eq(lhs, rhs, evaluate=False)
            return (sp.Le if rel == "<=" else sp.Ge)(lhs, rhs, evaluate=False)
        if isinstance(body, ast.Compare):
            fail("a comparison (==, <=, >=) is not allowed here; constraints go under "
                 "'constraints'")
        out = builder.build(body, 0)
    except InputError:
        raise
    except _Refuse as err:
        fail(err.message, err.offset)
    except RecursionError:
        fail("the expression is too deeply nested (limit)")
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, MemoryError) as err:
        fail(f"cannot build the expression: {type(err).__name__}: {err}")
    if out.has(sp.zoo, sp.oo, -sp.oo, sp.nan, sp.I):
        fail("the expression is not a finite real expression (it contains a division by "
             "zero, infinity or the imaginary unit)")
    return out


class _SourcePrinter(sp.printing.str.StrPrinter):
    """Problem-file syntax: Python operators and the whitelisted function names."""

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Rational(self, expr):
        return f"({expr.p}/{expr.q})"

    def _print_Exp1(self, expr):
        return "E"

    def _print_Pi(self, expr):
        return "pi"

    def _print_ImaginaryUnit(self, expr):
        raise ValueError("the imaginary unit has no problem-file syntax")

    def _print_Infinity(self, expr):
        raise ValueError("infinity has no problem-file syntax")

    _print_NegativeInfinity = _print_Infinity
    _print_ComplexInfinity = _print_Infinity

    def _print_NaN(self, expr):
        raise ValueError("nan has no problem-file syntax")

    def _print_Function(self, expr):
        name = type(expr).__name__
        if name not in FUNCTIONS:
            raise ValueError(f"{name} has no problem-file syntax")
        return f"{name}({', '.join(self._print(a) for a in expr.args)})"

    def _print_Piecewise(self, expr):
        raise ValueError("Piecewise has no problem-file syntax")

    _print_Heaviside = _print_Piecewise
    _print_DiracDelta = _print_Piecewise


def to_source(expr) -> str:
    """Print ``expr`` in problem-file syntax, readable back by :func:`parse_expression`.

    Raises:
        ValueError: for things the grammar cannot express (I, oo, Piecewise, ...).
    """
    return _SourcePrinter({"order": "none"}).doprint(sp.sympify(expr))
