"""A fast look at how deeply a YAML text nests, before any YAML library parses it.

Why: libyaml (PyYAML's C reader) has its own nesting limit, and since PyYAML 6.0.3 it
speaks first on input such as ``[[[[...`` ("while increasing flow level exceeded maximum
nesting depth"): its scanner reads up to 1024 characters ahead looking for a possible key,
so it meets its limit before the events reach symgd's own check. Other versions have
other limits or none. Scanning the text first makes symgd's limit (``yaml_max_depth``)
the one that speaks, with the same message and place whatever PyYAML is installed.

Depth is counted as the node reader counts it (symgd.io.yaml_nodes): every mapping and
every sequence, block or flow, adds one level, the document's root included. The scan
follows the parts of YAML 1.2 that decide where collections open
(https://yaml.org/spec/1.2.2/, chapters 7 and 8):

- flow context: every ``[`` and ``{`` opens a collection (plain scalars cannot hold
  them there), except inside quoted scalars and ``#`` comments (``#`` after white space);
- block context: a line at column c starting ``- `` opens a sequence at c, and a key
  (``name:`` followed by a space or the end of the line) opens a mapping at c, unless a
  collection of that kind is already open at c; a line less indented than an open
  collection closes it; a key at the column of a sequence closes that sequence (the
  "indentless" sequence under a mapping key); ``[`` or ``{`` opens flow only where a
  value starts; brackets inside a plain value are text;
- the lines of a block scalar (``|``, ``>``), of a multi-line plain value and of a
  quoted scalar are text.

On the YAML that people and YAML writers produce, the scan counts exactly what the node
reader counts (tests/test_problem_file.py checks this on generated documents in every
PyYAML style). On invalid text it may count differently; the node reader then still
checks the depth as it builds the tree, and the syntax error is reported as before. The
cost is one pass of regular expressions, with runs of like lines matched at once: about
0.1 s for 200,000 lines of block mappings or lists (3 MB).
"""
from __future__ import annotations

import re
from typing import NamedTuple

# Characters that matter inside flow collections.
_FLOW_TOKEN = re.compile(r"[\[\]{}\"'#]")
# Lists without brackets, quotes or comments inside, one after another.
_FLAT_ROWS = re.compile(r"(?:\[[^\[\]{}\"'#]*\]\s*,?\s*)+")
# The rest of a quoted scalar after its opening quote, closing quote included.
_SINGLE_REST = re.compile(r"(?:[^']|'')*'")
_DOUBLE_REST = re.compile(r'(?:[^"\\]|\\.)*"', re.S)
_INDENT = re.compile(r" *")
_SPACES = re.compile(r"[ \t]*")
_TOKEN_END = re.compile(r"[^ \t]*")
# A comment inside a plain scalar starts at a '#' after white space.
_COMMENT = re.compile(r"[ \t]#")
# A plain key ends at ':' followed by white space or the end of the line.
_KEY_COLON = re.compile(r":(?:[ \t]|$)")
_DOC_MARKER = re.compile(r"(?:---|\.\.\.)(?=[ \t]|$)", re.M)
# Line breaks other than '\n' that YAML (and PyYAML's readers) accept.
_OTHER_BREAKS = re.compile("\r\n?|[\x85\u2028\u2029]")
# Common block lines settled by one match each: 'name: plain value', 'name:',
# 'name: [flat, list]', '- plain value' and '- [flat, list]', where a plain value holds
# nothing that could open a collection ('-' only before a number).
_NAME = r"[A-Za-z_][A-Za-z0-9_.]*"
_PLAIN_VALUE = r"(?:-(?=[0-9.])|[^-?\[{\"'|>&!#%@`,\s])[^#\n]*"
_ITEM_VALUE = r"(?:-(?=[0-9.])|[^-?\[{\"'|>&!#%@`,:\s])[^#:\n]*"  # no ':', so no key
_FLAT_LIST = r"\[[^\[\]{}\"'#\n]*\][ \t]*"
_SIMPLE_LINE = re.compile(
    rf"( *)(?:{_NAME}:(?:[ \t]+(?:(?P<value>{_PLAIN_VALUE})|(?P<keylist>{_FLAT_LIST})))?"
    rf"|-[ \t]+(?:(?P<item>{_ITEM_VALUE})|(?P<list>{_FLAT_LIST})))\n")
_RUN_LINE = {"value": rf"{_NAME}:[ \t]+{_PLAIN_VALUE}\n", "item": rf"-[ \t]+{_ITEM_VALUE}\n",
             "list": rf"-[ \t]+{_FLAT_LIST}\n"}
_RUNS: dict = {}
_RUN_INDENT_MAX = 64  # one compiled regex per indentation: a handful in real files


def _run_of_lines(indent: int, kind: str):
    """A regex for a run of lines of one kind at column ``indent``: after the first, they
    change nothing open, so one match skips them all."""
    key = (indent, kind)
    if key not in _RUNS:
        _RUNS[key] = re.compile(rf"(?: {{{indent}}}{_RUN_LINE[kind]})*")
    return _RUNS[key]


class TooDeep(NamedTuple):
    """Where the text first nests deeper than the limit (1-based line and column)."""

    depth: int
    line: int
    column: int


class _Found(Exception):
    def __init__(self, depth: int, pos: int):
        super().__init__(depth, pos)
        self.depth, self.pos = depth, pos


def find_too_deep(text: str, limit: int) -> TooDeep | None:
    """The first collection that opens deeper than ``limit`` levels, or None.

    Args:
        text: the YAML text.
        limit: the deepest nesting allowed (the root mapping is level 1).

    Returns:
        A :class:`TooDeep` with the depth reached (``limit + 1``) and the place of the
        bracket, dash or key that opens that collection; None if the text stays within
        the limit.
    """
    if _OTHER_BREAKS.search(text):
        # '\r\n' and '\r' count as one line break each, as YAML counts them.
        text = _OTHER_BREAKS.sub("\n", text)
    try:
        _Scanner(text, limit).run()
    except _Found as found:
        start = text.rfind("\n", 0, found.pos) + 1
        return TooDeep(found.depth, text.count("\n", 0, found.pos) + 1, found.pos - start + 1)
    return None


def deepest(text: str) -> int:
    """The deepest nesting in ``text`` by the same scan (for tests and diagnostics)."""
    if _OTHER_BREAKS.search(text):
        text = _OTHER_BREAKS.sub("\n", text)
    scanner = _Scanner(text, None)
    scanner.run()
    return scanner.deepest


class _Scanner:
    """One pass over the text; ``stack`` holds the open block collections."""

    def __init__(self, text: str, limit: int | None):
        self.text = text if text.endswith("\n") else text + "\n"
        self.limit = limit
        self.stack: list = []        # [column, is_sequence] of open block collections
        self.deepest = 0

    def _level(self, depth: int, pos: int) -> None:
        if depth > self.deepest:
            self.deepest = depth
            if self.limit is not None and depth > self.limit:
                raise _Found(depth, pos)

    def run(self) -> None:
        text, n = self.text, len(self.text)
        stack = self.stack
        simple = _SIMPLE_LINE.match
        # Lines indented more than this belong to a scalar (block, plain or quoted).
        text_above = None
        pos = 0
        while pos < n:
            m = simple(text, pos)
            if m is not None:
                # Fast path for the lines most files are made of.
                indent = len(m.group(1))
                if text_above is not None and indent > text_above:
                    pos = m.end()  # the continuation of a plain value
                    continue
                while stack and stack[-1][0] > indent:
                    stack.pop()
                kind = m.lastgroup
                if kind in ("item", "list"):
                    self._sequence(indent, pos + indent)
                else:
                    self._key(indent, pos + indent)
                if kind in ("list", "keylist"):
                    self._level(len(stack) + 1, m.start(kind))
                # A plain value continues on the lines more indented than its key or dash.
                text_above = indent if kind in ("value", "item") else None
                pos = m.end()
                if kind in _RUN_LINE and indent <= _RUN_INDENT_MAX:
                    pos = _run_of_lines(indent, kind).match(text, pos).end()
                continue
            eol = text.find("\n", pos)
            indent = _INDENT.match(text, pos, eol).end() - pos
            p = pos + indent
            p = _SPACES.match(text, p, eol).end()
            if p == eol or text[p] == "#":  # blank or comment line
                pos = eol + 1
                continue
            if text_above is not None:
                if indent > text_above:
                    pos = eol + 1
                    continue
                text_above = None
            if indent == 0:
                if text[p] == "%":  # a directive
                    pos = eol + 1
                    continue
                marker = _DOC_MARKER.match(text, p, eol)
                if marker is not None:  # a new document starts: nothing is open
                    stack.clear()
                    p = _SPACES.match(text, marker.end(), eol).end()
                    if p == eol or text[p] == "#":
                        pos = eol + 1
                        continue
            while stack and stack[-1][0] > indent:
                stack.pop()
            pos, text_above = self._nodes(p, pos, eol)

    def _nodes(self, p: int, line_start: int, eol: int):
        """Read the nodes that start on one block line at ``p``.

        Returns the position to continue from and the indentation above which the
        following lines are scalar text (or None).
        """
        text, stack = self.text, self.stack
        while True:
            c = text[p]
            column = p - line_start
            if c in "-?" and text[p + 1] in " \t\n":
                if c == "-":
                    self._sequence(column, p)
                else:  # an explicit key: a mapping entry
                    self._key(column, p)
                p = _SPACES.match(text, p + 1, eol).end()
                if p == eol or text[p] == "#":
                    return eol + 1, None
                continue
            if c in "[{":
                return self._flow(p), None
            if c in "'\"":
                end = _quoted_end(text, p)
                if end > eol:  # a quoted scalar over several lines: no key, all text
                    return text.find("\n", end - 1) + 1 or len(text), None
                after = _SPACES.match(text, end, eol).end()
                if text[after] == ":" and text[after + 1] in " \t\n":
                    self._key(column, p)
                    p = _SPACES.match(text, after + 1, eol).end()
                    if p == eol or text[p] == "#":
                        return eol + 1, None
                    continue
                return eol + 1, None
            if c in "|>":  # a block scalar: its lines are more indented than its parent
                return eol + 1, (stack[-1][0] if stack else -1)
            if c in "&!":  # an anchor or a tag before the node (refused later)
                p = _TOKEN_END.match(text, p, eol).end()
                p = _SPACES.match(text, p, eol).end()
                if p == eol or text[p] == "#":
                    return eol + 1, None
                continue
            # A plain scalar: a key if ': ' ends it before any comment, else a value.
            comment = _COMMENT.search(text, p, eol)
            stop = comment.start() if comment is not None else eol
            colon = _KEY_COLON.search(text, p, stop)
            if colon is None:
                return eol + 1, (stack[-1][0] if stack else -1)
            self._key(column, p)
            p = _SPACES.match(text, colon.start() + 1, eol).end()
            if p == eol or text[p] == "#":
                return eol + 1, None

    def _key(self, column: int, pos: int) -> None:
        stack = self.stack
        if stack and stack[-1][0] == column and stack[-1][1]:
            stack.pop()  # a key at the column of an indentless sequence ends it
        if stack and stack[-1][0] == column and not stack[-1][1]:
            return
        stack.append([column, False])
        self._level(len(stack), pos)

    def _sequence(self, column: int, pos: int) -> None:
        stack = self.stack
        if stack and stack[-1][0] == column and stack[-1][1]:
            return
        stack.append([column, True])
        self._level(len(stack), pos)

    def _flow(self, start: int) -> int:
        """Scan a flow collection opening at ``start``; return the next line's start."""
        text, base = self.text, len(self.stack)
        search, flat_rows = _FLOW_TOKEN.search, _FLAT_ROWS.match
        depth = 0
        i = start
        while True:
            m = search(text, i)
            if m is None:
                return len(text)
            j = m.start()
            c = text[j]
            if c in "[{":
                depth += 1
                self._level(base + depth, j)
                rows = flat_rows(text, j) if depth > 1 else None
                if rows is not None:  # rows of inline data, each opened and closed
                    depth -= 1
                    i = rows.end()
                else:
                    i = j + 1
            elif c in "]}":
                depth -= 1
                i = j + 1
                if depth == 0:  # what follows on the line is a comment (or invalid)
                    return text.find("\n", i) + 1
            elif c == "#":
                if text[j - 1] in " \t\n":
                    i = text.find("\n", j)
                else:
                    i = j + 1
            else:  # a quote opens a scalar only where a node starts
                k = j - 1
                while text[k] in " \t\n":
                    k -= 1
                i = _quoted_end(text, j) if text[k] in "[{,:" else j + 1


def _quoted_end(text: str, p: int) -> int:
    """The position after the quoted scalar opening at ``p`` (the text's end if unclosed)."""
    m = (_SINGLE_REST if text[p] == "'" else _DOUBLE_REST).match(text, p + 1)
    return m.end() if m is not None else len(text)
