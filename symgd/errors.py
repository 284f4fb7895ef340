"""Typed errors: bad input is an ``InputError``; everything else is a bug.

The command line turns an ``InputError`` into exit status 2 and a message that
names the file, the field, the line and what is wrong (SPEC §3).
"""
from __future__ import annotations


class InputError(ValueError):
    """The user's problem, options or data are wrong.

    Attributes:
        message: what is wrong, in words, without the location prefix.
        file: the file the input came from, or None for the Python API.
        field: dotted path of the field, e.g. ``variables.x.start``.
        line, column: 1-based position in ``file`` where known.
        kind: a short category for scripts (``input``, ``yaml``, ``expression``,
            ``data``, ``option``, ``domain``, ``limit``, ``unavailable``).
    """

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None,
                 line: int | None = None, column: int | None = None, kind: str = "input"):
        self.message = message
        self.file = None if file is None else str(file)
        self.field = field
        self.line = line
        self.column = column
        self.kind = kind
        super().__init__(self.describe())

    def describe(self) -> str:
        """``file:line:column: field: message``, leaving out what is unknown."""
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
        parts = [p for p in (where, f"field '{self.field}'" if self.field else "") if p]
        return (": ".join(parts) + ": " if parts else "") + self.message

    def located(self, *, file: str | None = None, field: str | None = None,
                line: int | None = None, column: int | None = None) -> "InputError":
        """A copy with missing location parts filled in (known parts are kept)."""
        return InputError(
            self.message,
            file=self.file or file,
            field=self.field or field,
            line=self.line if self.line is not None else line,
            column=self.column if self.column is not None else column,
            kind=self.kind,
        )

    def to_dict(self) -> dict:
        """The ``{"error": {...}}`` payload of SPEC §3."""
        return {"error": {"kind": self.kind, "file": self.file, "field": self.field,
                          "line": self.line, "column": self.column, "message": self.message}}

    def __reduce__(self):  # picklable across the analytic subprocess
        return (_rebuild_input_error, (self.message, self.file, self.field, self.line,
                                       self.column, self.kind))


def _rebuild_input_error(message, file, field, line, column, kind):
    return InputError(message, file=file, field=field, line=line, column=column, kind=kind)


def nearest(name: str, choices) -> str | None:
    """The choice closest to ``name`` (for 'did you mean ...'), or None."""
    import difflib

    match = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return match[0] if match else None


def unknown_name_message(what: str, name: str, valid) -> str:
    """'unknown option 'tl'; did you mean 'tol'? valid: a, b, c'."""
    valid = sorted(str(v) for v in valid)
    guess = nearest(name, valid)
    hint = f"; did you mean '{guess}'?" if guess else ""
    return f"unknown {what} '{name}'{hint} (valid: {', '.join(valid)})"
