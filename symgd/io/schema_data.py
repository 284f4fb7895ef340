"""The ``data`` block of a problem file: a file (with optional column renames) or inline
columns, read into a :class:`~symgd.io.data_spec.DataSpec` (SPEC §1).

Data files are not read here (:mod:`symgd.io.data` does that when a solve needs the
samples); only a CSV's header line or an .npz's member names are looked at
(:func:`symgd.io.data.column_names`), to know which names are data columns.
"""
from __future__ import annotations

import io
import keyword
import tokenize

import sympy as sp

from symgd.errors import InputError
from symgd.io.data import column_names
from symgd.io.data_spec import DataSpec
from symgd.io.grammar import CONSTANTS, FUNCTIONS, NAME_RE
from symgd.io.keys import DATA_FILE_KEYS
from symgd.io.parts import resolve_data_path
from symgd.io.schema_nodes import NodeReader
from symgd.io.yaml_nodes import Mapping, Node, Sequence, describe, is_null

# A data file with more columns than this declares only the columns its expressions use.
MAX_LISTED_COLUMNS = 1000


class DataBlockReader(NodeReader):
    """Reads the ``data`` block (the rest of the schema: :class:`symgd.io.schema.SchemaReader`)."""

    def data(self, node: Node, variables: dict, parameters: dict, texts: list) -> tuple:
        """The ``data`` block: (DataSpec fields but ``symbols``, {data symbol name: Symbol}).

        ``texts`` are the expressions' texts: a file's columns that they do not use need
        no symbol when the file is wide.
        """
        if not isinstance(node, Mapping) or not node.items:
            raise self.error(node, "data", f"expected {{file: name.csv, columns: {{...}}}} or "
                             f"inline columns {{x: [...], y: [...]}}, got {describe(node)}")
        taken = set(variables) | set(parameters)
        if node.key_node("file") is not None:
            return self.data_file(node, taken, texts)
        return self.data_inline(node, taken)

    def data_file(self, node: Mapping, taken: set, texts: list) -> tuple:
        """``data: {file, columns}``: the file (or a glob's parts) must exist inside the
        problem file's folder (symgd.io.parts); its header names the columns."""
        self.check_keys(node, DATA_FILE_KEYS, "data key", "data")
        file_node = node.get("file")
        self.note_entry("data.file", node.key_node("file"), file_node)
        name = self.text(file_node, "data.file", allow_null=False)
        if not name.strip():
            raise self.error(file_node, "data.file", "is empty; give a data file name "
                             "(.csv, .npz, .parquet) or a glob of parts")
        try:
            path, root = resolve_data_path(name, self.base_dir)
        except InputError as err:
            raise InputError(err.message, **self.where(file_node, "data.file"),
                             kind=err.kind) from None
        columns: dict = {}
        columns_node = node.get("columns")
        if columns_node is not None and not is_null(columns_node):
            self.note_entry("data.columns", node.key_node("columns"), columns_node)
            if not isinstance(columns_node, Mapping):
                raise self.error(columns_node, "data.columns", f"expected a mapping of "
                                 f"symbol: column name, got {describe(columns_node)}")
            for key, value in columns_node.items:
                field = f"data.columns.{key.text}"
                symbol = self.symbol_name(key, field)
                self.note_entry(field, key, value)
                if symbol in taken:
                    raise self.error(key, field, f"'{symbol}' is a variable or parameter; "
                                     f"a data column needs its own name")
                columns[symbol] = self.text(value, field, numbers_ok=True, allow_null=False)
        names = _data_file_names(path, root)
        used = set()
        for t in texts:
            used |= _free_names(t)
        if names is None:  # header unreadable: every free name of the objective is data
            names = used
        elif len(names) > MAX_LISTED_COLUMNS:
            # A wide file: only the columns the expressions use become symbols (building
            # 100,000 symbols, and suggesting names among them, costs seconds).
            names = names & used
        names = {n for n in names if _usable_symbol(n)} - taken
        names |= set(columns)
        fields = {"file": path, "columns": columns, "root": root}
        return fields, {n: sp.Symbol(n, real=True) for n in sorted(names)}

    def data_inline(self, node: Mapping, taken: set) -> tuple:
        """``data: {x: [...], y: [...]}``: finite numbers, columns of equal length."""
        inline: dict = {}
        length = None
        first_key = None
        for key, value in node.items:
            field = f"data.{key.text}"
            symbol = self.symbol_name(key, field)
            self.note_entry(field, key, value)
            if symbol in taken:
                raise self.error(key, field, f"'{symbol}' is a variable or parameter; a data "
                                 f"column needs its own name")
            if not isinstance(value, Sequence) or not value.items:
                raise self.error(value, field,
                                 f"expected a list of numbers, got {describe(value)}"
                                 if not isinstance(value, Sequence) else
                                 "the column is empty")
            column = [self.finite_float(item, f"{field}[{i}]")
                      for i, item in enumerate(value.items)]
            if length is None:
                length, first_key = len(column), key.text
            elif len(column) != length:
                raise self.error(key, field, f"column '{key.text}' has {len(column)} values "
                                 f"but '{first_key}' has {length}")
            inline[symbol] = tuple(column)
        return ({"arrays": inline, "inline": True},
                {n: sp.Symbol(n, real=True) for n in inline})

    def data_spec(self, fields: dict, symbols) -> DataSpec:
        """The DataSpec of the block read by :meth:`data`, with the data ``symbols`` the
        expressions use, located in this file for errors found when it is loaded."""
        where = {k: v for k, v in self.locations.items()
                 if k == "data" or k.startswith("data.")}
        return DataSpec(**fields, symbols=tuple(sorted(symbols)), source=self.file,
                        locations=where)


def _usable_symbol(name: str) -> bool:
    """Can a column name be a symbol (not a keyword, a function or a constant)?"""
    return (NAME_RE.match(name) is not None and not keyword.iskeyword(name)
            and name not in FUNCTIONS and name not in CONSTANTS)


def _data_file_names(path: str, root) -> set | None:
    """Column names from a CSV header line, an .npz's members or a Parquet schema (a
    glob's first part's); None when unreadable.

    Only the first line (or the zip directory) is read, by the data reader's own header
    reader (one reader, one size cap); symgd.io.data loads and checks the data itself.
    """
    try:
        return set(column_names(DataSpec(file=path, root=root))) or None
    except InputError:
        # A bad header is reported, with its line and field, when the data is loaded.
        return None


def _free_names(text: str) -> set:
    """Names used in an expression that are not called as functions (a lexical scan)."""
    names: set = set()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return names  # the parser will report the syntax error with its position
    for i, tok in enumerate(tokens):
        if tok.type != tokenize.NAME:
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if nxt is not None and nxt.type == tokenize.OP and nxt.string == "(":
            continue
        names.add(tok.string)
    return names

