"""The safe expression parser: problem-file text -> sympy, never through ``eval``.

User text is never given to ``eval``, ``exec``, ``sympify``, ``parse_expr`` or
``Float(str)``: those run code or hang on hostile input (DESIGN.md, "Hard facts").
:class:`~symgd.io.expr_text.SourceText` checks the text and has Python parse it; the
syntax tree is then walked here, iteratively, against a whitelist of node types, and
every sympy object is built bottom up after size checks (:mod:`symgd.io.exact`) that
keep sympy from evaluating anything huge. The grammar is described in
:mod:`symgd.io.expr`.
"""
from __future__ import annotations

import ast
import math
import sys
import time
from typing import Callable, Mapping

import sympy as sp

from symgd.errors import InputError, nearest
from symgd.io.exact import (LOG10_2, bit_size, digits_from_bits, exact_parts, node_defect,
                            numeric_defect, unique_nodes)
from symgd.io.indexing import IndexedSyntax
from symgd.io.grammar import (ALIASES, COMPARE_TEXT, CONSTANTS, FUNCTIONS, NODE_TEXT,
                              OPERATOR_TEXT)
from symgd.io.limits import DEFAULT_LIMITS, ExprLimits

_VISIT, _APPLY = 0, 1


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


class _Parser(IndexedSyntax):
    """One parse: the text stages of SourceText, then the walk and its counters (indexed
    elements and sums: :mod:`symgd.io.indexing`)."""

    def __init__(self, text: str, symbols: Mapping[str, sp.Symbol], relation: bool,
                 limits: ExprLimits, where: dict):
        super().__init__(text, limits, where)
        self.symbols = symbols
        self.relation = relation
        self.nodes = 0
        self.start = time.perf_counter()

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
        self.scan_indices(body)
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
        return self.expand_indexed(result)

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
        why = node_defect(e) or numeric_defect(e)
        if why is None and (e.is_Add or e.is_Mul or e.is_Pow or e.is_Function
                            or e.is_Relational):
            for a in e.args:
                why = node_defect(a) or numeric_defect(a)
                if why is not None:
                    break
        if why is not None:
            self.fail(f"{self.segment(node)} {why}", node)

    def _final_check(self, result):
        """One iterative pass over the whole result (no recursion, shared nodes once)."""
        max_digits = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") \
            else 0
        for e in unique_nodes(result):
            why = node_defect(e)
            if why is not None:
                self.fail(f"the expression {why}")
            if not (max_digits and e.is_Rational):
                continue
            size = max(bit_size(e.p), bit_size(e.q))
            if size * LOG10_2 > max_digits - 2:
                self.fail(f"the expression holds an exact number with about "
                          f"{digits_from_bits(size)} digits, more than "
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
            if op in (ast.Mod, ast.FloorDiv):
                return self.integer_op_node(node)
            self.fail(OPERATOR_TEXT.get(op, f"the operator {op.__name__} is not allowed"),
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
            if id(node) in self.sum_index:
                return self.sum_node(node)
            return self._call_node(node)
        if isinstance(node, ast.Subscript):
            return self.subscript_node(node)
        if isinstance(node, ast.Compare):
            return self._compare_node(node, is_root)
        if isinstance(node, ast.BoolOp):
            self.fail(f"'{'and' if isinstance(node.op, ast.And) else 'or'}' is not allowed"
                      + ("; write each condition as its own constraint" if self.relation
                         else ""), node)
        name = type(node).__name__
        self.fail(NODE_TEXT.get(name, f"{name} is not allowed in an expression"), node)

    def _number(self, node: ast.Constant):
        v = node.value
        if isinstance(v, bool):
            self.fail(f"{v} is not a number here", node)
        if isinstance(v, int):
            # decimal literals were measured in clean(); this catches 0x/0o/0b literals
            if v.bit_length() * LOG10_2 > self.limits.max_int_digits:
                self.fail(f"a number literal has about {digits_from_bits(v.bit_length())} "
                          f"digits; the limit is {self.limits.max_int_digits:,}", node)
            return sp.Integer(v)
        if isinstance(v, float):
            if not math.isfinite(v):
                self.fail(f"number too large: {self.segment(node)} is beyond the largest "
                          "double (about 1.8e308)", node)
            if self.exact_floats:  # the decimal as written: 1.2 is 6/5
                return sp.Rational(repr(v))
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
        index = self.index_value(node)
        if index is not None:
            return index
        if name in self.symbols:
            return self.symbols[name]
        self.fail(self._unknown_name_message(name), node)

    def _unknown_name_message(self, name: str) -> str:
        declared = sorted(str(s) for s in self.symbols)
        guess = nearest(name, declared)
        if guess is None:
            alias = ALIASES.get(name)
            guess = alias if alias in CONSTANTS else nearest(name, list(CONSTANTS))
        hint = f"; did you mean '{guess}'?" if guess else ""
        if name in FUNCTIONS or ALIASES.get(name) in FUNCTIONS:
            hint = f"; '{ALIASES.get(name, name)}' is a function, call it with (...)"
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
            n, d, _ = exact_parts(a)
            num = max(num, n)
            den += d
        est = num + 2 * den + len(args).bit_length()
        if est > self.limits.max_power_bits:
            self.fail(f"{self.segment(node)} is too large to compute exactly: the sum would "
                      f"have up to about {digits_from_bits(est)} digits (limit: "
                      f"max_power_bits={self.limits.max_power_bits:,})", node)
        terms = [a if k is ast.Add else self._sym(o, lambda v: -v, a)
                 for a, k, o in zip(args, kinds, operands)]
        return self._sym(node, sp.Add, *terms)

    def _mul(self, args, kinds, operands, node):
        bits = root = 0
        for a in args:
            n, d, r = exact_parts(a)
            bits += n + d
            root += r
        if bits > self.limits.max_power_bits:
            self.fail(f"{self.segment(node)} is too large to compute exactly: the product "
                      f"would have up to about {digits_from_bits(bits)} digits (limit: "
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
            n, d, r = exact_parts(base)
            size = n + d + r
            if size:
                est = size * abs(exponent.p) // exponent.q  # exact int: no float overflow
                if est > lim.max_power_bits:
                    self.fail(f"{self.segment(node)} would have up to about "
                              f"{digits_from_bits(est)} digits; exact powers are limited to "
                              f"{lim.max_power_bits:,} bits (bits(base) * exponent); write "
                              "the base as a float (e.g. 9.0) for a floating-point value",
                              node)
                if not exponent.is_Integer and size > lim.max_root_bits:
                    self.fail(f"{self.segment(node)}: the exact root of a number with about "
                              f"{digits_from_bits(size)} digits is too expensive to simplify "
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
            alias = ALIASES.get(name) or nearest(name, list(FUNCTIONS))
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
        texts = [COMPARE_TEXT.get(o, "?") for o in ops]
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
                     limits: ExprLimits = DEFAULT_LIMITS,
                     exact_floats: bool = False) -> sp.Expr | sp.Relational:
    """Read expression text into sympy, safely.

    Args:
        text: the expression, in the grammar of the module docstring.
        symbols: name -> sympy Symbol for every name the text may use (declared
            variables, parameters, data columns); these Symbol objects are used as
            they are. ``pi``, ``E`` and the function names always mean the constant
            or function. A name mapped to a one-dimensional ``sympy.IndexedBase`` is
            an indexed variable (``w[k]``, ``sum(...)``: :mod:`symgd.io.indexing`).
        field, file, line, column: where the text came from, copied to errors.
        relation: True for a constraint: the text must be one comparison
            ``lhs == rhs``, ``lhs <= rhs`` or ``lhs >= rhs`` (``<``/``>`` read as
            ``<=``/``>=``), returned unevaluated as ``sympy.Eq``/``Le``/``Ge``; a
            comparison without any symbol is refused. False: the text must not
            contain a comparison.
        limits: size limits (:class:`ExprLimits`).
        exact_floats: read float literals as the exact fractions of their shortest
            decimal text (``1.2`` is 6/5), so that arithmetic on them is exact; used
            where a value is computed once and rounded once (starts of shaped variables).

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
    parser.exact_floats = exact_floats
    parser.clean()
    tree = parser.parse_ast()
    return parser.build(tree)
