"""Problem files: YAML text -> schema -> :class:`symgd.problem.Problem` (SPEC §1, §3).

The YAML is read as a node tree by :mod:`symgd.io.yaml_nodes` (YAML 1.2 scalars, no
tags, no aliases, line numbers everywhere); ``--set KEY=VALUE`` overrides are applied
to that tree; then the schema below is checked node by node, so every error names the
file, the dotted field (``variables.x.start``, ``options.tol``, ``constraints[1]``) and
the 1-based line and column. Expressions go through the safe parser
(:func:`symgd.io.expr.parse_expression`), never through ``sympify``.

Schema (top level)::

    name, description            strings (a number is taken as its text)
    variables                    [x, y] | {x: -1.2, y: 1} | {x: {start, lower, upper}}
    parameters                   {name: number}
    minimize | maximize          expression (exactly one, unless data + model)
    constraints                  [relation, ...] using ==, <= or >=
    method                       string
    options                      {name: scalar}; schedule: a string or a mapping
    data                         {file: path, columns: {symbol: column}} | {col: [numbers]}
    model, target                expressions (data fits)
    loss                         string;  reduce: mean | sum

Data files are not read here (``symgd.io.data`` does that); only a CSV's header line
or an .npz's member names are looked at, to know which names are data columns.
"""
from __future__ import annotations

import csv
import io
import keyword
import math
import os
import re
import tokenize
import zipfile
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Sequence as SequenceType

import sympy as sp

from symgd.errors import InputError, unknown_name_message
from symgd.io.expr import DEFAULT_LIMITS, ExprLimits
from symgd.io.yaml_nodes import (MAX_BYTES, MAX_DEPTH, MAX_NODES, Mapping, Node, Scalar,
                                 Sequence, describe, is_null, read_yaml)

TOP_KEYS = ("name", "description", "variables", "parameters", "minimize", "maximize",
            "constraints", "method", "options", "data", "model", "target", "loss", "reduce")
VARIABLE_KEYS = ("start", "lower", "upper")
DATA_FILE_KEYS = ("file", "columns")
DATA_SUFFIXES = (".csv", ".npz")
REDUCE_VALUES = ("mean", "sum")
FIT_ONLY_KEYS = ("model", "target", "loss", "reduce")
# Names the expression language reserves (SPEC §1); never data columns.
RESERVED_NAMES = frozenset({"exp", "log", "sqrt", "sin", "cos", "tan", "asin", "acos", "atan",
                            "atan2", "sinh", "cosh", "tanh", "Abs", "sign", "Max", "Min",
                            "pi", "E"})
_KEY_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER_LIMIT = 1 << 20  # read at most 1 MiB of a CSV's first line
# A data file with more columns than this declares only the columns its expressions use.
MAX_LISTED_COLUMNS = 1000
# Integer options (max_iter, seed, batch_size, ...) become 64-bit integers in the loops.
MAX_OPTION_INT = 2**63 - 1


@dataclass(frozen=True)
class LoadLimits:
    """Every bound the problem-file reader applies (documented defaults; the CLI sets any
    of them with ``--limit NAME=VALUE``, e.g. ``--limit max_variables=5000``).

    Attributes:
        expr: limits on each expression (:class:`symgd.io.expr.ExprLimits`; its fields
            are set by their own names, ``--limit max_depth=400``).
        yaml_max_bytes: size of the problem file (10 MB).
        yaml_max_depth: nesting of YAML lists and mappings (64).
        yaml_max_nodes: values in the YAML, keys included (100,000): inline data is
            for small problems.
        max_variables: declared variables (1,000): derivatives and the dense Hessian
            grow with the square of their number (100,000 variables exhaust memory).
        max_constraints: constraints (1,000).
    """

    expr: ExprLimits = DEFAULT_LIMITS
    yaml_max_bytes: int = MAX_BYTES
    yaml_max_depth: int = MAX_DEPTH
    yaml_max_nodes: int = MAX_NODES
    max_variables: int = 1000
    max_constraints: int = 1000

    @classmethod
    def from_settings(cls, settings) -> "LoadLimits":
        """Limits from ``NAME=VALUE`` strings (or a ``{name: value}`` mapping).

        Raises:
            InputError: (file ``--limit``) an unknown name or a value that is not a
                positive number.
        """
        items = settings.items() if hasattr(settings, "items") else \
            [str(a).partition("=")[::2] for a in settings]
        own = {f.name for f in fields(cls) if f.name != "expr"}
        expr_names = {f.name for f in fields(ExprLimits)}
        mine, theirs = {}, {}
        for name, text in items:
            name = str(name).strip()
            if name not in own and name not in expr_names:
                raise InputError(unknown_name_message("limit", name, own | expr_names),
                                 file="--limit", field=name, kind="limit")
            default = getattr(DEFAULT_LIMITS, name) if name in expr_names else \
                getattr(cls, name)
            try:
                value = float(text) if isinstance(default, float) else int(str(text), 10)
            except (TypeError, ValueError):
                value = None
            if value is None or not (value > 0) or value == math.inf:
                raise InputError(f"--limit {name} expects a positive "
                                 f"{'number' if isinstance(default, float) else 'integer'},"
                                 f" got {text!r}", file="--limit", field=name, kind="limit")
            (theirs if name in expr_names else mine)[name] = value
        return cls(expr=replace(DEFAULT_LIMITS, **theirs), **mine)


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------
def load(path, overrides: SequenceType[str] = (), *, limits: "LoadLimits | None" = None):
    """Read a problem file (SPEC §1) and return a :class:`symgd.problem.Problem`.

    Args:
        path: the YAML file.
        overrides: ``KEY=VALUE`` strings as given to ``--set`` (SPEC §3), applied in
            order on top of the file.
        limits: the reader's limits (:class:`LoadLimits`; the CLI's ``--limit``).

    Raises:
        InputError: the file cannot be read, is not valid YAML, breaks the schema, or
            holds a bad expression; located by file, field, line and column.
    """
    source = os.fspath(path)
    p = Path(source)
    limits = limits or LoadLimits()
    try:
        if p.is_dir():
            raise InputError("is a folder, not a problem file", file=source, kind="input")
        if not p.is_file() and p.exists():
            raise InputError("is not a regular file (a device or a pipe?); give a YAML "
                             "problem file", file=source, kind="input")
        size = p.stat().st_size
        if size > limits.yaml_max_bytes:
            raise InputError(f"the file is {size / 1e6:.1f} MB, more than the "
                             f"{limits.yaml_max_bytes / 1e6:.0f} MB limit for problem files "
                             f"(yaml_max_bytes); put large data in a CSV or .npz file",
                             file=source, kind="limit")
        with open(p, "rb") as fh:  # at most one byte more than allowed, whatever stat said
            raw = fh.read(limits.yaml_max_bytes + 1)
        if len(raw) > limits.yaml_max_bytes:
            raise InputError(f"the file is larger than the {limits.yaml_max_bytes / 1e6:.0f}"
                             f" MB limit for problem files (yaml_max_bytes)", file=source,
                             kind="limit")
    except FileNotFoundError:
        raise InputError("problem file not found", file=source, kind="input") from None
    except OSError as err:
        raise InputError(f"cannot read the problem file: {err.strerror or err}",
                         file=source, kind="input") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise InputError(f"the file is not UTF-8 text (byte 0x{raw[err.start]:02x})",
                         file=source, line=line, kind="yaml") from None
    return load_text(text, file=source, base_dir=p.parent, overrides=overrides,
                     limits=limits)


def load_text(text: str, *, file: str = "<string>", base_dir=None, overrides=(),
              limits: "LoadLimits | None" = None):
    """Build a Problem from problem-file text.

    Args:
        text: the YAML text.
        file: the name used in error messages and as ``Problem.source``; a real file
            name also gives the default ``name`` (its stem).
        base_dir: folder that a relative ``data.file`` is relative to (default: the
            folder of ``file`` when it names one, else the working directory).
        overrides: ``KEY=VALUE`` strings (``--set``), applied in order.
        limits: the reader's limits (:class:`LoadLimits`).

    Raises:
        InputError: see :func:`load`.
    """
    limits = limits or LoadLimits()
    root = read_yaml(text, file=file, max_depth=limits.yaml_max_depth,
                     max_bytes=limits.yaml_max_bytes, max_nodes=limits.yaml_max_nodes)
    if root is None or is_null(root):
        raise InputError("the file is empty; a problem file is a YAML mapping with at least "
                         "'variables' and 'minimize' (or 'maximize')", file=file, kind="yaml")
    if not isinstance(root, Mapping):
        raise InputError(f"a problem file must be a YAML mapping of 'key: value' lines, got "
                         f"{describe(root)}", file=file, line=root.line, column=root.column,
                         kind="yaml")
    for assignment in overrides:
        apply_override(root, assignment)
    if base_dir is None:
        base_dir = Path(file).parent if _is_real_file_name(file) else Path.cwd()
    default_name = Path(file).stem if _is_real_file_name(file) else None
    return _SchemaReader(file, Path(base_dir), default_name, limits).problem(root)


def parse_override(assignment: str) -> tuple:
    """Split ``KEY=VALUE`` into (path segments, value node); VALUE is read as YAML 1.2.

    Raises:
        InputError: (file ``--set``) a missing ``=``, a bad path, or a bad YAML value.
    """
    key, sep, value_text = str(assignment).partition("=")
    key = key.strip()
    if not sep or not key:
        raise InputError(f"--set expects KEY=VALUE (e.g. options.tol=1e-10), got "
                         f"{assignment!r}", file="--set", field=key or None, kind="yaml")
    segments = key.split(".")
    for seg in segments:
        if "[" in seg or "]" in seg:
            raise InputError(f"--set {assignment}: paths address mappings only; replace the "
                             f"whole list instead (e.g. constraints=[\"x + y <= 3\"])",
                             file="--set", field=key, kind="yaml")
        if not _KEY_SEGMENT.fullmatch(seg):
            raise InputError(f"--set {assignment}: '{seg}' is not a valid key in the path "
                             f"'{key}'", file="--set", field=key, kind="yaml")
    try:
        value = read_yaml(value_text, file="--set", origin=assignment)
    except InputError as err:
        raise InputError(err.message, file="--set", field=key, kind=err.kind) from None
    if value is None:  # empty VALUE: a null scalar, refused or taken by the schema
        value = Scalar(None, None, assignment, "", None)
    return segments, value


def apply_override(root: Mapping, assignment: str) -> None:
    """Apply one ``--set KEY=VALUE`` to the node tree of a problem file, in place.

    Paths address mappings: ``method``, ``options.tol``, ``options.schedule.name``,
    ``variables.x.start``. Missing mappings on the way are created (``options``), a
    short variable entry (``[x, y]`` or ``x: 1.5``) is turned into the long form, and a
    schedule given by name becomes ``{name: ...}``. Setting ``minimize`` drops
    ``maximize`` and the other way round.

    Raises:
        InputError: (file ``--set``, field = the path) an unknown top-level key, an
            undeclared variable or parameter, or a path through a non-mapping.
    """
    segments, value = parse_override(assignment)
    path = ".".join(segments)

    def fail(message: str) -> InputError:
        return InputError(f"--set {assignment}: {message}", file="--set", field=path,
                          kind="yaml")

    if segments[0] not in TOP_KEYS:
        raise fail(unknown_name_message("key", segments[0], TOP_KEYS))
    if segments[0] == "variables" and len(segments) > 1:
        _prepare_variable_path(root, segments, fail)
    if segments[0] == "parameters" and len(segments) > 1:
        params = root.get("parameters")
        declared = params.keys() if isinstance(params, Mapping) else []
        if segments[1] not in declared:
            raise fail(unknown_name_message("parameter", segments[1], declared)
                       if declared else "the file declares no parameters")
    if segments[:2] == ["options", "schedule"] and len(segments) > 2:
        options = root.get("options")
        schedule = options.get("schedule") if isinstance(options, Mapping) else None
        if isinstance(schedule, Scalar) and isinstance(schedule.value, str):
            # `schedule: cosine` is short for `schedule: {name: cosine}`.
            options.set(Scalar(None, None, None, "schedule"), Mapping(
                schedule.line, schedule.column, schedule.origin,
                [(Scalar(schedule.line, schedule.column, schedule.origin, "name"), schedule)]))

    node = root
    for i, seg in enumerate(segments[:-1]):
        here = ".".join(segments[:i + 1])
        child = node.get(seg)
        if child is None or is_null(child):
            child = Mapping(None, None, assignment)
            node.set(Scalar(None, None, assignment, seg), child)
        elif not isinstance(child, Mapping):
            raise fail(f"'{here}' is {describe(child)}, not a mapping, so '{path}' cannot be "
                       f"set; set '{here}' itself")
        node = child
    node.set(Scalar(None, None, assignment, segments[-1]), value)
    if len(segments) == 1 and segments[0] in ("minimize", "maximize"):
        other = "maximize" if segments[0] == "minimize" else "minimize"
        root.items = [(k, v) for k, v in root.items if k.text != other]


def _prepare_variable_path(root: Mapping, segments: list, fail) -> None:
    """Check ``variables.<name>`` is declared and turn short forms into mappings."""
    variables = root.get("variables")
    if isinstance(variables, Sequence):
        # [x, y] -> {x: null, y: null} (start 0), keeping each name's line.
        converted = Mapping(variables.line, variables.column, variables.origin)
        for item in variables.items:
            if not isinstance(item, Scalar):
                raise fail(f"'variables' holds {describe(item)}, not a name")
            converted.items.append((item, Scalar(item.line, item.column, item.origin, "")))
        root.set(Scalar(None, None, None, "variables"), converted)
        variables = converted
    if not isinstance(variables, Mapping):
        raise fail("the file declares no variables to set")
    name = segments[1]
    if name not in variables.keys():
        raise fail(unknown_name_message("variable", name, variables.keys()) +
                   "; --set can change declared variables only")
    entry = variables.get(name)
    if len(segments) > 2 and isinstance(entry, Scalar):
        # x: 1.5 -> x: {start: 1.5}; x: (empty) -> x: {}
        long_form = Mapping(entry.line, entry.column, entry.origin)
        if not is_null(entry):
            long_form.items.append(
                (Scalar(entry.line, entry.column, entry.origin, "start"), entry))
        variables.set(Scalar(None, None, None, name), long_form)


def _is_real_file_name(file) -> bool:
    return bool(file) and not str(file).startswith("<")


# --------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------
class _SchemaReader:
    """Checks the node tree against the schema and builds the Problem.

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
        from symgd.io.expr import validate_symbol_name

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
    def expression(self, node: Node, field: str, symbols: dict, *, relation: bool = False):
        """Parse an expression node with the safe parser; numbers become their text."""
        from symgd.io.expr import check_double_range, parse_expression

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
                                    limits=self.limits.expr)
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

    # -- sections -------------------------------------------------------------------
    def problem(self, root: Mapping):
        from symgd.problem import Problem

        self.check_keys(root, TOP_KEYS, "key", "")
        for key, value in root.items:
            self.note_entry(key.text, key, value)
        get = root.get

        name = self.text(get("name"), "name", numbers_ok=True) if get("name") else None
        description = (self.text(get("description"), "description", numbers_ok=True)
                       if get("description") else None)
        method = self.text(get("method"), "method") if get("method") else None

        variables = self.variables(root)
        parameters = self.parameters(get("parameters"), variables)
        options = self.options(get("options"))
        var_symbols = {n: sp.Symbol(n, real=True) for n in variables}
        # Parameters enter the parser as their exact values (the same numbers Problem
        # would substitute), so its size checks see them: with P = 9, `P**P**P` is
        # 9**9**9 and refused, where substituting after parsing would hang in sympy.
        param_symbols = {n: _exact_parameter(v) for n, v in parameters.items()}
        base_symbols = {**var_symbols, **param_symbols}

        sense_keys = [k for k in ("minimize", "maximize") if root.key_node(k) is not None]
        if len(sense_keys) == 2:
            raise self.error(root.key_node("maximize"), "maximize",
                             "give only one of 'minimize' and 'maximize'")
        data_node = get("data")
        fit = {k: get(k) for k in FIT_ONLY_KEYS if root.key_node(k) is not None}
        if data_node is None:
            for k in FIT_ONLY_KEYS:
                if k in fit:
                    raise self.error(root.key_node(k), k, f"'{k}' is for data fits only; add "
                                     f"a 'data' block or remove '{k}'")
        if not sense_keys and "model" not in fit:
            if data_node is not None:
                raise InputError("a data fit needs 'model' (with 'target' and 'loss') or a "
                                 "per-sample 'minimize'", file=self.file, field="model",
                                 line=root.line, column=root.column, kind="yaml")
            raise InputError("the file needs 'minimize' or 'maximize' (the objective)",
                             file=self.file, field="minimize", line=root.line,
                             column=root.column, kind="yaml")

        data = data_symbols = None
        if data_node is not None:
            self.check_fit_keys(root, sense_keys, fit)
            texts = [self.expression_text(get(k), k) for k in sense_keys + ["model", "target"]
                     if root.key_node(k) is not None]
            data, data_symbols = self.data(data_node, variables, parameters, texts)

        all_symbols = {**base_symbols, **(data_symbols or {})}
        sense = sense_keys[0] if sense_keys else None
        objective = (self.expression(get(sense), sense, all_symbols) if sense else None)
        model = (self.expression(fit["model"], "model", all_symbols) if "model" in fit
                 else None)
        target = None
        if "target" in fit:
            target = self.expression(fit["target"], "target", all_symbols)
            used = sorted(s.name for s in target.free_symbols if s.name in variables)
            if used:
                raise self.error(fit["target"], "target", f"the target may use data columns "
                                 f"only, not the variable '{used[0]}'")
        loss = self.text(fit["loss"], "loss") if fit.get("loss") is not None else None
        reduce = self.reduce(fit.get("reduce"))
        constraints = self.constraints(get("constraints"), base_symbols)

        if data is not None:
            used = set()
            for e in (objective, model, target):
                if e is not None:
                    used |= {s.name for s in e.free_symbols}
            data["symbols"] = sorted(used & set(data_symbols))

        return Problem(
            minimize=objective if sense == "minimize" else None,
            maximize=objective if sense == "maximize" else None,
            variables=variables, constraints=constraints, parameters=parameters,
            name=name or self.default_name, description=description, method=method,
            options=options, data=data, model=model, target=target, loss=loss,
            reduce=reduce, source=self.file, locations=self.locations)

    def check_fit_keys(self, root: Mapping, sense_keys: list, fit: dict) -> None:
        """model + target (+ loss) or a per-sample minimize (+ reduce), not both."""
        if "model" in fit:
            if sense_keys:
                raise self.error(root.key_node(sense_keys[0]), sense_keys[0],
                                 f"give either 'model' (with 'target' and 'loss') or "
                                 f"'{sense_keys[0]}', not both")
            if "target" not in fit:
                raise self.error(root.key_node("model"), "model",
                                 "a model needs a 'target' (the column it predicts)")
            if "reduce" in fit:
                raise self.error(root.key_node("reduce"), "reduce",
                                 "'reduce' goes with a per-sample 'minimize'; with a model "
                                 "choose the loss instead (mse averages, sse sums)")
        else:
            for k in ("target", "loss"):
                if k in fit:
                    raise self.error(root.key_node(k), k, f"'{k}' needs a 'model'")

    def reduce(self, node: Node | None) -> str | None:
        if node is None:
            return None
        value = self.text(node, "reduce")
        if value is not None and value not in REDUCE_VALUES:
            raise self.error(node, "reduce", unknown_name_message("reduce", value,
                                                                  REDUCE_VALUES))
        return value

    def variables(self, root: Mapping) -> dict:
        """``{name: {"start"?, "lower"?, "upper"?}}`` in file order."""
        node = root.get("variables")
        if node is None or is_null(node):
            where = root.key_node("variables") or root
            raise self.error(where, "variables", "no variables declared; list them, e.g. "
                             "'variables: [x, y]' or 'variables: {x: 1.0, y: 2.0}'")
        out: dict = {}
        seen: dict = {}
        if isinstance(node, (Sequence, Mapping)) and \
                len(node.items) > self.limits.max_variables:
            raise InputError(f"{len(node.items):,} variables are declared; the limit is "
                             f"{self.limits.max_variables:,} (max_variables): symbolic "
                             f"derivatives and the dense Hessian grow with the square of the "
                             f"number of variables", **self._where(node, "variables"),
                             kind="limit")
        if isinstance(node, Sequence):
            for i, item in enumerate(node.items):
                name = self.symbol_name(item, f"variables[{i}]")
                if name in seen:
                    raise self.error(item, f"variables.{name}", self._twice(name, seen[name],
                                                                            item))
                seen[name] = item
                self.note(f"variables.{name}", item)
                self.note(f"variables.{name}.start", item)
                out[name] = {}
        elif isinstance(node, Mapping):
            for key, value in node.items:
                name = self.symbol_name(key, f"variables.{key.text}")
                out[name] = self.variable_spec(name, key, value)
        else:
            raise self.error(node, "variables", f"expected a list of names or a mapping, got "
                             f"{describe(node)}; write e.g. 'variables: [x, y]'")
        if not out:
            raise self.error(node, "variables", "no variables declared")
        return out

    @staticmethod
    def _twice(name: str, first: Node, second: Node) -> str:
        if first.line is not None and second.line is not None:
            return f"variable '{name}' is declared twice (lines {first.line} and {second.line})"
        return f"variable '{name}' is declared twice"

    def variable_spec(self, name: str, key: Scalar, value: Node) -> dict:
        field = f"variables.{name}"
        self.note(field, key)
        if isinstance(value, Scalar):
            start = self.number(value, field, allow_null=True)
            # Problem cites variables.x.start for a start outside the bounds.
            self.note_entry(f"{field}.start", key, value)
            return {} if start is None else {"start": self.finite_float(value, field)}
        if not isinstance(value, Mapping):
            raise self.error(value, field, f"expected a start value or a mapping {{start, "
                             f"lower, upper}}, got {describe(value)}")
        self.check_keys(value, VARIABLE_KEYS, "variable field", field)
        spec: dict = {}
        for k, v in value.items:
            sub = f"{field}.{k.text}"
            self.note_entry(sub, k, v)
            if k.text == "start":
                if self.number(v, sub, allow_null=True) is not None:
                    spec["start"] = self.finite_float(v, sub)
                continue
            bound = self.number(v, sub, allow_null=True, allow_inf=True)
            if bound is None:
                continue
            if isinstance(bound, float) and math.isinf(bound):
                # lower: -.inf / upper: .inf mean "no bound"; the other way round is nonsense.
                if (bound < 0) == (k.text == "lower"):
                    continue
                raise self.error(v, sub, f"a {k.text} bound of {v.text} leaves no room for "
                                 f"the variable")
            spec[k.text] = self.finite_float(v, sub)
        if "start" not in spec:
            self.note(f"{field}.start", key)
        return spec

    def parameters(self, node: Node | None, variables: dict) -> dict:
        if node is None or is_null(node):
            return {}
        if not isinstance(node, Mapping):
            raise self.error(node, "parameters", f"expected a mapping of name: number, got "
                             f"{describe(node)}")
        out: dict = {}
        for key, value in node.items:
            field = f"parameters.{key.text}"
            name = self.symbol_name(key, field)
            self.note_entry(field, key, value)
            if name in variables:
                raise self.error(key, field, f"'{name}' is both a variable and a parameter")
            number = self.number(value, field)
            if isinstance(number, int) and not isinstance(number, bool):
                out[name] = number
            else:
                out[name] = self.finite_float(value, field)
        return out

    def constraints(self, node: Node | None, symbols: dict) -> list:
        """Relations parsed with the variables and parameters (data columns excluded)."""
        if node is None or is_null(node):
            return []
        items = node.items if isinstance(node, Sequence) else [node]  # one string: one item
        if isinstance(node, Mapping):
            raise self.error(node, "constraints",
                             "expected a list of relations (each with ==, <= or >=), got a "
                             "mapping; write '- x + y <= 3' lines")
        if len(items) > self.limits.max_constraints:
            raise InputError(f"{len(items):,} constraints are given; the limit is "
                             f"{self.limits.max_constraints:,} (max_constraints)",
                             **self._where(node, "constraints"), kind="limit")
        out = []
        for i, item in enumerate(items):
            field = f"constraints[{i}]"
            self.note(field, item)
            rel = self.expression(item, field, symbols, relation=True)
            # Always-true/false relations go on to Problem, which says so.
            if not isinstance(rel, (sp.core.relational.Relational,
                                    sp.logic.boolalg.BooleanAtom)):
                raise self.error(item, field, "a constraint needs ==, <= or >=")
            # Keep the user's own text: multipliers are keyed by it (SPEC §4).
            out.append((" ".join(str(item.value).split()), rel))
        return out

    def options(self, node: Node | None) -> dict:
        if node is None or is_null(node):
            return {}
        if not isinstance(node, Mapping):
            raise self.error(node, "options", f"expected a mapping of option: value, got "
                             f"{describe(node)}")
        out: dict = {}
        for key, value in node.items:
            field = f"options.{key.text}"
            self.note_entry(field, key, value)
            if key.text == "schedule" and isinstance(value, Mapping):
                out[key.text] = self.schedule(value, field)
            else:
                out[key.text] = self.option_value(value, field)
        return out

    def schedule(self, node: Mapping, field: str) -> dict:
        out: dict = {}
        for key, value in node.items:
            sub = f"{field}.{key.text}"
            self.note_entry(sub, key, value)
            out[key.text] = self.option_value(value, sub)
        return out

    def option_value(self, node: Node, field: str):
        """One scalar (number, bool or string); nan and empty values are refused."""
        if not isinstance(node, Scalar):
            extra = " (or, for schedule, a mapping)" if field == "options.schedule" else ""
            raise self.error(node, field, f"expected a single value: a number, a name or "
                             f"true/false{extra}, got {describe(node)}")
        value = self.scalar(node, field)
        if value is None:
            raise self.error(node, field, "has no value; give one or remove the option")
        if isinstance(value, float) and math.isnan(value):
            raise self.error(node, field, f"expected a number, got {node.text}")
        if isinstance(value, int) and not isinstance(value, bool) and \
                abs(value) > MAX_OPTION_INT:
            shown = node.text if len(node.text) <= 24 else node.text[:20] + "..."
            raise self.error(node, field, f"the integer {shown} is too large; integer "
                             f"options are limited to {MAX_OPTION_INT} (2**63 - 1)")
        return value

    # -- data -----------------------------------------------------------------------
    def data(self, node: Node, variables: dict, parameters: dict, texts: list) -> tuple:
        """The ``data`` block: (plain dict for Problem, {data symbol name: Symbol})."""
        if not isinstance(node, Mapping) or not node.items:
            raise self.error(node, "data", f"expected {{file: name.csv, columns: {{...}}}} or "
                             f"inline columns {{x: [...], y: [...]}}, got {describe(node)}")
        taken = set(variables) | set(parameters)
        if node.key_node("file") is not None:
            return self.data_file(node, taken, texts)
        return self.data_inline(node, taken)

    def data_file(self, node: Mapping, taken: set, texts: list) -> tuple:
        self.check_keys(node, DATA_FILE_KEYS, "data key", "data")
        file_node = node.get("file")
        self.note_entry("data.file", node.key_node("file"), file_node)
        name = self.text(file_node, "data.file", allow_null=False)
        if not name.strip():
            raise self.error(file_node, "data.file", "is empty; give a CSV or .npz file name")
        path = Path(name)
        if not path.is_absolute():
            path = self.base_dir / path
        path = Path(os.path.abspath(path))
        if path.suffix.lower() not in DATA_SUFFIXES:
            raise InputError(f"data files are CSV (.csv) or NumPy (.npz), got '{name}'",
                             **self._where(file_node, "data.file"), kind="data")
        if not path.is_file():
            if path.exists() or path.is_symlink():
                what = "a folder" if path.is_dir() else "not a regular file (a device, a " \
                    "pipe or a broken link)"
                raise InputError(f"data file '{name}' is {what}; give a CSV or .npz file",
                                 **self._where(file_node, "data.file"), kind="data")
            raise InputError(f"data file '{name}' not found (looked for {path})",
                             **self._where(file_node, "data.file"), kind="data")
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
        names = _data_file_names(path)
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
        data = {"file": str(path), "columns": columns}
        return data, {n: sp.Symbol(n, real=True) for n in sorted(names)}

    def data_inline(self, node: Mapping, taken: set) -> tuple:
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
            inline[symbol] = column
        return {"inline": inline}, {n: sp.Symbol(n, real=True) for n in inline}

    def _where(self, node: Node, field: str) -> dict:
        if node.origin is not None:
            return {"file": "--set", "field": field}
        return {"file": self.file, "field": field, "line": node.line, "column": node.column}


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------
def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _usable_symbol(name: str) -> bool:
    return (_KEY_SEGMENT.fullmatch(name) is not None and not keyword.iskeyword(name)
            and name not in RESERVED_NAMES)


def _data_file_names(path: Path) -> set | None:
    """Column names from a CSV header line or an .npz's members; None when unreadable.

    Only the first line (or the zip directory) is read; symgd.io.data loads and checks
    the data itself.
    """
    try:
        if path.suffix.lower() == ".npz":
            with zipfile.ZipFile(path) as z:
                return {n[:-4] for n in z.namelist() if n.endswith(".npy")} or None
        with open(path, encoding="utf-8-sig", newline="") as f:
            line = f.readline(_HEADER_LIMIT)
        row = next(csv.reader([line]), [])
        # An empty header: symgd.io.data says what is wrong with the file when it reads it.
        return {cell.strip() for cell in row if cell.strip()} or None
    except (OSError, UnicodeDecodeError, zipfile.BadZipFile, csv.Error, ValueError):
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


def _exact_parameter(value) -> sp.Expr:
    """A parameter's value as the exact number :class:`symgd.problem.Problem` substitutes
    (an int as an Integer, a float as the Rational of its shortest decimal text)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return sp.Integer(value)
    return sp.Rational(repr(float(value)))
