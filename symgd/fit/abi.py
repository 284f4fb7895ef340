"""C signatures of data kernels (shared by the generated modules and the drivers).

    chunk kernel   double k(double *theta, double *data, int64 n, int64 start,
                            int64 stop, double *out)
    batch kernel   double k(double *theta, double *data, int64 n, int64 *idx, int64 m,
                            double *grad)

``data`` is the (n_columns, n) float64 array of symgd.io.data, C-contiguous: column j
of sample i is data[j * n + i]. See symgd.fit.parallel for what each kernel returns.
"""
from numba import types

F64P = types.CPointer(types.float64)
I64P = types.CPointer(types.int64)
CHUNK_SIG = types.float64(F64P, F64P, types.int64, types.int64, types.int64, F64P)
BATCH_SIG = types.float64(F64P, F64P, types.int64, I64P, types.int64, F64P)
