"""A fit of a exp(-b x) + c to N samples stored as Parquet parts, on a Dask LocalCluster
whose workers' memory limits add up to a quarter of the data, against the in-memory fit
of the same samples (issue 15).

Both runs solve the same problem file (data: {file: "parts/*.parquet"}, method lm):
  dask       symgd.solve(file, cluster=client): each part is read on a worker by
             symgd's checked Parquet reader on every pass (the parts do not fit in the
             workers' memory, so nothing is kept), per-part JᵀJ, Jᵀr, S tree-reduced
  in-memory  symgd.solve(file, cluster="off"): the parts read and joined here, the
             passes run by the compiled parallel reductions

The samples are symgd.dask.synthetic's (x on [0, 4), y = 2.5 exp(-1.3 x) + 0.5 +
noise), written part by part. Printed: the parameters of both, their largest relative
difference (target: 1e-10), wall time, data passes, and throughput as samples per
second of wall time (N / fit time) and samples x passes per second.

The workers' limit: a quarter of the data's float64 size split over the workers, but
not under --min-worker-mb (default 400: a worker with distributed, numba, pyarrow and
the kernels loaded holds ~250 MB here, and Dask's nanny kills a worker at 95% of its
limit, so a few blocks and pyarrow's buffers must fit beside that); the line "limit"
says which applied. 2e8 samples (3.2 GB) x 1/4 = 800 MB: two workers of 400 MB (parts
of 5e5 rows keep the blocks at 8 MB). The worker's ~250 MB holds because symgd's
Parquet reader does not import pandas and the kernels load without scipy.linalg
(symgd.io.parquet_reader.float64_values, symgd.dask.worker.module): with both, a
worker held ~305 MB and 400 MB workers were killed.

Run: python bench/dask_fit.py [--samples 2e7] [--workers 2] [--part-rows 5e5]
         [--folder DIR (kept; default a temporary folder)] [--min-worker-mb 400]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

PROBLEM = """\
variables: {a: 2.0, b: 1.0, c: 0.3}
data: {file: "parts/*.parquet"}
model: a*exp(-b*x) + c
target: y
loss: mse
method: lm
"""


def write_parts(folder: Path, n: int, rows: int) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from symgd.dask import synthetic

    (folder / "parts").mkdir(parents=True, exist_ok=True)
    k = 0
    for k, s in enumerate(range(0, n, rows)):
        b = synthetic.block(0, s, min(rows, n - s), n)
        pq.write_table(pa.table({"x": b[0], "y": b[1]}),
                       folder / "parts" / f"part-{k:05d}.parquet", compression="none")
    (folder / "fit.yaml").write_text(PROBLEM)
    return k + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=float, default=2e7)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--part-rows", type=float, default=5e5)
    ap.add_argument("--folder")
    ap.add_argument("--min-worker-mb", type=float, default=400.0)
    args = ap.parse_args()
    n, rows = int(args.samples), int(args.part_rows)
    data_bytes = 16 * n
    quarter = data_bytes / 4 / args.workers
    limit = max(quarter, args.min_worker_mb * 1e6)

    import distributed

    import symgd

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder or tmp)
        t = time.perf_counter()
        parts = write_parts(folder, n, rows)
        print(f"samples {n:.3g} ({data_bytes / 1e9:.2f} GB as float64) in {parts} Parquet "
              f"parts, written in {time.perf_counter() - t:.1f} s")
        print(f"limit  {args.workers} workers x {limit / 1e6:.0f} MB = "
              f"{args.workers * limit / 1e9:.2f} GB "
              f"({'a quarter of the data' if limit == quarter else 'the minimum per worker: a quarter would be %.0f MB' % (quarter / 1e6)})")
        lc = distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                      processes=True, memory_limit=limit,
                                      dashboard_address=None, silence_logs=40)
        client = distributed.Client(lc, set_as_default=False)
        try:
            t = time.perf_counter()
            rd = symgd.solve(str(folder / "fit.yaml"), cluster=client)
            td = time.perf_counter() - t
            Kd = rd.fit.kernels
            held = "kept in memory" if Kd.blocks.scattered else "read again every pass"
        finally:
            client.close()
            lc.close()
        t = time.perf_counter()
        rm = symgd.solve(str(folder / "fit.yaml"), cluster="off")
        tm = time.perf_counter() - t
    passes_d = Kd.passes  # the first read (sizes, checks) and every S, JᵀJ, Jᵀr pass
    passes_m = 1 + sum(rm.evaluations.get(k, 0) for k in ("f", "avv"))  # load + passes
    rel = float(np.max(np.abs(rd.x - rm.x) / np.abs(rm.x)))
    print(f"{'':10s} {'a':>18s} {'b':>18s} {'c':>18s} {'status':>10s} {'wall s':>8s} "
          f"{'passes':>6s} {'samples/s':>10s} {'x passes/s':>11s}")
    for name, r, tt, np_ in (("dask", rd, td, passes_d), ("in-memory", rm, tm, passes_m)):
        print(f"{name:10s} {r.x[0]:18.12f} {r.x[1]:18.12f} {r.x[2]:18.12f} {r.status:>10s} "
              f"{tt:8.2f} {np_:6d} {n / tt:10.3g} {n * np_ / tt:11.3g}")
    print(f"largest relative difference of the parameters: {rel:.2e} "
          f"({'within' if rel <= 1e-10 else 'OVER'} 1e-10); dask blocks: {held}; "
          f"timings dask {dict((k, round(v, 2)) for k, v in rd.timings.items())}; "
          f"in-memory {dict((k, round(v, 2)) for k, v in rm.timings.items())}; "
          f"iterations {rd.iterations} / {rm.iterations}, evaluations {rd.evaluations} / "
          f"{rm.evaluations}")


if __name__ == "__main__":
    os.environ.setdefault("SYMGD_DASK_CONNECT_TIMEOUT", "10")
    main()
