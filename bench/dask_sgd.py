"""Minibatch SGD streamed from Parquet parts on a Dask LocalCluster (symgd.dask.sgd)
against in-memory sgd on the same samples (issue 15: "sgd streams minibatches from the
chunks").

Both solve a a exp(-b x) + c fit of N samples (symgd.dask.synthetic's, written as parts
by bench/dask_fit.py's writer) with adam, batch 256, a cosine schedule (--schedule), a
fixed number of epochs. The samples are sorted by x, so each part holds a narrow range of
x: the hard case for streaming, where the steps of one block pull toward that block's
own fit (a constant learning rate ends near the last block's; a decaying one averages
them out). The two
runs visit the samples in different orders (on the cluster: blocks in a seeded order,
samples shuffled within each block), so their answers agree to the noise of SGD, not
to rounding: printed are both parameter vectors, their final mean losses and the
relative difference of those, wall time, and throughput in samples x epochs per second
of wall time.

Run: python bench/dask_sgd.py [--samples 2e7] [--epochs 2] [--part-rows 5e5]
         [--worker-mb 400] [--schedule cosine] [--folder DIR]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dask_fit import write_parts  # noqa: E402  (the same parts and problem file)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=float, default=2e7)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--part-rows", type=float, default=5e5)
    ap.add_argument("--worker-mb", type=float, default=400.0)
    ap.add_argument("--schedule", default="cosine")
    ap.add_argument("--folder")
    args = ap.parse_args()
    n = int(args.samples)
    import distributed

    import symgd

    opts = dict(method="sgd", epochs=args.epochs, batch_size=256, optimizer="adam",
                learning_rate=0.01, schedule=args.schedule, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder or tmp)
        if not (folder / "fit.yaml").exists():
            write_parts(folder, n, int(args.part_rows))
        lc = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      memory_limit=args.worker_mb * 1e6,
                                      dashboard_address=None, silence_logs=40)
        client = distributed.Client(lc, set_as_default=False)
        try:
            t = time.perf_counter()
            rd = symgd.solve(str(folder / "fit.yaml"), cluster=client, **opts)
            td = time.perf_counter() - t
            blocks = len(rd.fit.kernels.sizes)
        finally:
            client.close()
            lc.close()
        t = time.perf_counter()
        rm = symgd.solve(str(folder / "fit.yaml"), cluster="off", **opts)
        tm = time.perf_counter() - t
    print(f"{n:.3g} samples in {blocks} blocks, {args.epochs} epochs of adam, batch 256, "
          f"schedule {args.schedule}; "
          f"2 workers x {args.worker_mb:.0f} MB")
    print(f"{'':10s} {'a':>14s} {'b':>14s} {'c':>14s} {'mean loss':>14s} {'status':>9s} "
          f"{'wall s':>7s} {'samples x epochs / s':>21s}")
    for name, r, tt in (("dask", rd, td), ("in-memory", rm, tm)):
        print(f"{name:10s} {r.x[0]:14.9f} {r.x[1]:14.9f} {r.x[2]:14.9f} {r.fun:14.9g} "
              f"{r.status:>9s} {tt:7.1f} {n * r.iterations / tt:21.3g}")
    rel = abs(rd.fun - rm.fun) / rm.fun
    print(f"relative difference of the final losses {rel:.2e}; timings "
          f"dask {dict((k, round(v, 1)) for k, v in rd.timings.items())}, in-memory "
          f"{dict((k, round(v, 1)) for k, v in rm.timings.items())}")


if __name__ == "__main__":
    os.environ.setdefault("SYMGD_DASK_CONNECT_TIMEOUT", "10")
    main()
