"""A fit's data as Dask blocks: one delayed (columns, m) float64 array per block.

Sources (symgd.io.data_spec.DataSpec):

* a glob of parts (or one file): one block per part, read on a worker by symgd's own
  checked readers (symgd.dask.worker.read_part), so hostile files meet the same checks
  as on the in-memory path and nothing is read on the client;
* a dask DataFrame: one block per partition, the columns the problem uses;
* a mapping of column name to 1-D dask arrays (or series): stacked into a (columns, n)
  array chunked along the samples, one block per chunk;
* in-memory columns (with a cluster asked for at run time): read and checked here
  (symgd.io.data.load) and scattered to the workers in blocks of BLOCK_SAMPLES.

The blocks are lazy: a pass over them reads each part again (out of core), unless
symgd.dask.fit keeps them in the workers' memory because they fit there.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from symgd.dask import worker
from symgd.errors import InputError
from symgd.io.data_checks import missing_column
from symgd.io.parts import data_files, format_of, is_glob

BLOCK_SAMPLES = 1_000_000  # samples per block when in-memory data are split


@dataclass
class Blocks:
    """items: one dask Delayed (or Future) per block; files: each block's file (parts)
    or None; source: the glob or file, or None; scattered: the blocks are in the
    workers' memory already."""

    items: list
    files: list | None
    source: str | None
    scattered: bool = False


def wanted_columns(spec, symbols) -> dict:
    """symbol -> the column it reads (its own name unless ``columns`` says otherwise)."""
    return {s: spec.columns.get(s, s) for s in symbols}


def estimate_bytes(spec, n_symbols: int) -> int | None:
    """The data's size as float64 (samples x columns used x 8), estimated without
    reading them: Parquet parts by their row counts (footers), other files by their
    size on disk; None for in-memory data."""
    if spec.file is None:
        return None
    try:
        files = data_files(spec.file, spec.root, spec.limits)
    except InputError:
        return None  # the loader reports it
    if files and format_of(files[0]) == "parquet":
        try:
            from symgd.io.parquet_reader import open_parquet
            rows = 0
            for p in files:
                pf, _ = open_parquet(p, spec.limits)
                try:
                    rows += pf.metadata.num_rows
                finally:
                    pf.close()
            return rows * max(n_symbols, 1) * 8
        except (InputError, OSError, AttributeError):
            pass
    total = 0
    for p in files:
        try:
            total += os.path.getsize(p)
        except OSError:
            pass
    return total


def from_spec(spec, symbols, client) -> Blocks:
    """The blocks of ``spec``'s data, rows ``symbols`` (symgd.io.data's layout)."""
    import dask

    symbols = tuple(symbols)
    wanted = wanted_columns(spec, symbols)
    if spec.file is not None:
        files = [str(p) for p in data_files(spec.file, spec.root, spec.limits)]
        read = dask.delayed(worker.read_part, pure=True)
        items = [read(f, wanted, symbols, spec.limits) for f in files]
        return Blocks(items, files, str(spec.file) if is_glob(spec.file) else files[0])
    coll = getattr(spec, "collection", None)
    names = list(spec.arrays)
    for s, c in wanted.items():
        if c not in spec.arrays:
            raise missing_column(c, s, names, None, "data")
    cols = [wanted[s] for s in symbols]
    if coll is not None and hasattr(coll, "to_delayed") and hasattr(coll, "columns"):
        block = dask.delayed(worker.as_block, pure=True)
        return Blocks([block(part, cols) for part in coll[cols].to_delayed()], None, None)
    values = [spec.arrays[c] for c in cols]
    if any(worker_is_dask(v) for v in values):
        return Blocks(_stacked(values), None, None)
    from symgd.io.data import load  # in memory: checked here, then sent once
    data = load(spec, symbols)
    arr = data.array
    step = BLOCK_SAMPLES
    pieces = [worker.as_block(arr[:, i:i + step], None) for i in range(0, arr.shape[1], step)]
    futures = client.scatter(pieces, hash=False)
    return Blocks(list(futures), None, None, scattered=True)


def worker_is_dask(v) -> bool:
    mod = type(v).__module__ or ""
    return mod == "dask" or mod.startswith("dask.")


def _stacked(values) -> list:
    """Blocks of 1-D dask arrays or series (columns of one length): chunk k of every
    column stacked as the rows of block k (one small task per block: no rechunking),
    chunked like the first dask column."""
    import dask
    import dask.array as da

    def as_array(v):
        return v.to_dask_array(lengths=True) if hasattr(v, "to_dask_array") else v

    first = as_array(next(v for v in values if worker_is_dask(v)))
    chunks = first.chunks[0]
    parts = []
    for v in values:
        a = as_array(v) if worker_is_dask(v) else da.from_array(v, chunks=(chunks,))
        if a.ndim != 1:
            raise InputError(f"a Dask column must be 1-D, got shape {a.shape}",
                             field="data", kind="data")
        if a.shape[0] != first.shape[0]:
            raise InputError(f"Dask columns of {a.shape[0]} and {first.shape[0]} samples; "
                             "columns must have equal lengths", field="data", kind="data")
        if a.chunks[0] != chunks:
            a = a.rechunk((chunks,))
        parts.append(list(a.to_delayed().ravel()))
    make = dask.delayed(worker.stack_rows, pure=True)
    return [make(*row) for row in zip(*parts)]
