"""Writes the hostile Parquet files of the corpus (tests/hostile/data/parquet_*.parquet).

The files are committed; run this (with pyarrow installed) only to rebuild them:
``python tests/hostile/make_parquet.py``. Each has a problem file beside it
(``data/parquet_*.yaml``) and a line in expect.txt. What each file tries:

* footer_huge_length: a valid file whose last 8 bytes claim a 2 GB footer;
* footer_garbage: the footer's bytes replaced by noise (the length is right);
* bogus_offsets: a footer whose column chunks point past the end of the file;
* schema_claims_2e9_columns: a hand-written footer whose schema list claims
  2,147,483,647 elements, in 20 bytes;
* deep_nesting: a struct column nested 200 deep;
* pickle_extension_type: a column declared as pyarrow's old ``arrow.py_extension_type``,
  whose metadata is a pickle that creates the file SENTINEL when unpickled: what
  CVE-2023-47248 let pyarrow < 14.0.1 do;
* string_payload: the column the model uses holds Python code as text;
* rows_bomb: a footer claiming 200 million rows (1.6 GB per column as float64)
  for 8 rows of data;
* not_parquet: a CSV named .parquet; truncated: a valid file cut in half.
"""
from __future__ import annotations

import os
import pickle
import random
import struct
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent / "data"


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch SENTINEL",))


def _plain(path: Path) -> bytes:
    pq.write_table(pa.table({"x": np.arange(8.0), "y": np.arange(8.0) * 2}), path)
    return path.read_bytes()


def _split(raw: bytes):
    """(body, footer) of a Parquet file's bytes."""
    n = struct.unpack("<I", raw[-8:-4])[0]
    return raw[:-8 - n], raw[-8 - n:-8]


def _assemble(body: bytes, footer: bytes) -> bytes:
    return body + footer + struct.pack("<I", len(footer)) + b"PAR1"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _claim_rows(footer: bytes, rows: int, claim: int) -> bytes:
    """The footer with FileMetaData.num_rows (field 3, an i64 right after the schema
    list, compact thrift: header 0x16, zigzag varint) changed from ``rows`` to
    ``claim``; checked by reading it back."""
    old = b"\x16" + _varint(2 * rows)
    new = b"\x16" + _varint(2 * claim)
    k = footer.index(old)
    out = footer[:k] + new + footer[k + len(old):]
    return out


def main() -> None:
    tmp = HERE / "_tmp.parquet"
    raw = _plain(tmp)
    body, footer = _split(raw)
    out = {}
    out["footer_huge_length"] = body + footer + struct.pack("<I", 0x7FFFFFFF) + b"PAR1"
    rng = random.Random(7)
    out["footer_garbage"] = _assemble(body, bytes(rng.randrange(256) for _ in footer))
    # a footer written for a file with many rows, glued to a body of 4 bytes
    pq.write_table(pa.table({"x": np.arange(4000.0), "y": np.arange(4000.0)}), tmp,
                   compression="none")
    out["bogus_offsets"] = _assemble(b"PAR1", _split(tmp.read_bytes())[1])
    # compact thrift: FileMetaData{1: i32 version = 1, 2: list<struct> of 2**31-1 items}
    claim = bytes([0x15, 0x02, 0x19, 0xFC]) + bytes([0xFF, 0xFF, 0xFF, 0xFF, 0x07]) + b"\x00"
    out["schema_claims_2e9_columns"] = _assemble(b"PAR1", claim)
    typ = pa.float64()
    for _ in range(200):
        typ = pa.struct([("a", typ)])
    pq.write_table(pa.table({"x": [1.0], "y": [2.0], "deep": pa.array([None], type=typ)}), tmp)
    out["deep_nesting"] = tmp.read_bytes()
    meta = {b"ARROW:extension:name": b"arrow.py_extension_type",
            b"ARROW:extension:metadata": pickle.dumps(_Payload())}
    schema = pa.schema([pa.field("x", pa.binary(), metadata=meta), pa.field("y", pa.float64())])
    pq.write_table(pa.table({"x": [b"\x00" * 8], "y": [1.0]}, schema=schema), tmp)
    out["pickle_extension_type"] = tmp.read_bytes()
    code = "__import__('os').system('touch SENTINEL')"
    pq.write_table(pa.table({"x": [code] * 3, "y": [1.0, 2.0, 3.0]}), tmp)
    out["string_payload"] = tmp.read_bytes()
    out["rows_bomb"] = _assemble(body, _claim_rows(footer, 8, 200_000_000))
    out["not_parquet"] = b"x,y\n1,2\n3,4\n"
    out["truncated"] = raw[:len(raw) // 2]
    tmp.unlink()
    for name, data in out.items():
        (HERE / f"parquet_{name}.parquet").write_bytes(data)
        (HERE / f"parquet_{name}.yaml").write_text(
            "variables: {a: 1, b: 0}\ndata:\n"
            f"  file: parquet_{name}.parquet\nmodel: a*x + b\ntarget: y\n")
        print(f"parquet_{name}.parquet: {len(data)} bytes")


if __name__ == "__main__":
    main()
