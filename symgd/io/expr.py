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
* for a name bound to a ``sympy.IndexedBase`` of one dimension (a variable
  declared with ``shape``): elements ``w[k]`` and sums ``sum(expr, (i, first,
  last))``, with ``%`` and ``//`` between integer expressions; expanded into real
  symbols ``w[0]``, ``w[1]``, ... before the result is returned
  (:mod:`symgd.io.indexing`).

Newlines and tabs (from YAML block scalars) are read as spaces.

Public API: :func:`parse_expression`, :func:`validate_symbol_name`,
:func:`to_source`, :class:`ExprLimits`, :data:`DEFAULT_LIMITS`, and the
grammar's tables :data:`FUNCTIONS` and :data:`CONSTANTS`. Every refusal is an
:class:`~symgd.errors.InputError` with ``kind="expression"``.

This module is the front door only; the work is done in

* :mod:`symgd.io.limits`: :class:`ExprLimits` (and the other readers' caps);
* :mod:`symgd.io.grammar`: the functions, constants and valid names;
* :mod:`symgd.io.expr_text`: checks on the raw text and Python's parser;
* :mod:`symgd.io.parser`: the whitelist walk that builds sympy, :func:`parse_expression`;
* :mod:`symgd.io.indexing`: elements ``w[k]``, ``sum(...)``, ``%`` and ``//``;
* :mod:`symgd.io.exact`: size estimates for exact numbers, double-range checks and
  :func:`substitute_checked`;
* :mod:`symgd.io.printer`: :func:`to_source`.
"""
from symgd.io.exact import check_double_range, double_range_defect, substitute_checked
from symgd.io.grammar import CONSTANTS, FUNCTIONS, MAX_NAME_LENGTH, NAME_RE, validate_symbol_name
from symgd.io.limits import DEFAULT_LIMITS, ExprLimits
from symgd.io.parser import parse_expression
from symgd.io.printer import to_source

__all__ = ["ExprLimits", "DEFAULT_LIMITS", "FUNCTIONS", "CONSTANTS", "NAME_RE", "MAX_NAME_LENGTH",
           "parse_expression", "validate_symbol_name", "to_source", "double_range_defect",
           "check_double_range", "substitute_checked"]
