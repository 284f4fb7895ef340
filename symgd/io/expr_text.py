"""The first two stages of a parse: checks on the raw text, then Python's own parser.

Before Python sees the text it is checked cheaply (length, ASCII, control characters,
``#``, bracket nesting, digit runs), so that nothing hostile reaches :func:`ast.parse`;
then :func:`ast.parse` in ``eval`` mode builds the syntax tree, and its syntax errors
are turned into messages that say what to write instead. :class:`SourceText` holds the
text and where errors point; the tree walk (:mod:`symgd.io.parser`) extends it.
"""
from __future__ import annotations

import ast
import re
import sys
import threading
import warnings

from symgd.errors import InputError
from symgd.io.limits import ExprLimits

# a decimal digit run that starts a number (not inside a name, not after a '.')
_DIGIT_RUN_RE = re.compile(r"(?<![A-Za-z0-9_.])[0-9][0-9_]*")
_LONE_EQUALS_RE = re.compile(r"(?<![=<>!:])=(?!=)")

# Characters people paste from documents, with what to write instead.
UNICODE_HINTS = {
    "\u2212": "-", "\u2013": "-", "\u2014": "-", "\u00d7": "*", "\u00b7": "*", "\u22c5": "*",
    "\u2219": "*", "\u00f7": "/", "\u2215": "/", "\u00b2": "**2", "\u00b3": "**3",
    "\u03c0": "pi", "\u221a": "sqrt(...)", "\u2264": "<=", "\u2265": ">=",
    "\u00a0": "a plain space",
}


def _python_parse(text: str) -> ast.Expression:
    with warnings.catch_warnings():
        # "invalid decimal literal" and the like: Python warns on stderr before the
        # SyntaxError that the parser turns into a message of its own.
        warnings.simplefilter("ignore", SyntaxWarning)
        return ast.parse(text, mode="eval")


_DEEP_STACK_BYTES = 256 * 1024 * 1024  # reserved, not used, unless the tree is that deep


def _python_parse_deep(text: str, max_nodes: int) -> ast.Expression:
    """:func:`ast.parse` on a thread with a large stack and a recursion limit that fits a
    syntax tree as deep as ``max_nodes`` (Python's own limit stops at about 3,000 levels,
    and raising it on the main thread's 8 MB stack could crash the interpreter)."""
    out: dict = {}

    def work():
        old = sys.getrecursionlimit()
        try:
            sys.setrecursionlimit(max(old, 4 * max_nodes + 1000))
            out["tree"] = _python_parse(text)
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            out["error"] = exc
        finally:
            sys.setrecursionlimit(old)

    previous = threading.stack_size(_DEEP_STACK_BYTES)
    try:
        thread = threading.Thread(target=work, name="symgd-parse", daemon=True)
        thread.start()
    finally:
        threading.stack_size(previous)
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["tree"]


class SourceText:
    """The text of one expression: cleaned, parsed by Python, and located in errors."""

    def __init__(self, text: str, limits: ExprLimits, where: dict):
        self.raw = text
        self.limits = limits
        self.where = where
        self.text = ""
        self.shift = 0  # characters stripped from the front of the raw text

    # -- errors ---------------------------------------------------------------------------
    def fail(self, message: str, node: ast.AST | None = None, *, at: int | None = None,
             kind: str = "expression"):
        """Raise the InputError; ``node`` or ``at`` (0-based, in the cleaned text) locate it;
        ``kind="limit"`` for a size limit."""
        if node is not None and getattr(node, "col_offset", None) is not None:
            at = node.col_offset
        if at is not None:
            message = f"{message} (at character {at + self.shift + 1})"
        raise InputError(message, kind=kind, **self.where)

    def segment(self, node: ast.AST, limit: int = 40) -> str:
        """The source text of ``node``, shortened for messages."""
        start = getattr(node, "col_offset", None)
        end = getattr(node, "end_col_offset", None)
        if start is None or end is None:
            return "this part"
        seg = self.text[start:end]
        return seg if len(seg) <= limit else seg[: limit - 3] + "..."

    # -- stage 1: text checks before Python sees the text -----------------------------------
    def clean(self) -> str:
        text, lim = self.raw, self.limits
        if len(text) > lim.max_length:
            self.fail(f"the expression is {len(text):,} characters long; the limit is "
                      f"{lim.max_length:,}")
        if not text.isascii():
            i, ch = next((i, c) for i, c in enumerate(text) if ord(c) > 127)
            hint = UNICODE_HINTS.get(ch)
            self.fail(f"non-ASCII character {ch!r} (U+{ord(ch):04X}) in the expression"
                      + (f"; write {hint} instead" if hint else
                         "; names and operators use ASCII only"), at=i)
        bad = re.search(r"[\x00-\x08\x0e-\x1f\x7f]", text)
        if bad is not None:
            self.fail(f"control character U+{ord(bad.group()):04X} in the expression",
                      at=bad.start())
        if "#" in text:
            # Python would read the rest as a comment and silently drop it ("x # + y" is x).
            self.fail("'#' is not allowed in an expression (Python would ignore everything "
                      "after it); put YAML comments outside the quotes", at=text.index("#"))
        # Newlines may come from YAML block scalars: read them as spaces (same offsets).
        text = re.sub(r"[\t\n\r\f\v]", " ", text)
        stripped = text.lstrip(" ")
        self.shift = len(text) - len(stripped)
        text = stripped.rstrip(" ")
        self.text = text
        if not text:
            self.fail("the expression is empty")
        depth = 0
        for i, ch in enumerate(text):
            if ch in "([{":
                depth += 1
                if depth > lim.max_depth:
                    self.fail(f"brackets are nested more than {lim.max_depth} levels deep",
                              at=i)
            elif ch in ")]}" and depth > 0:
                depth -= 1
        for m in _DIGIT_RUN_RE.finditer(text):
            digits = len(m.group()) - m.group().count("_")
            if digits > lim.max_int_digits:
                self.fail(f"a number literal has {digits:,} digits; the limit is "
                          f"{lim.max_int_digits:,}", at=m.start())
        return text

    # -- stage 2: Python's parser ---------------------------------------------------------
    def parse_ast(self) -> ast.Expression:
        try:
            try:
                return _python_parse(self.text)
            except RecursionError:
                # A long flat chain (a + b + ... with ~3,000 terms) is as deep as it is long
                # in Python's syntax tree; within max_nodes, parse it again on a thread
                # with room for that depth.
                return _python_parse_deep(self.text, self.limits.max_nodes)
        except SyntaxError as exc:  # IndentationError included
            self._syntax_error(exc)
        except RecursionError:
            self.fail("the expression is too long or too deeply nested to parse; group long "
                      "sums or products with parentheses, e.g. (a + b + ...) + (c + d + ...)")
        except MemoryError:
            self.fail("the expression is too deeply nested or too complex to parse (long "
                      "runs of '-' or '**'?)")
        except (ValueError, OverflowError) as exc:
            self.fail(f"the expression cannot be parsed: {exc}")
        raise AssertionError("unreachable")  # pragma: no cover

    def _syntax_error(self, exc: SyntaxError):
        msg = str(exc.msg or "invalid syntax")
        at = exc.offset - 1 if isinstance(exc.offset, int) and exc.offset > 0 else None
        if at is not None:
            at = min(at, len(self.text))
        if "too many nested parentheses" in msg:
            self.fail("brackets are nested too deeply (Python allows fewer than 200 levels)",
                      at=at)
        if "Exceeds the limit" in msg:
            self.fail("a number literal has too many digits", at=at)
        arrow = re.search(r"=[<>]", self.text)
        if arrow is not None:
            self.fail(f"write {arrow.group()[::-1]} instead of {arrow.group()}", at=arrow.start())
        eq = _LONE_EQUALS_RE.search(self.text)
        if eq is not None:
            self.fail("'=' is not allowed; use == for an equality constraint", at=eq.start())
        if "invalid decimal literal" in msg or "invalid imaginary literal" in msg:
            self.fail("invalid number; for a product write 2*x, not 2x", at=at)
        if "leading zeros" in msg:
            self.fail("a number cannot start with 0 (write 10, not 010)", at=at)
        if "forgot a comma" in msg:
            self.fail("two terms with no operator between them; for a product write a*b, "
                      "not a b", at=at)
        if at is not None and re.search(r"[A-Za-z0-9_.)\]]\s+\Z", self.text[:at]) \
                and re.match(r"[A-Za-z0-9_.(]", self.text[at:]):
            self.fail("two terms with no operator between them; for a product write a*b, "
                      "not a b", at=at)
        if msg.startswith("invalid syntax"):
            self.fail("invalid syntax", at=at)
        self.fail(f"invalid syntax: {msg}", at=at)
