"""Parquet data files, read with pyarrow (an optional dependency: ``pip install
symgd[parquet]``), SPEC §1.

What is accepted: a file that starts and ends with the magic bytes ``PAR1`` (an
encrypted footer, ``PARE``, is refused), whose footer is at most
``limits.max_footer_bytes`` and fits in the file, with at most ``limits.max_columns``
columns. Only the columns the problem uses are read, and each must be an integer or
floating-point column (converted to float64, as the CSV reader converts its text);
booleans, decimals, text, dates and times, dictionary-encoded, nested and every other
type are refused by name, as are nulls and values that are not finite. Columns the
problem does not use may hold anything.

Why so strict: a data file may come from anywhere, and pyarrow before 14.0.1 could run
code from a crafted file (CVE-2023-47248), so an older pyarrow is refused outright. The
checks on the raw bytes run before pyarrow sees the file, and every error pyarrow
raises becomes an :class:`symgd.InputError` whose text is escaped
(:func:`symgd.io.data_checks.shown`): no traceback, and no untrusted bytes written to a
terminal.

A Parquet file has no lines: messages name the 1-based row, and the dataset keeps no
line numbers.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from symgd.errors import InputError
from symgd.io.data_checks import check_file, data_error, missing_column, numeric_1d, shown
from symgd.io.limits import DEFAULT_DATA_LIMITS, DataLimits

MIN_PYARROW = (14, 0, 1)
MAGIC = b"PAR1"
# Caps handed to pyarrow's footer decoder (its own defaults are 100 MB strings and a
# million list items); one string in a footer is a name or a statistic.
THRIFT_STRING_LIMIT = 1 << 20


def pyarrow_parquet(p: Path):
    """The ``pyarrow.parquet`` module, imported on first use, after checking that the
    installed pyarrow is recent enough.

    Raises:
        InputError: pyarrow is not installed, or older than 14.0.1.
    """
    try:
        import pyarrow
    except ImportError:
        raise data_error("reading Parquet files needs pyarrow, which is not installed: "
                         "pip install symgd[parquet]", p) from None
    version = pyarrow_version(getattr(pyarrow, "__version__", ""))
    if version < MIN_PYARROW:
        raise data_error(f"pyarrow {shown(pyarrow.__version__, 40)} is installed, but symgd "
                         "reads Parquet only with pyarrow 14.0.1 or newer (older versions "
                         "can run code from a crafted file, CVE-2023-47248): "
                         "pip install -U 'pyarrow>=14.0.1'", p)
    import pyarrow.parquet as pq
    return pq


def pyarrow_version(text: str) -> tuple:
    """(major, minor, patch) from a version string such as '14.0.1' or
    '15.0.0.dev12+g1'; (0, 0, 0) when it has no leading number."""
    m = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", str(text))
    if not m:
        return (0, 0, 0)
    return tuple(int(g or 0) for g in m.groups())


def check_parquet_bytes(p: Path, limits: DataLimits = DEFAULT_DATA_LIMITS) -> None:
    """Refuse a file that is not Parquet by its bytes alone: the magic ``PAR1`` at both
    ends, and a footer length that fits in the file and in ``limits.max_footer_bytes``."""
    check_file(p)
    try:
        with open(p, "rb") as fh:
            head = fh.read(4)
            size = fh.seek(0, 2)
            if size < 12:
                raise data_error(f"not a Parquet file (only {size} bytes)", p)
            fh.seek(size - 8)
            tail = fh.read(8)
    except OSError as err:
        raise data_error(f"cannot read it: {shown(err.strerror or err)}", p) from None
    if tail[4:] == b"PARE":
        raise data_error("an encrypted Parquet file; symgd reads only plain Parquet", p)
    if head != MAGIC or tail[4:] != MAGIC:
        raise data_error("not a Parquet file (it does not start and end with the bytes "
                         "'PAR1'); is it truncated?", p)
    footer = int.from_bytes(tail[:4], "little")
    if footer > size - 12:
        raise data_error(f"not a readable Parquet file: its footer claims {footer} bytes but "
                         f"the file has {size}; is it truncated?", p)
    if footer > limits.max_footer_bytes:
        raise data_error(f"the Parquet footer is {footer / 2**20:.0f} MB (limit "
                         f"{limits.max_footer_bytes / 2**20:.0f} MB)", p, kind="limit")


def open_parquet(p: Path, limits: DataLimits = DEFAULT_DATA_LIMITS):
    """A ``pyarrow.parquet.ParquetFile`` for ``p``, its bytes checked first, and its
    top-level column names (unique, at most ``limits.max_columns``)."""
    pq = pyarrow_parquet(p)
    check_parquet_bytes(p, limits)
    with arrow_errors(p):
        pf = pq.ParquetFile(p, thrift_string_size_limit=THRIFT_STRING_LIMIT,
                            thrift_container_size_limit=max(limits.max_columns, 1000) * 4)
    try:
        with arrow_errors(p):
            if pf.metadata.num_columns > limits.max_columns:
                raise data_error(f"the Parquet file has more than {limits.max_columns} "
                                 "columns (limit)", p, kind="limit")
            names = [str(n) for n in pf.schema_arrow.names]
        seen: set = set()
        for nm in names:
            if nm in seen:
                raise data_error(f"column name '{shown(nm)}' appears twice; column names "
                                 "must be unique", p)
            seen.add(nm)
    except InputError:
        pf.close()
        raise
    return pf, names


def parquet_names(p: Path, limits: DataLimits = DEFAULT_DATA_LIMITS) -> list:
    """The column names of a Parquet file; only its footer is read."""
    pf, names = open_parquet(p, limits)
    pf.close()
    return names


def read_parquet(p: Path, wanted: dict, limits: DataLimits = DEFAULT_DATA_LIMITS):
    """Columns ``wanted.values()`` of a Parquet file as finite float64 arrays, and the
    number of samples (see the module's docstring for what is accepted)."""
    pf, names = open_parquet(p, limits)
    try:
        return read_columns(p, pf, names, wanted, limits)
    finally:
        pf.close()


def read_columns(p: Path, pf, names: list, wanted: dict, limits: DataLimits):
    """The body of :func:`read_parquet`, given the open file and its column names."""
    file = str(p)
    for sym, col in wanted.items():
        if col not in names:
            raise missing_column(col, sym, [shown(n) for n in names], file, "data")
    picks = list(dict.fromkeys(wanted.values()))
    with arrow_errors(p):
        schema = pf.schema_arrow
        for col in picks:
            check_type(p, col, schema.field(col).type)
        n = int(pf.metadata.num_rows)
        if n < 0:
            raise data_error(f"not a readable Parquet file: it claims {n} rows", p)
        if n * 8 > limits.member_bytes():
            raise data_error(f"the file claims {n} rows, {n * 8 / 2**20:.0f} MB per column as "
                             f"float64 (limit {limits.member_bytes() / 2**20:.0f} MB; raise "
                             "SYMGD_MAX_DATA_MB)", p, kind="limit")
        table = pf.read(columns=picks, use_threads=False) if picks else None
    cols = {}
    if table is not None:
        n = table.num_rows
        for col in picks:
            cols[col] = to_float64(p, col, table.column(col))
    if not n:
        raise data_error("the data has no samples", p)
    return cols, n


def check_type(p: Path, name: str, typ) -> None:
    """Refuse a column whose Arrow type is not an integer or a floating-point number."""
    import pyarrow.types as pt
    if pt.is_integer(typ) or pt.is_floating(typ):
        return
    raise data_error(f"column '{name}' has type {shown(typ, 80)}; data columns must hold "
                     "integers or floating-point numbers", p)


def to_float64(p: Path, name: str, column) -> np.ndarray:
    """One read column (a pyarrow ChunkedArray of numbers) as a finite float64 array."""
    with arrow_errors(p):
        if column.null_count:
            nulls = column.is_null().to_numpy(zero_copy_only=False)
            k = int(np.argmax(nulls))
            raise data_error(f"column '{name}' has no value (null) at row {k + 1}; data "
                             "must be finite numbers", p)
        values = float64_values(column)
    return numeric_1d(values, name, str(p), "data.file")


def float64_values(column) -> np.ndarray:
    """A null-free numeric ChunkedArray as float64, read from the chunks' value buffers.

    Why not ``column.to_numpy()``: pyarrow's conversion imports pandas (~45 MB of a Dask
    worker's memory, where each worker reads parts under a memory limit). Integer and
    narrower float types are cast unchecked (safe=False), as numpy's astype rounds them.
    """
    import pyarrow as pa

    f64 = pa.float64()
    pieces = []
    for chunk in column.chunks:
        if chunk.type != f64:
            chunk = chunk.cast(f64, safe=False)
        buf = chunk.buffers()[1]
        pieces.append(np.frombuffer(buf, dtype=np.float64, count=len(chunk),
                                    offset=chunk.offset * 8) if len(chunk) else
                      np.empty(0))
    if len(pieces) == 1:
        return pieces[0]
    return np.concatenate(pieces) if pieces else np.empty(0)


class arrow_errors:
    """``with arrow_errors(p):`` turns whatever pyarrow raises into the InputError
    'not a readable Parquet file (...)', its text escaped; InputErrors pass through."""

    def __init__(self, p: Path):
        self.p = p

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        if err is None or isinstance(err, InputError) or not isinstance(err, Exception):
            return False
        if isinstance(err, MemoryError):
            raise data_error("not a readable Parquet file: reading it ran out of memory",
                             self.p) from None
        raise data_error(f"not a readable Parquet file ({shown(str(err).strip())})",
                         self.p) from None
