"""The expression language's vocabulary (SPEC §1): its functions, constants and names.

What the parser (:mod:`symgd.io.parser`) and the printer (:mod:`symgd.io.printer`)
both need to agree on: the functions and their arities, the constants, what a symbol
name may be (:func:`validate_symbol_name`), the names people write that mean one of
ours, and the words used to refuse Python syntax outside the grammar.
"""
from __future__ import annotations

import ast
import keyword
import re
from typing import Callable

import sympy as sp

from symgd.errors import InputError

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
ALIASES = {
    "ln": "log", "abs": "Abs", "fabs": "Abs", "max": "Max", "min": "Min", "sgn": "sign",
    "arcsin": "asin", "arccos": "acos", "arctan": "atan", "arctan2": "atan2",
    "e": "E", "Pi": "pi", "PI": "pi", "power": "**", "pow": "**",
}


NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_NAME_LENGTH = 64
_NAME_SHORT_FORMS = {"lambda": "lam"}

OPERATOR_TEXT = {
    ast.FloorDiv: "floor division '//' is not allowed; use / for division",
    ast.Mod: "the remainder operator '%' is not allowed",
    ast.MatMult: "matrix multiplication '@' is not allowed; use *",
    ast.LShift: "the shift operator '<<' is not allowed",
    ast.RShift: "the shift operator '>>' is not allowed",
    ast.BitOr: "the operator '|' is not allowed",
    ast.BitAnd: "the operator '&' is not allowed",
    ast.BitXor: "use ** for powers, ^ is not a power (in Python it is bitwise xor)",
}

COMPARE_TEXT = {ast.Eq: "==", ast.LtE: "<=", ast.GtE: ">=", ast.Lt: "<", ast.Gt: ">",
                ast.NotEq: "!=", ast.Is: "is", ast.IsNot: "is not", ast.In: "in",
                ast.NotIn: "not in"}

NODE_TEXT = {
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

