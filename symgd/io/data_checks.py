"""Checks and error messages shared by the data readers (CSV, ``.npz``, Parquet, in
memory).

Errors are :class:`symgd.InputError` (kind ``data``). An error inside a data file names
the file, the 1-based line (``line``) and the 1-based field number (``column``); one
about the file as a whole names it in the message and leaves the location to the
problem file's ``data`` entry.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from symgd.errors import InputError, nearest

SUFFIXES = (".csv", ".npz", ".parquet", ".pq")
PARQUET_SUFFIXES = (".parquet", ".pq")
DATA_FORMATS = "CSV (.csv), NumPy (.npz) or Parquet (.parquet, .pq)"


def shown(text, limit: int = 200) -> str:
    """Untrusted text (a name or a message from a file) made safe to print: cut to
    ``limit`` characters, every non-ASCII or control character written as an escape,
    so a crafted file cannot move the cursor or hide text in a terminal."""
    text = str(text)
    cut = text[:limit]
    return ascii(cut)[1:-1] + ("..." if len(text) > limit else "")


def data_error(message, path, *, line=None, column=None, field="data.file", kind="data"):
    """An error about a data file. With a line it points into the file (file, line and
    column: 1 where the whole row is meant); without one it names the file in its
    message and leaves the location to the problem file's ``data`` entry."""
    if line is None:
        return InputError(f"data file {path}: {message}", field=field, kind=kind)
    return InputError(message, file=str(path), field=field, line=line,
                      column=1 if column is None else column, kind=kind)


def missing_column(name: str, symbol: str, available, file, field: str) -> InputError:
    """'no column named ...', with the nearest name and the columns there are."""
    guess = nearest(name, available)
    hint = f"; did you mean '{guess}'?" if guess else ""
    listed = ", ".join(list(available)[:20]) + (", ..." if len(available) > 20 else "")
    via = f" (for the symbol '{symbol}')" if name != symbol else ""
    fld = f"data.columns.{symbol}" if name != symbol else field
    where = f" in {file}" if file else ""
    return InputError(f"no column named '{name}'{via}{where}{hint} (columns: {listed})",
                      field=fld, kind="data")


def check_unique(names, file, line=None) -> None:
    """Refuse a column name that appears twice (in a file's header when ``file``)."""
    seen: dict = {}
    for i, nm in enumerate(names):
        if nm in seen:
            msg = (f"column name '{nm}' appears twice (fields {seen[nm] + 1} and {i + 1}); "
                   "column names must be unique")
            if file is None:
                raise InputError(msg, field="data", kind="data")
            raise data_error(msg, file, line=line, column=i + 1)
        seen[nm] = i


def check_file(p: Path) -> None:
    """Refuse a path that is not a non-empty .csv, .npz or Parquet file."""
    if p.suffix.lower() not in SUFFIXES:
        raise data_error(f"data files are {DATA_FORMATS}", p)
    try:
        size = p.stat().st_size
    except OSError:
        raise data_error("not found", p) from None
    if p.is_dir():
        raise data_error("is a folder, not a data file", p)
    if size == 0:
        raise data_error("the data file is empty (expected a header row and data rows)"
                         if p.suffix.lower() == ".csv" else "the data file is empty", p,
                         line=1 if p.suffix.lower() == ".csv" else None)


def numeric_1d(values, name, file, field):
    """``values`` as a finite float64 1-D array, or the InputError saying why not."""
    if file is not None:  # an .npz member: name the file, locate by the problem file
        try:
            return numeric_1d(values, name, None, field)
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
