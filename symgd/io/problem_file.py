"""Problem files: YAML text -> schema -> the fields of a Problem (SPEC §1, §3).

The YAML is read as a node tree by :mod:`symgd.io.yaml_nodes` (YAML 1.2 scalars, no
tags, no aliases, line numbers everywhere); ``--set KEY=VALUE`` overrides are applied
to that tree (:mod:`symgd.io.overrides`); then the schema is checked node by node
(:mod:`symgd.io.schema`, the ``data`` block in :mod:`symgd.io.schema_data`), so every
error names the file, the dotted field (``variables.x.start``, ``options.tol``,
``constraints[1]``) and the 1-based line and column. Expressions go through the safe
parser (:func:`symgd.io.expr.parse_expression`), never through ``sympify``.

Schema (top level)::

    name, description            strings (a number is taken as its text)
    variables                    [x, y] | {x: -1.2, y: 1} | {x: {start, lower, upper}}
                                 | {w: {shape: n, start, lower, upper}} (schema_shape)
    parameters                   {name: number}
    minimize | maximize          expression (exactly one, unless data + model)
    constraints                  [relation, ...] using ==, <= or >=
    method                       string
    options                      {name: scalar}; schedule: a string or a mapping
    data                         {file: path, columns: {symbol: column}} | {col: [numbers]}
    model, target                expressions (data fits)
    loss                         string;  reduce: mean | sum

:func:`read` and :func:`read_text` return :class:`~symgd.io.schema.ProblemFields`;
:func:`symgd.problem.load` and :func:`symgd.problem.load_text` build the Problem from
them (io does not import :mod:`symgd.problem`: imports point from io to problem).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence as SequenceType

from symgd.errors import InputError
from symgd.io.keys import DATA_FILE_KEYS, FIT_ONLY_KEYS, REDUCE_VALUES, TOP_KEYS, VARIABLE_KEYS
from symgd.io.limits import LoadLimits
from symgd.io.overrides import apply_override, parse_override
from symgd.io.schema import MAX_OPTION_INT, ProblemFields, SchemaReader
from symgd.io.schema_data import MAX_LISTED_COLUMNS
from symgd.io.yaml_nodes import Mapping, describe, is_null, read_yaml

__all__ = ["read", "read_text", "ProblemFields", "LoadLimits",
           "apply_override", "parse_override", "TOP_KEYS", "VARIABLE_KEYS", "DATA_FILE_KEYS",
           "FIT_ONLY_KEYS", "REDUCE_VALUES", "MAX_LISTED_COLUMNS", "MAX_OPTION_INT"]


def read(path, overrides: SequenceType[str] = (), *,
         limits: "LoadLimits | None" = None) -> ProblemFields:
    """Read a problem file (SPEC §1) into the fields of a Problem.

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
    return read_text(text, file=source, base_dir=p.parent, overrides=overrides,
                     limits=limits)


def read_text(text: str, *, file: str = "<string>", base_dir=None, overrides=(),
              limits: "LoadLimits | None" = None) -> ProblemFields:
    """The fields of a Problem from problem-file text.

    Args:
        text: the YAML text.
        file: the name used in error messages and as ``Problem.source``; a real file
            name also gives the default ``name`` (its stem).
        base_dir: folder that a relative ``data.file`` is relative to (default: the
            folder of ``file`` when it names one, else the working directory).
        overrides: ``KEY=VALUE`` strings (``--set``), applied in order.
        limits: the reader's limits (:class:`LoadLimits`).

    Raises:
        InputError: see :func:`read`.
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
    return SchemaReader(file, Path(base_dir), default_name, limits).problem(root)


def _is_real_file_name(file) -> bool:
    return bool(file) and not str(file).startswith("<")
