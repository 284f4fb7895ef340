"""Reading schema values out of the YAML node tree, each located in the file.

:class:`NodeReader` is the toolkit the schema reader (:mod:`symgd.io.schema`) is built
on: it records ``locations`` (field path -> (line, column), 1-based) for every field it
sees, makes errors that name the file, field, line and column (or ``--set`` for values
that came from an override, which have no line), and reads typed scalars, symbol names
and expressions (through the safe parser, never ``sympify``).
"""
from __future__ import annotations

import math
from pathlib import Path

from symgd.errors import InputError, unknown_name_message
from symgd.io.exact import check_double_range
from symgd.io.grammar import validate_symbol_name
from symgd.io.limits import LoadLimits
from symgd.io.parser import parse_expression
from symgd.io.yaml_nodes import Mapping, Node, Scalar, describe


class NodeReader:
    """Typed, located reads from one file's node tree.

    Keeps ``locations`` (field path -> (line, column), 1-based) for every field it sees
    in the file; values that came from ``--set`` have no line and are not recorded.
    """

    def __init__(self, file: str, base_dir: Path, default_name: str | None,
                 limits: "LoadLimits | None" = None):
        self.file = file
        self.base_dir = base_dir
        self.default_name = default_name
        self.limits = limits or LoadLimits()
        self.locations: dict = {}

    # -- locations and errors -----------------------------------------------------
    def note(self, field: str, node: Node | None) -> None:
        if node is not None and node.origin is None and node.line is not None:
            self.locations[field] = (node.line, node.column)

    def note_entry(self, field: str, key: Scalar, value: Node) -> None:
        """A scalar value is located at itself; a list, mapping or empty value at its key."""
        if value.origin is not None:
            return
        if isinstance(value, Scalar) and (value.text or not value.plain):
            self.note(field, value)
        else:
            self.note(field, key)

    def error(self, node: Node | None, field: str | None, message: str) -> InputError:
        if node is not None and node.origin is not None:
            return InputError(f"{message} (from --set {node.origin})", file="--set",
                              field=field, kind="yaml")
        line = node.line if node is not None else None
        column = node.column if node is not None else None
        return InputError(message, file=self.file, field=field, line=line, column=column,
                          kind="yaml")

    def check_keys(self, mapping: Mapping, valid, what: str, prefix: str) -> None:
        for key, _ in mapping.items:
            if key.text not in valid:
                field = f"{prefix}.{key.text}" if prefix else key.text
                raise self.error(key, field, unknown_name_message(what, key.text, valid))

    # -- scalar types ---------------------------------------------------------------
    def number(self, node: Node, field: str, *, allow_null: bool = False,
               allow_inf: bool = False):
        """An int (kept exact) or a float; finite unless ``allow_inf``."""
        if not isinstance(node, Scalar):
            raise self.error(node, field, f"expected a number, got {describe(node)}")
        value = self.scalar(node, field)
        if value is None and allow_null:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            hint = ""
            if isinstance(value, str) and not node.plain and _looks_numeric(value):
                hint = " (remove the quotes)"
            raise self.error(node, field, f"expected a number, got {describe(node)}{hint}")
        if isinstance(value, float) and math.isnan(value):
            raise self.error(node, field, f"expected a number, got {node.text} (not a number)")
        if isinstance(value, float) and math.isinf(value) and not allow_inf:
            raise self.error(node, field, f"expected a finite number, got {node.text}")
        return value

    def finite_float(self, node: Node, field: str) -> float:
        value = self.number(node, field)
        try:
            return float(value)
        except OverflowError:
            raise self.error(node, field, f"the number {node.text[:20]}... is too large for "
                             f"a double") from None

    def text(self, node: Node, field: str, *, numbers_ok: bool = False,
             allow_null: bool = True) -> str | None:
        """A string; with ``numbers_ok`` a number is taken as its own text."""
        if not isinstance(node, Scalar):
            raise self.error(node, field, f"expected a string, got {describe(node)}")
        value = self.scalar(node, field)
        if value is None and allow_null:
            return None
        if isinstance(value, str):
            return value
        if numbers_ok and isinstance(value, (int, float)) and not isinstance(value, bool):
            return node.text
        raise self.error(node, field, f"expected a string, got {describe(node)}")

    def scalar(self, node: Scalar, field: str):
        try:
            return node.value
        except InputError as err:
            raise self.error(node, field, err.message) from None

    # -- names ----------------------------------------------------------------------
    def symbol_name(self, node: Scalar, field: str) -> str:
        if not isinstance(node, Scalar) or not isinstance(self.scalar(node, field), str):
            raise self.error(node, field, f"expected a name, got {describe(node)}")
        line, column = (None, None) if node.origin else (node.line, node.column)
        try:
            validate_symbol_name(node.text, field=field, file=self._file_of(node),
                                 line=line, column=column)
        except InputError as err:
            raise err.located(file=self._file_of(node), field=field, line=line,
                              column=column) from None
        return node.text

    def _file_of(self, node: Node) -> str:
        return "--set" if node.origin is not None else self.file

    # -- expressions ----------------------------------------------------------------
    def expression(self, node: Node, field: str, symbols: dict, *, relation: bool = False,
                   exact_floats: bool = False):
        """Parse an expression node with the safe parser; numbers become their text."""
        text = self.expression_text(node, field)
        if node.origin is not None:
            line = column = None
        else:
            line, column = node.line, node.column
            if node.style in ("'", '"'):
                column += 1  # point at the text, not at the quote
        try:
            expr = parse_expression(text, symbols, field=field, file=self._file_of(node),
                                    line=line, column=column, relation=relation,
                                    limits=self.limits.expr, exact_floats=exact_floats)
        except InputError as err:
            raise err.located(file=self._file_of(node), field=field, line=line,
                              column=column) from None
        return check_double_range(expr, file=self._file_of(node), field=field, line=line,
                                  column=column)

    def expression_text(self, node: Node, field: str) -> str:
        if not isinstance(node, Scalar):
            raise self.error(node, field, f"expected an expression (a string), got "
                                          f"{describe(node)}")
        value = self.scalar(node, field)
        if value is None:
            raise self.error(node, field, "is empty; write an expression")
        if isinstance(value, bool):
            raise self.error(node, field, f"expected an expression, got {describe(node)}")
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise self.error(node, field, f"expected a finite number or an expression, "
                                              f"got {node.text}")
            return repr(value)
        return value


    def where(self, node: Node, field: str) -> dict:
        if node.origin is not None:
            return {"file": "--set", "field": field}
        return {"file": self.file, "field": field, "line": node.line, "column": node.column}



def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
