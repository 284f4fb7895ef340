"""Data for fitting problems: read, check and lay out the samples (SPEC §1).

Every source is described by a :class:`~symgd.io.data_spec.DataSpec` (built by the
problem-file loader, or by :func:`~symgd.io.data_spec.data_spec` from what
``Problem(data=...)`` was given) and read by :func:`load` into one :class:`Dataset`:

* a CSV file (:mod:`symgd.io.csv_reader`);
* a NumPy ``.npz`` file (:mod:`symgd.io.npz_reader`);
* a Parquet file, ``.parquet`` or ``.pq`` (:mod:`symgd.io.parquet_reader`; needs
  pyarrow >= 14.0.1, an optional dependency);
* a glob of parts of one of these formats, joined in sorted order
  (:mod:`symgd.io.parts`, which also keeps a problem file's relative paths inside its
  folder);
* in-memory columns: a problem file's inline lists, a Python mapping ``{name:
  array-like}`` or a pandas DataFrame (duck-typed: anything with ``columns`` and
  ``[name]``; pandas is not a dependency).

A symbol not in the spec's ``columns`` reads the column of its own name.

Layout: a float64 array of shape (n_columns, n_samples), C-contiguous, so that each
column is contiguous and column j of sample i is ``flat[j * n_samples + i]``.

Errors are :class:`symgd.InputError` (kind ``data``) naming the file, the 1-based line
(``line``) and the 1-based field number (``column``) of the offending cell, and the
column by name in the message. Binary files (.npz, Parquet) have no lines: their errors
name the file and the row in the message.

Limits (:mod:`symgd.io.limits`, documented, checked before any large allocation):
    MAX_COLUMNS        100,000 columns in a header or an .npz file
    MAX_HEADER_BYTES   16 MiB for a CSV's header line
    MAX_FIELD_CHARS    1,000,000 characters in one CSV field
    MAX_PARQUET_FOOTER_BYTES  64 MiB for a Parquet file's footer
    MAX_PARTS          10,000 files matched by one glob of parts
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from symgd.errors import InputError
from symgd.io.csv_reader import header_names, read_csv
from symgd.io.data_checks import SUFFIXES, check_file, missing_column, numeric_1d
from symgd.io.data_spec import DataSpec, data_spec
from symgd.io.limits import (DEFAULT_MAX_MEMBER_MB, MAX_COLUMNS, MAX_FIELD_CHARS,
                             MAX_HEADER_BYTES, max_member_bytes)
from symgd.io.npz_reader import member_names, read_npz
from symgd.io.parquet_reader import parquet_names, read_parquet
from symgd.io.parts import data_files, format_of, is_glob, join_parts

__all__ = ["Dataset", "DataSpec", "data_spec", "load", "column_names", "symbol_names",
           "MAX_COLUMNS", "MAX_HEADER_BYTES", "MAX_FIELD_CHARS", "DEFAULT_MAX_MEMBER_MB",
           "max_member_bytes", "SUFFIXES"]


@dataclass(frozen=True)
class Dataset:
    """Samples laid out for the kernels.

    Attributes:
        symbols: the data symbols' names, in the order of ``array``'s rows.
        columns: symbol name -> the column it was read from.
        array: float64, shape (len(symbols), n_samples), C-contiguous, read-only.
        n_samples: number of samples (rows of the source).
        source: the file read (a glob's pattern for parts), or None for in-memory data.
        lines: each sample's line in a CSV file; None for other sources.
        parts: for a glob of parts, each part's file and first sample
            (:class:`symgd.io.parts.Part`); empty otherwise.
    """

    symbols: tuple
    columns: dict
    array: np.ndarray
    n_samples: int
    source: str | None = None
    lines: np.ndarray | None = field(default=None, repr=False, compare=False)
    parts: tuple = field(default=(), repr=False, compare=False)

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
        """'line L' (CSV) or 'row i' describing sample i for messages; for parts,
        'line L of FILE' or 'row r of FILE' in the part that holds it."""
        if self.parts:
            k = bisect_right([p.start for p in self.parts], i) - 1
            return self.parts[k].where(i)
        if self.lines is not None:
            return f"line {int(self.lines[i])}"
        return f"row {i + 1}"


def column_names(data) -> list:
    """The column names a data spec offers (a CSV header, .npz members, a Parquet schema,
    mapping keys), read cheaply: a file's header only (a glob's first part's). ``data``:
    a DataSpec or any form :func:`data_spec` accepts. Raises InputError if they cannot
    be read."""
    spec = data_spec(data)
    if spec.file is None:
        return list(spec.arrays)
    try:
        p = data_files(spec.file, spec.root, spec.limits)[0]
        if format_of(p) == "npz":
            check_file(p)
            return member_names(p, spec.limits)
        if format_of(p) == "parquet":
            return parquet_names(p, spec.limits)
        return header_names(p, spec.limits)  # checks the file first
    except InputError as err:
        raise spec.locate(err) from None


def symbol_names(data) -> list:
    """Names usable as data symbols: the columns plus the symbols of ``columns`` (or,
    where the loader listed them, the symbols the expressions use)."""
    spec = data_spec(data)
    if spec.symbols is not None:
        names = list(spec.symbols)
        names += [s for s in spec.columns if s not in names]
        if spec.arrays is not None:
            names += [n for n in spec.arrays if n not in names]
        return names
    names = column_names(spec)
    return names + [s for s in spec.columns if s not in names]


def load(data, symbols, *, field: str = "data") -> Dataset:
    """Read the columns behind ``symbols`` from ``data`` and check them.

    Args:
        data: a :class:`DataSpec` (``Problem.data``), or any form :func:`data_spec`
            accepts: a file spec ``{"file", "columns"}``, a path, ``{"inline": {...}}``,
            a mapping of column name -> array-like, or a DataFrame.
        symbols: the data symbols' names the problem uses (their order is the order of
            the array's rows).
        field: the problem field for messages.

    Returns:
        A :class:`Dataset`.

    Raises:
        InputError: a missing or duplicate column, a ragged row, a non-numeric or
            non-finite value, a bad encoding, an empty file, no samples; located in the
            data file, or at the ``data`` entry of the problem file that declared it.
    """
    spec = data_spec(data, field=field)
    try:
        return _load(spec, [str(s) for s in symbols], field)
    except InputError as err:
        raise spec.locate(err) from None


def _load(spec: DataSpec, symbols: list, field: str) -> Dataset:
    wanted = {s: spec.columns.get(s, s) for s in symbols}
    lines, parts = None, ()
    if spec.file is not None:
        files = data_files(spec.file, spec.root, spec.limits)
        pieces = [(p, *_read_file(p, wanted, spec.limits)) for p in files]
        if is_glob(spec.file):
            cols, n, parts = join_parts(pieces, list(dict.fromkeys(wanted.values())))
        else:
            _, cols, n, lines = pieces[0]
        src = str(spec.file) if is_glob(spec.file) else str(files[0])
    else:
        cols, n = _from_arrays(spec.arrays, wanted, field)
        src = None
    array = np.empty((len(symbols), n), dtype=np.float64)
    for j, s in enumerate(symbols):
        array[j] = cols[wanted[s]]
    array.setflags(write=False)
    return Dataset(tuple(symbols), dict(wanted), array, n, src, lines, parts)


def _read_file(p: Path, wanted: dict, limits):
    """(columns, samples, CSV line numbers or None) of one file, by its format."""
    fmt = format_of(p)
    if fmt == "npz":
        return (*read_npz(p, wanted, limits), None)
    if fmt == "parquet":
        return (*read_parquet(p, wanted, limits), None)
    return read_csv(p, wanted, limits)  # refuses an unknown extension


def _from_arrays(source, wanted: dict, prefix: str):
    """In-memory columns ``wanted.values()`` as finite float64 arrays of equal length,
    and that length."""
    cols = {}
    n = None
    first = None
    names = list(source)
    for sym, col in wanted.items():
        if col not in source:
            raise missing_column(col, sym, names, None, prefix)
    for col in dict.fromkeys(wanted.values()):
        cols[col] = numeric_1d(source[col], col, None, f"{prefix}.{col}")
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
