"""``python -m symgd``: the command line."""
import sys

from symgd.startup import defer_blas_check

defer_blas_check()  # before numba loads: scipy.linalg only where BLAS is compiled

from symgd.cli import main  # noqa: E402

sys.exit(main())
