"""Safe YAML reading at the node level, with YAML 1.2 core-schema scalars.

PyYAML's ``safe_load`` follows YAML 1.1: ``1e-8`` is a string, ``010`` is eight,
``12:30`` is 750, ``on``/``yes`` are booleans (so ``{on: 4, yes: 7}`` is one entry),
duplicate keys silently keep the last value, and aliases share objects (billion
laughs). This module builds its own small tree straight from PyYAML's *event*
stream instead, so that nothing is ever constructed from a tag, every node keeps its
1-based line and column, and scalars are read by the YAML 1.2 core schema
(https://yaml.org/spec/1.2.2/#1032-tag-resolution):

- null: ``null``, ``Null``, ``NULL``, ``~`` or empty;
- bool: ``true``/``false`` (also ``True``, ``TRUE``, ...);
- int: ``[-+]?[0-9]+`` (decimal, so ``010`` is ten), ``0o[0-7]+``, ``0x[0-9a-fA-F]+``;
- float: ``[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?``, ``[-+]?.inf``, ``.nan``;
- everything else, and every quoted or block scalar, is a string.

Refused while reading (an ``InputError`` with kind ``yaml``): anchors, aliases and
merge keys, explicit tags (``!!python/...``, ``!!binary``, ``!custom``, ``!``), keys that
are not strings, keys YAML 1.1 reads as booleans or null (``on``, ``off``, ``yes``,
``no``, ``true``, ``false``, ``null``, ``~`` in any case), duplicate keys, nesting
deeper than :data:`MAX_DEPTH`, more than :data:`MAX_NODES` values (scalars, lists and
mappings together), more than one document, an empty document and text longer than
:data:`MAX_BYTES`. Reading stops at the first problem, so a hostile file costs no more
than the text up to it (about 2.5 microseconds per value: 0.25 s at the node limit).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field as dc_field

import yaml

from symgd.errors import InputError
from symgd.io.limits import MAX_BYTES, MAX_DEPTH, MAX_NODES  # noqa: F401 (re-exported)
from symgd.io.yaml_prescan import find_too_deep

# YAML 1.2 core schema (see the module docstring); [0-9] rather than \d so that
# non-ASCII digits stay strings.
_NULL = re.compile(r"null|Null|NULL|~|")
_BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")
_INT10 = re.compile(r"[-+]?[0-9]+")
_INT8 = re.compile(r"0o[0-7]+")
_INT16 = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NAN = re.compile(r"\.(nan|NaN|NAN)")

# Plain keys that YAML 1.1 tools (PyYAML's safe_load, old configs) read as booleans or
# null: accepting them would make the same file mean different things elsewhere.
YAML11_TRAP_KEYS = frozenset({"on", "off", "yes", "no", "true", "false", "null", "~"})


@dataclass
class Node:
    """Base of the tree: where the node starts and where it came from.

    ``line`` and ``column`` are 1-based (None for nodes made from ``--set`` values);
    ``origin`` is None for the file itself, else the ``--set KEY=VALUE`` text.
    """

    line: int | None
    column: int | None
    origin: str | None = None


@dataclass
class Scalar(Node):
    """A scalar: its source ``text`` and ``style`` (None plain, ``'``/``"`` quoted,
    ``|``/``>`` block)."""

    text: str = ""
    style: str | None = None

    @property
    def plain(self) -> bool:
        return self.style is None

    @property
    def value(self):
        """The YAML 1.2 core-schema value: None, bool, int, float or str."""
        return scalar_value(self)


@dataclass
class Sequence(Node):
    """A YAML sequence (block ``- a`` or flow ``[a, b]``)."""

    items: list = dc_field(default_factory=list)


@dataclass
class Mapping(Node):
    """A YAML mapping with string keys, in file order.

    ``items`` is a list of ``(key Scalar, value Node)`` pairs; keys are unique.
    """

    items: list = dc_field(default_factory=list)

    def keys(self) -> list:
        return [k.text for k, _ in self.items]

    def get(self, key: str):
        """The value node of ``key``, or None."""
        for k, v in self.items:
            if k.text == key:
                return v
        return None

    def key_node(self, key: str):
        """The key node of ``key``, or None."""
        for k, _ in self.items:
            if k.text == key:
                return k
        return None

    def set(self, key: Scalar, value: Node) -> None:
        """Replace the value of ``key.text`` (keeping the old key node) or append it."""
        for i, (k, _) in enumerate(self.items):
            if k.text == key.text:
                self.items[i] = (k, value)
                return
        self.items.append((key, value))


def scalar_value(node: Scalar):
    """Interpret a scalar by the YAML 1.2 core schema; quoted and block scalars are str.

    Raises:
        InputError: an integer too long for Python to convert (more than 4300 digits).
    """
    text = node.text
    if not node.plain:
        return text
    if _NULL.fullmatch(text):
        return None
    if _BOOL.fullmatch(text):
        return text.lower() == "true"
    try:
        if _INT10.fullmatch(text):
            return int(text, 10)
        if _INT8.fullmatch(text):
            return int(text[2:], 8)
        if _INT16.fullmatch(text):
            return int(text[2:], 16)
    except ValueError:  # Python refuses int() of more than 4300 digits
        raise InputError(f"the integer starting {text[:20]}... has too many digits",
                         line=node.line, column=node.column, kind="yaml") from None
    if _FLOAT.fullmatch(text):
        return float(text)  # '1e999' becomes inf: refused where a finite number is needed
    if _INF.fullmatch(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN.fullmatch(text):
        return math.nan
    return text


def is_null(node) -> bool:
    """True for a plain null scalar (``null``, ``~`` or nothing)."""
    return isinstance(node, Scalar) and node.plain and _NULL.fullmatch(node.text) is not None


def describe(node: Node) -> str:
    """'a string 'abc'', 'the number 5', 'the boolean true', 'a list', ... for messages."""
    if isinstance(node, Mapping):
        return "a mapping"
    if isinstance(node, Sequence):
        return "a list"
    try:
        value = scalar_value(node)
    except InputError:  # an over-long integer
        return f"the number {node.text[:20]}..."
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"the boolean {node.text}"
    if isinstance(value, (int, float)):
        return f"the number {node.text}"
    shown = value if len(value) <= 60 else value[:57] + "..."
    return f"a string {shown!r}"


# How PyYAML (libyaml since PyYAML 6.0.3) words a refusal for its own nesting limit;
# only used to recognise it, never shown.
_NESTING = re.compile(r"nest", re.I)


class _LibraryTooDeep(Exception):
    """The YAML library refused the text for its own nesting limit."""

    def __init__(self, loader_class, mark):
        super().__init__()
        self.loader_class, self.mark = loader_class, mark


class _Reader:
    """Turns PyYAML events into a :class:`Node` tree, refusing what YAML must not do here."""

    def __init__(self, *, file: str | None, origin: str | None, max_depth: int,
                 max_nodes: int = MAX_NODES):
        self.file = file
        self.origin = origin
        self.max_depth = max_depth
        self.max_nodes = max_nodes

    # -- errors ---------------------------------------------------------------------
    def fail(self, message: str, mark=None, path: str | None = None) -> InputError:
        if self.origin is not None:
            return InputError(f"{message} (in the value of --set {self.origin})",
                              file="--set", field=path or None, kind="yaml")
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        return InputError(message, file=self.file, field=path or None, line=line,
                          column=column, kind="yaml")

    def too_deep(self, line: int | None, column: int | None, path: str | None = None):
        """symgd's own nesting refusal, whichever check (pre-scan, events) meets it."""
        hint = "" if self.origin is not None else \
            f"; raise the limit with --limit yaml_max_depth={2 * self.max_depth} if you must"
        mark = None if line is None else yaml.Mark(self.file, 0, line - 1, column - 1,
                                                   None, None)
        return self.fail(f"the YAML is nested more than {self.max_depth} levels deep "
                         f"(limit: yaml_max_depth){hint}", mark, path)

    def pos(self, mark):
        if self.origin is not None:
            return None, None
        return mark.line + 1, mark.column + 1

    # -- reading --------------------------------------------------------------------
    def read(self, text: str) -> Node | None:
        deep = find_too_deep(text, self.max_depth)
        if deep is not None:
            raise self.too_deep(deep.line, deep.column)
        try:
            return self._read(text, getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader)
        except _LibraryTooDeep as err:
            # The pre-scan found nothing deeper than yaml_max_depth, yet the library
            # refused: its own limit is lower (libyaml's is 1000 levels). PyYAML's pure-
            # Python reader has none, so symgd's limit decides there.
            if err.loader_class is yaml.SafeLoader:
                raise self.fail(f"the YAML is nested more deeply than PyYAML can read "
                                f"(its own limit is below yaml_max_depth = "
                                f"{self.max_depth})", err.mark) from None
        try:
            return self._read(text, yaml.SafeLoader)
        except _LibraryTooDeep as err:
            raise self.fail(f"the YAML is nested more deeply than PyYAML can read (its "
                            f"own limit is below yaml_max_depth = {self.max_depth})",
                            err.mark) from None

    def _read(self, text: str, loader_class) -> Node | None:
        loader = None
        try:
            loader = loader_class(text)  # the pure-Python reader checks characters here
            return self._read_events(loader)
        except UnicodeEncodeError as err:  # lone surrogates in a Python str (C reader)
            line = text.count("\n", 0, err.start) + 1
            raise InputError("not valid YAML: the text holds an invalid character "
                             f"(U+{ord(text[err.start]):04X})",
                             file="--set" if self.origin is not None else self.file,
                             line=None if self.origin is not None else line,
                             kind="yaml") from None
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            if _NESTING.search(str(err.problem)):
                raise _LibraryTooDeep(loader_class, mark) from None
            what = " ".join(p for p in (err.context, err.problem) if p) or "not valid YAML"
            raise self.fail(f"not valid YAML: {what}", mark) from None
        except yaml.reader.ReaderError as err:  # control characters and the like
            mark = yaml.Mark(self.file, err.position, text.count("\n", 0, err.position),
                             err.position - text.rfind("\n", 0, err.position) - 1, None, None)
            char = err.character if isinstance(err.character, str) else chr(err.character)
            raise self.fail(f"not valid YAML: the character U+{ord(char):04X} is not "
                            f"allowed ({err.reason})", mark) from None
        except yaml.YAMLError as err:
            raise self.fail(f"not valid YAML: {err}") from None
        finally:
            if loader is not None:
                loader.dispose()

    def _read_events(self, loader) -> Node | None:
        root = None
        documents = 0
        # Each stack entry: [container, path, pending key Scalar or None, seen keys dict]
        stack: list = []
        scalar_event = yaml.ScalarEvent
        budget = self.max_nodes  # values left before the file is refused
        while True:
            event = loader.get_event()
            if (type(event) is scalar_event and stack and event.anchor is None
                    and event.tag is None):
                # The hot path (every number of inline data): a plain, untagged scalar.
                mark = event.start_mark
                budget -= 1
                if budget < 0:
                    raise self._too_many(mark, stack)
                node = Scalar(None, None, self.origin, event.value, event.style or None)
                if self.origin is None:
                    node.line, node.column = mark.line + 1, mark.column + 1
                self._attach(stack, node, mark)
                continue
            if isinstance(event, yaml.StreamEndEvent):
                return root
            if isinstance(event, yaml.StreamStartEvent):
                continue
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise self.fail("a problem file holds one YAML document; remove the "
                                    "second '---' and what follows, or split the file",
                                    event.start_mark)
                if event.version is not None and tuple(event.version) != (1, 2):
                    raise self.fail(f"symgd reads YAML 1.2; remove the %YAML "
                                    f"{event.version[0]}.{event.version[1]} directive",
                                    event.start_mark)
                if event.tags:
                    raise self.fail("%TAG directives are not allowed (tags are not "
                                    "allowed)", event.start_mark)
                continue
            if isinstance(event, yaml.DocumentEndEvent):
                continue
            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                node = stack.pop()[0]
                if not stack:
                    root = node
                else:
                    self._attach(stack, node, event.start_mark)
                continue

            path = self._child_path(stack)
            if isinstance(event, yaml.AliasEvent):
                raise self.fail(f"anchors and aliases are not allowed (found the alias "
                                f"*{event.anchor}); write the value out in full",
                                event.start_mark, path)
            if event.anchor is not None:
                raise self.fail(f"anchors and aliases are not allowed (found the anchor "
                                f"&{event.anchor}); write the value out in full",
                                event.start_mark, path)
            if event.tag is not None:
                # Refused before anything is built from it: no tag is ever resolved.
                tag = event.tag.replace("tag:yaml.org,2002:", "!!")
                raise self.fail(f"YAML tags are not allowed (found {tag!r}); write a "
                                f"plain value, quoted if it must be a string",
                                event.start_mark, path)
            line, column = self.pos(event.start_mark)
            budget -= 1
            if budget < 0:
                raise self._too_many(event.start_mark, stack)
            if isinstance(event, yaml.ScalarEvent):
                node = Scalar(line, column, self.origin, event.value, event.style or None)
                if not stack:
                    return self._only_scalar(loader, node)
                self._attach(stack, node, event.start_mark)
                continue
            # A mapping or a sequence opens.
            if len(stack) >= self.max_depth:  # the pre-scan's lower bound missed it
                line, column = self.pos(event.start_mark)
                raise self.too_deep(line, column, path)
            if stack and stack[-1][2] is None and isinstance(stack[-1][0], Mapping):
                raise self.fail("a key must be a plain name, not a list or a mapping",
                                event.start_mark, path)
            node = (Mapping if isinstance(event, yaml.MappingStartEvent) else Sequence)(
                line, column, self.origin)
            stack.append([node, path, None, {}])

    def _too_many(self, mark, stack) -> InputError:
        return self.fail(f"the YAML holds more than {self.max_nodes:,} values (limit: "
                         f"yaml_max_nodes); put large data in a CSV or .npz file",
                         mark, self._child_path(stack))

    def _only_scalar(self, loader, node: Scalar) -> Scalar:
        """A document that is one scalar: drain the stream (catching a second document)."""
        while True:
            event = loader.get_event()
            if isinstance(event, yaml.StreamEndEvent):
                return node
            if isinstance(event, yaml.DocumentStartEvent):
                raise self.fail("a problem file holds one YAML document; remove the "
                                "second '---' and what follows", event.start_mark)

    @staticmethod
    def _child_path(stack) -> str:
        """Dotted path of the node about to be read (for error fields)."""
        if not stack:
            return ""
        container, path, pending, _ = stack[-1]
        if isinstance(container, Sequence):
            return f"{path}[{len(container.items)}]"
        if pending is None:  # this node is a key: its path is the key itself
            return path
        return f"{path}.{pending.text}" if path else pending.text

    def _attach(self, stack, node: Node, mark) -> None:
        entry = stack[-1]
        container = entry[0]
        if isinstance(container, Sequence):
            container.items.append(node)
            return
        if entry[2] is None:  # node is a key
            entry[2] = self._check_key(node, entry, mark)
            return
        container.items.append((entry[2], node))
        entry[2] = None

    def _check_key(self, key: Node, entry, mark) -> Scalar:
        """Keys are strings, unique, and not words YAML 1.1 would read as bool or null."""
        _, path, _, seen = entry
        if not isinstance(key, Scalar):
            raise self.fail("a key must be a plain name, not a list or a mapping", mark, path)
        where = f"{path}.{key.text}" if path else key.text
        if key.plain:
            if key.text == "<<":
                raise self.fail("anchors and aliases are not allowed (found the merge key "
                                "'<<'); write the entries out in full", mark, where)
            if key.text.lower() in YAML11_TRAP_KEYS or key.text == "":
                raise self.fail(f"the key '{key.text}' is read as a boolean or null by "
                                f"YAML 1.1 tools; quote it (\"{key.text}\") if you mean the "
                                f"name", mark, where)
            value = scalar_value(key)
            if not isinstance(value, str):
                raise self.fail(f"keys must be names, got {describe(key)}; quote it if "
                                f"you mean the text", mark, where)
        if key.text in seen:
            first = seen[key.text]
            lines = (f" (lines {first.line} and {key.line})"
                     if first.line is not None and key.line is not None else "")
            raise self.fail(f"duplicate key '{key.text}'{lines}; keep only one", mark, where)
        seen[key.text] = key
        return key


def read_yaml(text: str, *, file: str | None = None, origin: str | None = None,
              max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES,
              max_nodes: int = MAX_NODES) -> Node | None:
    """Read one YAML document into a :class:`Node` tree (None for an empty document).

    Args:
        text: the YAML text.
        file: the file name for error messages.
        origin: for ``--set`` values, the ``KEY=VALUE`` text; errors then name
            ``--set`` instead of a file and line.
        max_depth: deepest nesting of mappings and sequences allowed.
        max_bytes: longest text allowed, in UTF-8 bytes.
        max_nodes: most values (scalars, lists and mappings, keys included) allowed.

    Raises:
        InputError: (kind ``yaml``) for anything in the module docstring's list.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    size = len(text) if len(text) * 4 <= max_bytes else len(text.encode("utf-8", "replace"))
    if size > max_bytes:
        raise _Reader(file=file, origin=origin, max_depth=max_depth).fail(
            f"the YAML text is {size / 1e6:.1f} MB, more than the {max_bytes / 1e6:.0f} MB "
            f"limit; put large data in a CSV or .npz file")
    return _Reader(file=file, origin=origin, max_depth=max_depth,
                   max_nodes=max_nodes).read(text)
