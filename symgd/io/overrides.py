"""``--set KEY=VALUE`` overrides (SPEC §3), applied to a problem file's node tree.

An override is read as YAML 1.2 and set in the tree before the schema is checked, so
the value is checked exactly as if the file held it; errors name ``--set`` and the
path instead of a line.
"""
from __future__ import annotations

import re

from symgd.errors import InputError, unknown_name_message
from symgd.io.keys import TOP_KEYS
from symgd.io.yaml_nodes import Mapping, Scalar, Sequence, describe, is_null, read_yaml

_KEY_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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

