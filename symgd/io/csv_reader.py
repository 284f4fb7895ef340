"""CSV data files: UTF-8 (a leading byte-order mark is stripped), a header row of unique,
non-empty names, the same number of fields on every row, and finite numbers (as
Python's ``float`` reads them) in every column that the problem uses (SPEC §1).

Blank lines are skipped. Columns the problem does not use are not converted, so they
may hold text. :func:`read_header` is the one reader of a header line, used both by
the data reader and by the problem-file loader looking for column names; its cap is
:data:`symgd.io.limits.MAX_HEADER_BYTES`.
"""
from __future__ import annotations

import codecs
import csv
import os
from pathlib import Path

import numpy as np

from symgd.errors import InputError
from symgd.io.data_checks import check_file, check_unique, data_error, missing_column
from symgd.io.limits import DEFAULT_DATA_LIMITS, DataLimits

# Smaller files are read by the csv module alone: it takes a few milliseconds over them,
# less than loading numba and the compiled reader (symgd.io.csv_fast) into a process
# that has not loaded them yet (about 0.4 s).
FAST_MIN_BYTES = 64 * 1024


class open_csv:
    """Open a CSV as UTF-8 text (BOM stripped), for use in ``with``."""

    def __init__(self, p: Path):
        self.p = p

    def __enter__(self):
        try:
            self.fh = open(self.p, encoding="utf-8-sig", newline="", errors="strict")
        except OSError as err:
            raise data_error(f"cannot read it: {err.strerror or err}", self.p) from None
        return self.fh

    def __exit__(self, *exc):
        self.fh.close()
        return False


def read_header(fh, p: Path, limits: DataLimits = DEFAULT_DATA_LIMITS):
    """(names, raw header length) from the first line of an open CSV, bounded in size
    (``limits.max_header_bytes``) and columns (``limits.max_columns``).

    Raises:
        InputError: a header too long or too wide, blank, unreadable, not UTF-8, with
            an empty or a repeated name; located at line 1 of the file.
    """
    max_bytes, max_columns = limits.max_header_bytes, limits.max_columns
    try:
        line = fh.readline(max_bytes + 1)
    except UnicodeDecodeError:
        line, col, byte = utf8_error(p)
        raise data_error(f"the file is not UTF-8 text (byte 0x{byte:02x})", p, line=line,
                         column=col) from None
    if len(line) > max_bytes:
        raise data_error(f"the header line is longer than {max_bytes} characters "
                         "(limit); is this a CSV file with a header row?", p, line=1,
                         kind="limit")
    if line.count(",") + 1 > max_columns:
        raise data_error(f"the header has more than {max_columns} columns (limit)", p,
                         line=1, kind="limit")
    if not line.strip():
        raise data_error("the first line is blank; expected a header row of column names", p,
                         line=1)
    try:
        cells = next(csv.reader([line]))
    except csv.Error as err:
        raise data_error(f"cannot read the header: {err}", p, line=1) from None
    names = [c.strip() for c in cells]
    for i, nm in enumerate(names):
        if not nm:
            raise data_error(f"field {i + 1} of the header has no name; every column needs "
                             "a unique name", p, line=1, column=i + 1)
    check_unique(names, str(p), line=1)
    return names, len(line)


def header_names(p: Path, limits: DataLimits = DEFAULT_DATA_LIMITS) -> list:
    """The column names of a CSV file: its header only is read (:func:`read_header`)."""
    check_file(p)
    with open_csv(p) as fh:
        return read_header(fh, p, limits)[0]


def _bounded_lines(fh, p: Path, max_columns: int):
    """The file's lines, refusing one with more fields than ``max_columns`` before the
    csv module splits it (10 million fields would take a gigabyte as Python strings)."""
    for k, line in enumerate(fh, start=2):
        if line.count(",") >= max_columns:
            raise data_error(f"this row has more than {max_columns} fields (limit)", p,
                             line=k)
        yield line


def read_csv(p: Path, wanted: dict, limits: DataLimits = DEFAULT_DATA_LIMITS):
    """Columns ``wanted.values()`` of a CSV as float arrays, the row count, and the
    line number of each row.

    The rows of a file of :data:`FAST_MIN_BYTES` or more are read by
    :mod:`symgd.io.csv_fast` when they keep to its plain grammar (the same result,
    several times faster); the csv module here reads every other file."""
    check_file(p)
    file = str(p)
    with open_csv(p) as fh:
        names, header_chars = read_header(fh, p, limits)
        index = {nm: i for i, nm in enumerate(names)}
        for sym, col in wanted.items():
            if col not in index:
                raise missing_column(col, sym, names, file, "data")
        picks = sorted({index[c] for c in wanted.values()})
        # The compiled reader takes the plain case or refuses it; what it refuses is
        # read below, which alone words the errors. Imported here: it loads numba.
        if os.fstat(fh.fileno()).st_size >= FAST_MIN_BYTES:
            from symgd.io import csv_fast
            fast = csv_fast.read_fast(p, names, picks, header_chars, limits)
            if fast is not None:
                return fast
        texts = {i: [] for i in picks}
        lines = []
        ncols = len(names)
        old_limit = csv.field_size_limit()
        csv.field_size_limit(limits.max_field_chars)
        reader = csv.reader(_bounded_lines(fh, p, limits.max_columns), strict=True)
        try:
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip() and ncols > 1):
                    continue  # blank line
                if len(row) != ncols:
                    ln = reader.line_num + 1
                    raise data_error(f"this row has {len(row)} fields but the header has "
                                     f"{ncols}; every row needs one value per column", p,
                                     line=ln, column=min(len(row), ncols) + 1)
                for i in picks:
                    texts[i].append(row[i])
                lines.append(reader.line_num + 1)
        except csv.Error as err:
            raise data_error(f"cannot read the CSV: {err}", p,
                             line=reader.line_num + 1) from None
        except UnicodeDecodeError:
            line, col, byte = utf8_error(p)
            raise data_error(f"the file is not UTF-8 text (byte 0x{byte:02x})", p, line=line,
                             column=col) from None
        finally:
            csv.field_size_limit(old_limit)
    n = len(lines)
    if n == 0:
        raise data_error("the file has a header but no data rows", p, line=2)
    line_arr = np.asarray(lines, dtype=np.int64)
    cols = {}
    for i in picks:
        cols[names[i]] = _parse_column(texts.pop(i), names[i], i, file, line_arr)
    return cols, n, line_arr


def utf8_error(p: Path):
    """(1-based line, 1-based byte column, byte) of the first invalid UTF-8 sequence in
    a file."""
    dec = codecs.getincrementaldecoder("utf-8")("strict")
    line = 1
    with open(p, "rb") as fh:
        while True:
            block = fh.read(1 << 16)
            if not block:
                return line, 1, 0
            try:
                dec.decode(block)
            except UnicodeDecodeError as err:
                head = err.object[:err.start]
                col = len(head) - (head.rfind(b"\n") + 1) + 1 if b"\n" in head else None
                return (line + head.count(b"\n"), col or 1, err.object[err.start])
            line += block.count(b"\n")


def _parse_column(texts, name, i, file, lines):
    """One column's texts as finite float64, or the error at the first bad cell."""
    try:
        arr = np.fromiter(map(float, texts), dtype=np.float64, count=len(texts))
    except ValueError:
        for k, t in enumerate(texts):
            try:
                float(t)
            except ValueError:
                shown = t if len(t) <= 40 else t[:40] + "..."
                raise InputError(f"column '{name}': '{shown}' is not a number"
                                 + (" (empty field)" if not t.strip() else ""),
                                 file=file, field="data.file", line=int(lines[k]),
                                 column=i + 1, kind="data") from None
        raise  # pragma: no cover
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        k = int(bad[0])
        raise InputError(f"column '{name}': {texts[k].strip()} is not a finite number "
                         "(data must be finite)", file=file, field="data.file",
                         line=int(lines[k]), column=i + 1, kind="data")
    return arr
