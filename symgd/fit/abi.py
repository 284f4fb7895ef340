"""C signatures of data kernels (shared by the generated modules and the drivers).

    chunk kernel   double k(double *theta, double *data, int64 n, int64 start,
                            int64 stop, double *out)
    batch kernel   double k(double *theta, double *rows, int64 stride, int64 *idx,
                            int64 m, double *grad)

A chunk kernel's ``data`` is the (n_columns, n) float64 array of symgd.io.data,
C-contiguous: column j of sample i is data[j * n + i] (the sample loop reads each
column sequentially and vectorises). A batch kernel's ``rows`` is the same data laid
out by sample, (n, stride) C-contiguous (Dataset.rows()): column j of sample i is
rows[i * stride + j]. Minibatches visit samples in random order, and a sample's
columns then share one or two cache lines instead of one line per column, which made
an epoch of SGD 1.5x faster (symgd.methods.batchcall). See symgd.fit.parallel for what
each kernel returns.
"""
from numba import types

F64P = types.CPointer(types.float64)
I64P = types.CPointer(types.int64)
CHUNK_SIG = types.float64(F64P, F64P, types.int64, types.int64, types.int64, F64P)
BATCH_SIG = types.float64(F64P, F64P, types.int64, I64P, types.int64, F64P)
