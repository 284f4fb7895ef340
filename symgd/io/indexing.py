"""Indexed variables and sums in problem-file expressions (SPEC §1), for the safe parser.

A variable declared with ``shape: n`` reaches the parser as a ``sympy.IndexedBase`` of
that shape. This module adds to the expression language:

    element   NAME[index]                       NAME declared with shape; one index
    sum       sum(expr, (NAME, first, last))    first..last inclusive, as sympy's Sum
    a % b     a // b                            only between integer expressions

where ``index``, ``first``, ``last`` and the operands of ``%`` and ``//`` are
*integer expressions*: integer literals, integer parameters and the indices of
enclosing sums, joined by ``+ - * ** % //`` and parentheses; no variable, data column
or float. A sum binds its index in its first argument only (its limits see the
enclosing sums' indices, so ``sum(sum(w[j], (j, 0, i)), (i, 0, 3))`` works); an index
may not reuse the name of a variable, parameter, column or enclosing index.

Why it is built this way: the sums become ``sympy.Sum`` over ``sympy.Indexed``
elements and are then expanded term by term by :func:`symgd.indexed.expand`, the very
function the Python API uses, so a file and the equivalent Python code give the same
symbols (``w[0]``, ``w[1]``, ...) and the same expression. Scoping is resolved in one
pass over the syntax tree before anything is built (:meth:`IndexedSyntax.scan_indices`),
so the iterative walk of :mod:`symgd.io.parser` needs no scope of its own. Index
symbols are sympy integer symbols: variables and columns are real symbols, so
"integer expression" is checked as "every free symbol is an integer symbol".

Limits (:class:`symgd.io.limits.ExprLimits`): ``max_sum_depth`` sums nested in one
another, ``max_sum_terms`` terms after expansion (all sums of the expression together).
"""
from __future__ import annotations

import ast

import sympy as sp

from symgd.errors import InputError
from symgd.indexed import element_name, expand, has_indexed
from symgd.io.exact import node_defect, numeric_defect, unique_nodes
from symgd.io.expr_text import SourceText
from symgd.io.grammar import CONSTANTS, FUNCTIONS

SUM_USAGE = "sum(expr, (i, first, last)), e.g. sum(w[i]**2, (i, 0, 199))"


def is_integer_expression(e) -> bool:
    """True for an expression of integer symbols (sum indices) and exact numbers only."""
    return (isinstance(e, sp.Expr) and not e.has(sp.Float, sp.Sum, sp.Indexed)
            and all(s.is_integer for s in e.free_symbols))


class IndexedSyntax(SourceText):
    """The parser's handling of ``w[k]``, ``sum(...)``, ``%`` and ``//`` (a base class
    of :class:`symgd.io.parser` 's parser, which provides ``symbols`` and ``limits``)."""

    symbols: dict

    # -- scoping, before the walk ------------------------------------------------------------
    def scan_indices(self, body: ast.AST) -> None:
        """Bind every sum's index name to its symbol inside the sum's first argument."""
        self.bound: dict = {}        # id(ast.Name) -> index symbol
        self.sum_index: dict = {}    # id(ast.Call) -> index symbol of that sum
        self.index_names: set = set()
        self.in_index: set = set()   # ids of names inside a subscript, bound or not
        self.sum_terms: dict = {}    # Sum with whole-number limits -> terms it expands to
        if "sum" not in self.text and "Sum" not in self.text and "[" not in self.text:
            return
        stack = [(body, {}, 0, False)]
        while stack:
            node, scope, depth, in_sub = stack.pop()
            if isinstance(node, ast.Name):
                if node.id in scope:
                    self.bound[id(node)] = scope[node.id]
                elif in_sub:
                    self.in_index.add(id(node))
                continue
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in ("sum", "Sum"):
                name, sym = self.sum_header(node, scope, depth)
                first, last = node.args[1].elts[1:]
                stack.append((node.args[0], {**scope, name: sym}, depth + 1, in_sub))
                stack.append((first, scope, depth + 1, in_sub))
                stack.append((last, scope, depth + 1, in_sub))
                continue
            if isinstance(node, ast.Subscript):
                stack.append((node.value, scope, depth, in_sub))
                stack.append((node.slice, scope, depth, True))
                continue
            stack.extend((child, scope, depth, in_sub) for child in ast.iter_child_nodes(node))

    def sum_header(self, node: ast.Call, scope: dict, depth: int):
        """Check the form of one ``sum(...)`` call; its index name and symbol."""
        if node.func.id == "Sum":
            self.fail(f"write sum in lower case: {SUM_USAGE}", node)
        args = node.args
        if node.keywords or len(args) != 2 or any(isinstance(a, ast.Starred) for a in args) \
                or not isinstance(args[1], ast.Tuple) or len(args[1].elts) != 3 \
                or not isinstance(args[1].elts[0], ast.Name):
            self.fail(f"sum takes an expression and (index, first, last): {SUM_USAGE}", node)
        if depth + 1 > self.limits.max_sum_depth:
            self.fail(f"sums are nested more than {self.limits.max_sum_depth} deep (limit: "
                      "max_sum_depth); each level multiplies the terms to expand", node,
                      kind="limit")
        target = args[1].elts[0]
        name = target.id
        if name.startswith("__") or name in FUNCTIONS or name in CONSTANTS:
            self.fail(f"'{name}' cannot be the index of a sum; use a name such as i, j or k",
                      target)
        if name in self.symbols:
            what = "parameter" if self.symbols[name].is_Number else "variable (or column)"
            self.fail(f"the sum index '{name}' has the name of a {what}; give the index "
                      "another name, e.g. i, j or k", target)
        if name in scope:
            self.fail(f"the sum index '{name}' is already the index of an enclosing sum; "
                      "give the inner one another name", target)
        sym = sp.Symbol(name, integer=True)
        self.index_names.add(name)
        self.sum_index[id(node)] = sym
        return name, sym

    # -- names -----------------------------------------------------------------------------
    def index_value(self, node: ast.Name):
        """The sum index that ``node`` stands for, or None for any other name; refuses an
        indexed variable without brackets and an index outside its sum."""
        sym = self.bound.get(id(node))
        if sym is not None:
            return sym
        name = node.id
        value = self.symbols.get(name)
        if isinstance(value, sp.IndexedBase):
            n = int(value.shape[0])
            self.fail(f"'{name}' has shape {n}: write one element, {name}[0] to {name}[{n - 1}], "
                      f"or a sum such as sum({name}[i], (i, 0, {n - 1}))", node)
        if value is None and name in self.index_names:
            self.fail(f"the index '{name}' is used outside the sum over it", node)
        if value is None and id(node) in self.in_index:
            self.fail(f"unknown name '{name}' in an index: an index is built from whole "
                      f"numbers and the index of an enclosing sum(expr, ({name}, first, "
                      "last))", node)
        return None

    # -- element: w[k] ------------------------------------------------------------------------
    def subscript_node(self, node: ast.Subscript):
        value = node.value
        if not isinstance(value, ast.Name):
            self.fail("indexing with [...] is only for variables declared with shape, as "
                      "name[index]", node)
        base = self.symbols.get(value.id)
        if not isinstance(base, sp.IndexedBase):
            if value.id in self.symbols or id(value) in self.bound:
                self.fail(f"'{value.id}' is not indexed: indexing with [...] is only for "
                          f"variables declared with shape (variables: {{{value.id}: {{shape: "
                          "n}})", node)
            self.fail(f"unknown name '{value.id}'; indexing with [...] is only for variables "
                      "declared with shape", value)
        if isinstance(node.slice, ast.Tuple):
            self.fail(f"'{value.id}' has one index: write {value.id}[k]", node)
        if isinstance(node.slice, ast.Slice):
            self.fail(f"slices are not allowed; write one element {value.id}[k] or a sum "
                      f"over the elements: {SUM_USAGE}", node)
        return None, (node.slice,), lambda a: self.element(base, a[0], node)

    def element(self, base: sp.IndexedBase, k, node: ast.Subscript):
        label, n = str(base.label), int(base.shape[0])
        if not is_integer_expression(k):
            bad = sorted(str(s) for s in getattr(k, "free_symbols", ())
                         if not s.is_integer)
            why = (f"'{bad[0]}' is not the index of an enclosing sum" if bad
                   else "it is not a whole number")
            self.fail(f"the index of {self.segment(node)} must be a whole number or an "
                      f"integer expression of sum indices; {why}", node)
        if k.free_symbols:
            return sp.Indexed(base, k)  # checked against the shape when expanded
        if not k.is_Integer:
            self.fail(f"the index of {self.segment(node)} is {k}, not a whole number", node)
        if int(k) < 0:
            self.fail(f"{label}[{k}]: indices start at 0 ({label}[0] to {label}[{n - 1}]); "
                      "negative indices do not count from the end", node)
        if int(k) >= n:
            self.fail(f"{label}[{k}] is out of range: {label} has {n} elements, {label}[0] to "
                      f"{label}[{n - 1}]", node)
        return sp.Symbol(element_name(label, [int(k)]), real=True)

    # -- sum(expr, (i, first, last)) ----------------------------------------------------------
    def sum_node(self, node: ast.Call):
        first, last = node.args[1].elts[1:]
        return None, (first, last, node.args[0]), lambda a: self.make_sum(a, node)

    def make_sum(self, args, node: ast.Call):
        lo, hi, body = args
        sym = self.sum_index[id(node)]
        for which, v, src in (("first", lo, node.args[1].elts[1]),
                              ("last", hi, node.args[1].elts[2])):
            if not is_integer_expression(v) or (not v.free_symbols and not v.is_Integer):
                self.fail(f"the {which} value of the sum over {sym} must be a whole number "
                          f"(or an integer expression of enclosing sum indices), got "
                          f"{self.segment(src)}", src)
        if not (lo.free_symbols or hi.free_symbols):
            if hi < lo - 1:
                self.fail(f"the sum over {sym} runs from {lo} down to {hi}; write the first "
                          f"index first (the range is inclusive: ({sym}, {hi}, {lo}); an "
                          "empty sum is (i, a, a - 1))", node)
            # what symgd.indexed.expand will count: each term, and each term's inner sums
            terms = (int(hi - lo) + 1) * (1 + self.nested_terms(body))
            if terms > self.limits.max_sum_terms:
                self.fail(f"the sum over {sym} expands to {terms:,} terms (inner sums "
                          f"included); the limit is {self.limits.max_sum_terms:,} "
                          "(max_sum_terms): sums are expanded term by term", node,
                          kind="limit")
        try:
            out = sp.Sum(body, (sym, lo, hi))
        except (ValueError, TypeError) as exc:
            self.fail(f"{self.segment(node)} cannot be built: {exc}", node)
        if not (lo.free_symbols or hi.free_symbols):
            self.sum_terms[out] = terms
        return out

    def nested_terms(self, e) -> int:
        """Terms the outermost sums inside ``e`` expand to, as far as known before
        expansion (a sum whose limits depend on an enclosing index counts 0 here;
        :func:`symgd.indexed.expand` keeps its own count as it goes)."""
        total, stack = 0, [e]
        while stack:
            n = stack.pop()
            if isinstance(n, sp.Sum):
                total += self.sum_terms.get(n, 0)
                continue
            stack.extend(n.args)
        return total

    # -- a % b, a // b --------------------------------------------------------------------------
    def integer_op_node(self, node: ast.BinOp):
        op = "%" if isinstance(node.op, ast.Mod) else "//"
        return None, (node.left, node.right), lambda a: self.integer_op(op, a[0], a[1], node)

    def integer_op(self, op: str, a, b, node: ast.BinOp):
        word = "the remainder operator '%'" if op == "%" else "floor division '//'"
        if not (is_integer_expression(a) and is_integer_expression(b)):
            hint = "; use / for division" if op == "//" else ""
            self.fail(f"{word} works on whole numbers only: integer literals, integer "
                      f"parameters and sum indices (e.g. i % 2), not on variables, columns "
                      f"or floats{hint}", node)
        if b.is_zero:
            self.fail(f"division by zero in {self.segment(node)}", node)
        return sp.Mod(a, b) if op == "%" else sp.floor(a / b)

    # -- after the walk ------------------------------------------------------------------------
    def expand_indexed(self, result):
        """``result`` with every sum expanded and every element a real symbol ``w[k]``."""
        if not has_indexed(result):
            return result
        field = self.where.get("field") or "expression"
        terms = self.nested_terms(result)
        if terms > self.limits.max_sum_terms:
            self.fail(f"the sums of this expression expand to {terms:,} terms; the limit is "
                      f"{self.limits.max_sum_terms:,} (max_sum_terms)", kind="limit")
        try:
            out = expand(result, field=field, max_terms=self.limits.max_sum_terms)
        except InputError as err:
            limit = " (limit: max_sum_terms)" if err.kind == "limit" else ""
            raise InputError(err.message + limit, kind="limit" if limit else "expression",
                             **self.where) from None
        for e in unique_nodes(out):
            why = node_defect(e) or numeric_defect(e)
            if why is not None:
                self.fail(f"once the sums are expanded, the term {str(e)[:60]} {why}")
        return out
