"""Data for fitting problems: read, check and lay out the samples (SPEC §1).

Sources, all turned into one :class:`Dataset`:

* a CSV file: UTF-8 (a leading byte-order mark is stripped), a header row of unique,
  non-empty names, the same number of fields on every row, and finite numbers (as
  Python's ``float`` reads them) in every column that the problem uses. Blank lines are
  skipped. Columns the problem does not use are not converted, so they may hold text.
* a NumPy ``.npz`` file, read with ``allow_pickle=False``: one 1-D numeric member per
  column.
* inline lists, as the problem-file loader passes them: ``{"inline": {name: [...]}}``.
* a Python mapping ``{name: array-like}`` or a pandas DataFrame (duck-typed: anything
  with ``columns`` and ``[name]``; pandas is not a dependency).

The problem-file loader passes files as ``{"file": path, "columns": {symbol: column}}``;
a symbol not in ``columns`` reads the column of its own name.

Layout: a float64 array of shape (n_columns, n_samples), C-contiguous, so that each
column is contiguous and column j of sample i is ``flat[j * n_samples + i]``.

Errors are :class:`symgd.InputError` (kind ``data``) naming the file, the 1-based line
(``line``) and the 1-based field number (``column``) of the offending cell, and the
column by name in the message.

Limits (documented, checked before any large allocation):
    MAX_COLUMNS        100,000 columns in a header or an .npz file
    MAX_HEADER_BYTES   16 MiB for a CSV's header line
    MAX_FIELD_CHARS    1,000,000 characters in one CSV field
"""
from __future__ import annotations

import csv
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from symgd.errors import InputError, nearest

MAX_COLUMNS = 100_000
MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_FIELD_CHARS = 1_000_000
# Uncompressed size of one .npz member; a bigger one (or a header claiming more than the
# member holds: a zip bomb or a forged shape) is refused before anything is allocated.
# Override with the environment variable SYMGD_MAX_DATA_MB.
DEFAULT_MAX_MEMBER_MB = 512


def max_member_bytes() -> int:
    try:
        return int(float(os.environ.get("SYMGD_MAX_DATA_MB", DEFAULT_MAX_MEMBER_MB)) * 2**20)
    except ValueError:
        return DEFAULT_MAX_MEMBER_MB * 2**20
SUFFIXES = (".csv", ".npz")


@dataclass(frozen=True)
class Dataset:
    """Samples laid out for the kernels.

    Attributes:
        symbols: the data symbols' names, in the order of ``array``'s rows.
        columns: symbol name -> the column it was read from.
        array: float64, shape (len(symbols), n_samples), C-contiguous, read-only.
        n_samples: number of samples (rows of the source).
        source: the file read, or None for in-memory data.
    """

    symbols: tuple
    columns: dict
    array: np.ndarray
    n_samples: int
    source: str | None = None
    lines: np.ndarray | None = field(default=None, repr=False, compare=False)

    def column(self, symbol: str) -> np.ndarray:
        """The samples of one data symbol (a read-only view)."""
        return self.array[self.symbols.index(symbol)]

    def rows(self) -> np.ndarray:
        """A new read-only copy laid out by sample, shape (n_samples, len(symbols)),
        C-contiguous: what minibatch kernels read (symgd.fit.abi). Not kept: it doubles
        the data's memory for as long as the caller holds it."""
        rows = np.ascontiguousarray(self.array.T)
        rows.setflags(write=False)
        return rows

    def where(self, i: int) -> str:
        """'line L' (CSV) or 'row i' describing sample i for messages."""
        if self.lines is not None:
            return f"line {int(self.lines[i])}"
        return f"row {i + 1}"


# ----------------------------------------------------------------------------- specs
def _is_file_spec(data) -> bool:
    return isinstance(data, Mapping) and isinstance(data.get("file"), (str, os.PathLike))


def _is_inline_spec(data) -> bool:
    return isinstance(data, Mapping) and set(data) <= {"inline", "symbols"} and \
        isinstance(data.get("inline"), Mapping)


def _key_name(k) -> str:
    return getattr(k, "name", None) or str(k)


def _is_frame(data) -> bool:
    return (not isinstance(data, Mapping) and hasattr(data, "columns")
            and hasattr(data, "__getitem__"))


def source_file(data) -> str | None:
    """The data file a spec names, or None for in-memory data."""
    if isinstance(data, (str, os.PathLike)):
        return os.fspath(data)
    if _is_file_spec(data):
        return os.fspath(data["file"])
    return None


def column_map(data) -> dict:
    """``{symbol: column name}`` given explicitly by a file spec (may be empty)."""
    if _is_file_spec(data):
        return {str(k): str(v) for k, v in dict(data.get("columns") or {}).items()}
    return {}


def column_names(data) -> list:
    """The column names a data spec offers (a CSV header, .npz members, mapping keys),
    read cheaply: a file's header only. Raises InputError if they cannot be read."""
    path = source_file(data)
    if path is not None:
        p = Path(path)
        _check_file(p)
        if p.suffix.lower() == ".npz":
            return _npz_names(p)
        with _open_csv(p) as fh:
            return _csv_header(fh, p)[0]
    if _is_inline_spec(data):
        return [_key_name(k) for k in data["inline"]]
    if _is_frame(data):
        names = [_key_name(c) for c in data.columns]
        _check_unique(names, None)
        return names
    if isinstance(data, Mapping):
        return [_key_name(k) for k in data]
    raise InputError(f"data must be a mapping of column name to values, a pandas DataFrame "
                     f"or a CSV/.npz file, got {type(data).__name__}", field="data",
                     kind="data")


def symbol_names(data) -> list:
    """Names usable as data symbols: the columns plus the symbols of ``columns``."""
    if isinstance(data, Mapping) and "symbols" in data and (_is_file_spec(data)
                                                             or _is_inline_spec(data)):
        names = list(data["symbols"])
        names += [s for s in column_map(data) if s not in names]
        if _is_inline_spec(data):
            names += [n for n in column_names(data) if n not in names]
        return names
    names = column_names(data)
    return names + [s for s in column_map(data) if s not in names]


def _err(message, path, *, line=None, column=None, field="data.file", kind="data"):
    """An error about a data file. With a line it points into the file (file, line and
    column: 1 where the whole row is meant); without one it names the file in its
    message and leaves the location to the problem file's ``data`` entry."""
    if line is None:
        return InputError(f"data file {path}: {message}", field=field, kind=kind)
    return InputError(message, file=str(path), field=field, line=line,
                      column=1 if column is None else column, kind=kind)


# ----------------------------------------------------------------------------- loading
def load(data, symbols, *, field: str = "data") -> Dataset:
    """Read the columns behind ``symbols`` from ``data`` and check them.

    Args:
        data: a file spec ``{"file", "columns"}``, a path, ``{"inline": {...}}``, a
            mapping of column name -> array-like, or a DataFrame.
        symbols: the data symbols' names the problem uses (their order is the order of
            the array's rows).
        field: the problem field for messages.

    Returns:
        A :class:`Dataset`.

    Raises:
        InputError: a missing or duplicate column, a ragged row, a non-numeric or
            non-finite value, a bad encoding, an empty file, no samples.
    """
    symbols = [str(s) for s in symbols]
    cmap = column_map(data)
    wanted = {s: cmap.get(s, s) for s in symbols}
    path = source_file(data)
    lines = None
    if path is not None:
        p = Path(path)
        if p.suffix.lower() == ".npz":
            cols, n = _read_npz(p, wanted)
        else:
            cols, n, lines = _read_csv(p, wanted)
        src = str(p)
    else:
        src = None
        if _is_inline_spec(data):
            source = {_key_name(k): v for k, v in data["inline"].items()}
            prefix = field
        elif _is_frame(data):
            column_names(data)  # duplicate names
            source = {_key_name(c): data[c] for c in data.columns}
            prefix = field
        elif isinstance(data, Mapping):
            source = {}
            for k, v in data.items():
                name = _key_name(k)
                if name in source:
                    raise InputError(f"column '{name}' is given twice", field=f"{field}.{name}",
                                     kind="data")
                source[name] = v
            prefix = field
        else:
            column_names(data)  # raises the type error
            raise AssertionError  # pragma: no cover
        cols, n = _from_arrays(source, wanted, prefix)
    array = np.empty((len(symbols), n), dtype=np.float64)
    for j, s in enumerate(symbols):
        array[j] = cols[wanted[s]]
    array.setflags(write=False)
    return Dataset(tuple(symbols), dict(wanted), array, n, src, lines)


def _missing(name: str, symbol: str, available, file, field: str) -> InputError:
    guess = nearest(name, available)
    hint = f"; did you mean '{guess}'?" if guess else ""
    listed = ", ".join(list(available)[:20]) + (", ..." if len(available) > 20 else "")
    via = f" (for the symbol '{symbol}')" if name != symbol else ""
    fld = f"data.columns.{symbol}" if name != symbol else field
    where = f" in {file}" if file else ""
    return InputError(f"no column named '{name}'{via}{where}{hint} (columns: {listed})",
                      field=fld, kind="data")


def _check_unique(names, file, line=None):
    seen: dict = {}
    for i, nm in enumerate(names):
        if nm in seen:
            msg = (f"column name '{nm}' appears twice (fields {seen[nm] + 1} and {i + 1}); "
                   "column names must be unique")
            if file is None:
                raise InputError(msg, field="data", kind="data")
            raise _err(msg, file, line=line, column=i + 1)
        seen[nm] = i


def _check_file(p: Path) -> None:
    if p.suffix.lower() not in SUFFIXES:
        raise _err("data files are CSV (.csv) or NumPy (.npz)", p)
    try:
        size = p.stat().st_size
    except OSError:
        raise _err("not found", p) from None
    if p.is_dir():
        raise _err("is a folder, not a data file", p)
    if size == 0:
        raise _err("the data file is empty (expected a header row and data rows)"
                   if p.suffix.lower() == ".csv" else "the data file is empty", p,
                   line=1 if p.suffix.lower() == ".csv" else None)


# ----------------------------------------------------------------------------- CSV
class _open_csv:
    """Open a CSV as UTF-8 text (BOM stripped), for use in ``with``."""

    def __init__(self, p: Path):
        self.p = p

    def __enter__(self):
        try:
            self.fh = open(self.p, encoding="utf-8-sig", newline="", errors="strict")
        except OSError as err:
            raise _err(f"cannot read it: {err.strerror or err}", self.p) from None
        return self.fh

    def __exit__(self, *exc):
        self.fh.close()
        return False


def _csv_header(fh, p: Path):
    """(names, raw header length) from the first line, bounded in size and columns."""
    try:
        line = fh.readline(MAX_HEADER_BYTES + 1)
    except UnicodeDecodeError:
        line, col, byte = _utf8_error(p)
        raise _err(f"the file is not UTF-8 text (byte 0x{byte:02x})", p, line=line,
                   column=col) from None
    if len(line) > MAX_HEADER_BYTES:
        raise _err(f"the header line is longer than {MAX_HEADER_BYTES} characters "
                   "(limit); is this a CSV file with a header row?", p, line=1, kind="limit")
    if line.count(",") + 1 > MAX_COLUMNS:
        raise _err(f"the header has more than {MAX_COLUMNS} columns (limit)", p, line=1,
                   kind="limit")
    if not line.strip():
        raise _err("the first line is blank; expected a header row of column names", p,
                   line=1)
    try:
        cells = next(csv.reader([line]))
    except csv.Error as err:
        raise _err(f"cannot read the header: {err}", p, line=1) from None
    names = [c.strip() for c in cells]
    for i, nm in enumerate(names):
        if not nm:
            raise _err(f"field {i + 1} of the header has no name; every column needs a "
                       "unique name", p, line=1, column=i + 1)
    _check_unique(names, str(p), line=1)
    return names, len(line)


def _bounded_lines(fh, p: Path):
    """The file's lines, refusing one with more fields than MAX_COLUMNS before the csv
    module splits it (10 million fields would take a gigabyte as Python strings)."""
    for k, line in enumerate(fh, start=2):
        if line.count(",") >= MAX_COLUMNS:
            raise _err(f"this row has more than {MAX_COLUMNS} fields (limit)", p, line=k)
        yield line


def _read_csv(p: Path, wanted: dict):
    """Columns ``wanted.values()`` of a CSV as float arrays, the row count, and the
    line number of each row."""
    _check_file(p)
    file = str(p)
    with _open_csv(p) as fh:
        names, _ = _csv_header(fh, p)
        index = {nm: i for i, nm in enumerate(names)}
        for sym, col in wanted.items():
            if col not in index:
                raise _missing(col, sym, names, file, "data")
        picks = sorted({index[c] for c in wanted.values()})
        texts = {i: [] for i in picks}
        lines = []
        ncols = len(names)
        old_limit = csv.field_size_limit()
        csv.field_size_limit(MAX_FIELD_CHARS)
        reader = csv.reader(_bounded_lines(fh, p), strict=True)
        try:
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip() and ncols > 1):
                    continue  # blank line
                if len(row) != ncols:
                    ln = reader.line_num + 1
                    raise _err(f"this row has {len(row)} fields but the header has {ncols}; "
                               "every row needs one value per column", p, line=ln,
                               column=min(len(row), ncols) + 1)
                for i in picks:
                    texts[i].append(row[i])
                lines.append(reader.line_num + 1)
        except csv.Error as err:
            raise _err(f"cannot read the CSV: {err}", p, line=reader.line_num + 1) from None
        except UnicodeDecodeError:
            line, col, byte = _utf8_error(p)
            raise _err(f"the file is not UTF-8 text (byte 0x{byte:02x})", p, line=line,
                       column=col) from None
        finally:
            csv.field_size_limit(old_limit)
    n = len(lines)
    if n == 0:
        raise _err("the file has a header but no data rows", p, line=2)
    line_arr = np.asarray(lines, dtype=np.int64)
    cols = {}
    for i in picks:
        cols[names[i]] = _parse_column(texts.pop(i), names[i], i, file, line_arr)
    return cols, n, line_arr


def _utf8_error(p: Path):
    """(1-based line, 1-based byte column, byte) of the first invalid UTF-8 sequence in
    a file."""
    import codecs

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


# ----------------------------------------------------------------------------- NPZ
def _npz_names(p: Path) -> list:
    try:
        with zipfile.ZipFile(p) as z:
            members = z.namelist()
    except (zipfile.BadZipFile, OSError) as err:
        raise _err(f"not a readable .npz file ({err})", p) from None
    if len(members) > MAX_COLUMNS:
        raise _err(f"the .npz file has more than {MAX_COLUMNS} members (limit)", p,
                   kind="limit")
    return [m[:-4] if m.endswith(".npy") else m for m in members]


def _read_npz(p: Path, wanted: dict):
    _check_file(p)
    file = str(p)
    names = _npz_names(p)
    for sym, col in wanted.items():
        if col not in names:
            raise _missing(col, sym, names, file, "data")
    cols = {}
    n = None
    first = None
    try:
        with np.load(p, allow_pickle=False) as z:
            for col in dict.fromkeys(wanted.values()):
                _check_npz_member(p, col)
                try:
                    raw = z[col]
                except ValueError as err:
                    why = ("it holds Python objects, which would need pickle; store numeric "
                           "arrays" if "pickle" in str(err).lower() else str(err))
                    raise _err(f"member '{col}' cannot be read: {why}", p) from None
                cols[col] = _numeric_1d(raw, col, file, "data.file")
                if n is None:
                    n, first = cols[col].size, col
                elif cols[col].size != n:
                    raise _err(f"member '{col}' has {cols[col].size} values but "
                               f"'{first}' has {n}", p)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise _err(f"not a readable .npz file ({err})", p) from None
    if not wanted:
        n = _npz_length(p)
    if not n:
        raise _err("the data has no samples", p)
    return cols, n


def _check_npz_member(p: Path, name: str) -> None:
    """Refuse a member whose .npy header claims more data than the member holds, or more
    than max_member_bytes(), or complex numbers, before numpy allocates it."""
    limit = max_member_bytes()
    with zipfile.ZipFile(p) as zf:
        info = zf.getinfo(name + ".npy")
        if info.file_size > limit:
            raise _err(f"member '{name}' is {info.file_size / 2**20:.0f} MB uncompressed "
                       f"(limit {limit / 2**20:.0f} MB; raise SYMGD_MAX_DATA_MB)", p)
        with zf.open(info) as fh:
            try:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            except (ValueError, OSError, EOFError) as err:
                raise _err(f"member '{name}' has no valid .npy header ({err})", p) from None
    if dtype.kind == "c":
        raise _err(f"member '{name}' holds complex numbers; data must be real", p)
    count = 1
    for dim in shape:
        count *= int(dim)
    if dtype.itemsize and count * dtype.itemsize > info.file_size:
        raise _err(f"member '{name}' claims shape {shape} ({count * dtype.itemsize} bytes) "
                   f"but holds only {info.file_size} bytes", p)


def _npz_length(p: Path) -> int:
    with np.load(p, allow_pickle=False) as z:
        for name in z.files:
            return int(np.asarray(z[name]).shape[0]) if np.ndim(z[name]) else 0
    return 0


# ----------------------------------------------------------------------------- memory
def _numeric_1d(values, name, file, field):
    if file is not None:  # an .npz member: name the file, locate by the problem file
        try:
            return _numeric_1d(values, name, None, field)
        except InputError as err:
            raise InputError(f"data file {file}: {err.message}", field=field,
                             kind="data") from None
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"column '{name}' is not numeric (dtype {arr.dtype})", file=file,
                             field=field, kind="data") from None
    if arr.ndim != 1:
        raise InputError(f"column '{name}' must be one-dimensional, got shape {arr.shape}",
                         file=file, field=field, kind="data")
    arr = arr.astype(np.float64, copy=False)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        k = int(bad[0])
        raise InputError(f"column '{name}': value {arr[k]} at row {k + 1} (index {k}) is not "
                         "finite (data must be finite)", file=file, field=field, kind="data")
    return arr


def _from_arrays(source: dict, wanted: dict, prefix: str):
    cols = {}
    n = None
    first = None
    names = list(source)
    for sym, col in wanted.items():
        if col not in source:
            raise _missing(col, sym, names, None, prefix)
    for col in dict.fromkeys(wanted.values()):
        cols[col] = _numeric_1d(source[col], col, None, f"{prefix}.{col}")
        if n is None:
            n, first = cols[col].size, col
        elif cols[col].size != n:
            raise InputError(f"column '{col}' has {cols[col].size} values but '{first}' has "
                             f"{n}; columns must have equal lengths", field=f"{prefix}.{col}",
                             kind="data")
    if n is None:  # no column used: the length of any column
        for col in names:
            n = int(np.size(source[col]))
            break
    if not n:
        raise InputError("the data has no samples", field=prefix, kind="data")
    return cols, n

