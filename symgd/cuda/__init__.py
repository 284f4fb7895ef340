"""Data-fit kernels on a CUDA device (SPEC §2, ``device: cuda``; issue 16).

Layout (one job per module; numba's CUDA target is imported only inside functions, so
importing this package costs nothing and never needs a GPU):
    availability  is a device there, and may this method run on it (InputError if not)
    codegen       the source of the per-sample least-squares kernel (@cuda.jit)
    kernels       the data on the device, the kernel loaded, ``lsq`` callable from Python
    lossgen       the source of the loss kernels (loss, gradient, Hessian sums)
    objective     those kernels as F, grad F, hess F behind a PythonBundle, for the
                  compiled loops of newton, bfgs, lbfgs, gd and linesearch
    minibatch     sgd's batch kernel as a C callback whose sums run on the device

The optional extra ``pip install symgd[cuda]`` brings NVIDIA's numba-cuda; numba's own
(deprecated) ``numba.cuda`` is accepted too. numba's simulator (NUMBA_ENABLE_CUDASIM=1)
counts as a device, which is how the tests run these kernels without a GPU.
"""
