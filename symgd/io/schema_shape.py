"""Variables declared with ``shape`` in a problem file (SPEC §1): ``w: {shape: 200}``.

Schema of one such variable::

    w: {shape: n, start: S, lower: L, upper: U, vary: true|false}

* ``shape``: a whole number, 1 to ``max_shape`` (one dimension): the variables
  ``w[0]`` ... ``w[n-1]``, which count towards ``max_variables``;
* ``start``, ``lower``, ``upper``, each optional, in one of three forms:
  a number (every element), a list of exactly n numbers (element by element; ``null``
  or ``.inf``/``-.inf`` in a bound list means no bound there), or an expression string
  of the element index ``i`` and the parameters, e.g. ``"-1.2*(1 - i % 2) + i % 2"``
  (read by the safe parser; ``i`` is a whole number, so ``%`` and ``//`` work on it).
  A short list is an error, never repeated: ``[-1.2, 1]`` for 200 elements would be
  ambiguous, and the expression form says what is meant.
* ``vary``: data fits, for every element.

Why: the rest of symgd sees plain variables named ``w[k]`` (:mod:`symgd.indexed`), so
the shaped variable becomes n ordinary entries of ``variables`` here, at the place of
``w`` in file order; the parser sees ``w`` itself as a ``sympy.IndexedBase`` of that
shape, which is how ``w[i]`` and ``sum(...)`` in expressions find it. Expression forms
are evaluated once the parameters are known (:meth:`ShapeReader.fill_shaped`).
"""
from __future__ import annotations

import math

import sympy as sp

from symgd.errors import InputError
from symgd.indexed import element_name
from symgd.io.schema_nodes import NodeReader
from symgd.io.yaml_nodes import Mapping, Node, Scalar, Sequence, describe, is_null

SHAPED_KEYS = ("shape", "start", "lower", "upper", "vary")
INDEX_NAME = "i"


class ShapeReader(NodeReader):
    """Reads ``{shape: n, ...}`` variables (a base of :class:`symgd.io.schema.SchemaReader`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.shaped: dict = {}    # name -> n, for the variables declared with shape
        self.pending: list = []   # expression forms, evaluated by fill_shaped

    def indexed_bases(self) -> dict:
        """``{name: IndexedBase}``: what the parser resolves ``w`` to."""
        return {name: sp.IndexedBase(name, shape=(n,)) for name, n in self.shaped.items()}

    def shaped_variable(self, name: str, key: Scalar, value: Mapping) -> dict:
        """``{"w[0]": spec, ...}`` for ``w: {shape: n, ...}``; expression forms pending."""
        field = f"variables.{name}"
        self.note(field, key)
        self.check_keys(value, SHAPED_KEYS, "field of a variable with shape", field)
        n = self.shape_size(value.get("shape"), f"{field}.shape")
        self.shaped[name] = n
        names = [element_name(name, [k]) for k in range(n)]
        specs: dict = {e: {} for e in names}
        for k, v in value.items:
            sub = f"{field}.{k.text}"
            self.note_entry(sub, k, v)
            if k.text == "vary":
                vary = self.scalar(v, sub) if isinstance(v, Scalar) else None
                if not isinstance(vary, bool):
                    raise self.error(v, sub, f"expected true or false, got {describe(v)}")
                for e in names:
                    specs[e]["vary"] = vary
            elif k.text != "shape":
                self.element_values(v, sub, name, n, k.text, specs, names)
        start_at = self.locations.get(f"{field}.start", self.locations.get(field))
        for e in names:  # Problem names the element in its errors: point at w's lines
            if field in self.locations:
                self.locations[f"variables.{e}"] = self.locations[field]
            if start_at is not None:
                self.locations[f"variables.{e}.start"] = start_at
        return specs

    def shape_size(self, node: Node, field: str) -> int:
        if isinstance(node, Sequence):
            raise self.error(node, field, "shape is one whole number (variables have one "
                             "index in problem files), e.g. shape: 200")
        n = self.number(node, field)
        if isinstance(n, float) or isinstance(n, bool):
            raise self.error(node, field, f"shape must be a whole number, got {node.text}")
        if n < 1:
            raise self.error(node, field, f"shape must be at least 1, got {n}")
        if n > self.limits.max_shape:
            raise InputError(f"shape {n:,} is more than the limit of "
                             f"{self.limits.max_shape:,} elements (max_shape)",
                             **self.where(node, field), kind="limit")
        return n

    def element_values(self, node: Node, field: str, name: str, n: int, what: str,
                       specs: dict, names: list) -> None:
        """Fill ``specs[w[k]][what]`` from a number, a list of n numbers, or (later, in
        fill_shaped) an expression of the index ``i``."""
        bound = what != "start"
        if isinstance(node, Sequence):
            if len(node.items) != n:
                raise self.error(node, field, f"has {len(node.items)} values but {name} has "
                                 f"shape {n}; give one number, a list of {n} numbers, or an "
                                 f"expression of the index {INDEX_NAME} (e.g. \"1 + "
                                 f"{INDEX_NAME} % 2\")")
            for k, item in enumerate(node.items):
                value = self.one_value(item, f"{field}[{k}]", what, bound)
                if value is not None:
                    specs[names[k]][what] = value
            return
        if isinstance(node, Scalar) and not is_null(node) \
                and isinstance(self.scalar(node, field), str):
            self.expression_text(node, field)
            self.pending.append((node, field, name, n, what, specs, names))
            return
        value = self.one_value(node, field, what, bound)
        if value is not None:
            for e in names:
                specs[e][what] = value

    def one_value(self, node: Node, field: str, what: str, bound: bool):
        """A finite float; None for no bound (null, or -.inf/.inf on the open side)."""
        value = self.number(node, field, allow_null=True, allow_inf=bound)
        if value is None:
            return None
        if isinstance(value, float) and math.isinf(value):
            if (value < 0) == (what == "lower"):
                return None
            raise self.error(node, field, f"a {what} bound of {node.text} leaves no room for "
                             "the variable")
        return self.finite_float(node, field)

    def fill_shaped(self, param_symbols: dict) -> None:
        """Evaluate the expression forms, now that the parameters are known."""
        if not self.shaped:
            return
        index = sp.Symbol(INDEX_NAME, integer=True)
        for node, field, name, n, what, specs, names in self.pending:
            if INDEX_NAME in param_symbols:
                raise self.error(node, field, f"'{INDEX_NAME}' is the element index in "
                                 f"{field}; rename the parameter '{INDEX_NAME}'")
            # floats as exact decimals: "-1.2*(1 - i % 2) + i % 2" is 1.0 at i = 1, not
            # 1.0000000000000002 (sympy would fold -1.2*(1 - m) + m into -1.2 + 2.2*m)
            expr = self.expression(node, field, {**param_symbols, INDEX_NAME: index},
                                   exact_floats=True)
            constant = not expr.free_symbols
            for k, e in enumerate(names):
                v = expr if constant else expr.xreplace({index: sp.Integer(k)})
                try:
                    value = float(v)
                except (TypeError, ValueError, OverflowError):
                    value = math.nan
                if not math.isfinite(value):
                    raise self.error(node, field, f"for {e} (i = {k}) the {what} is {v}, not "
                                     "a finite real number")
                specs[e][what] = value
        self.pending.clear()
