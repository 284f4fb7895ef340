"""Status codes shared by the compiled loops and the Python side (no sympy, no numba)."""

RUNNING = 0
CONVERGED = 1
MAX_ITER = 2
DIVERGED = 3
STALLED = 4
UNBOUNDED = 5

NAMES = {CONVERGED: "converged", MAX_ITER: "max_iter", DIVERGED: "diverged",
         STALLED: "stalled", UNBOUNDED: "unbounded"}

# Why a loop stopped (istate[REASON]); turned into words by methods/driver.py.
R_NONE = 0
R_GRAD = 1            # gradient test held
R_MAXITER = 2
R_LS_NONFINITE = 3    # the line search met only non-finite values
R_LS_NODECREASE = 4   # the line search found no decrease
R_SMALL_STEP = 5      # steps became negligible without the gradient test holding
R_NONFINITE = 6       # f or the gradient became non-finite at an accepted point
R_RISING = 7          # f kept rising under a fixed step
R_UNBOUNDED = 8       # f fell below -1e150 (or x ran off to 1e150)
R_WORSE = 9           # the gradient test held at a point worse than the start

# Slots of the integer state array istate.
I_ITER, I_NFEV, I_NGEV, I_NHEV, I_INIT, I_REASON, I_RISES, I_NSMALL, I_SINCE_BEST = range(9)
N_ISTATE = 9
# Slots of the float state array fstate.
F_F, F_GNORM, F_FBEST, F_STEP, F_F0, F_GTD, F_LRSCALE, F_RELG = range(8)
N_FSTATE = 8

# Rows of the work matrix W, and where parameters end in the packed arrays.
W_X, W_G, W_LO, W_HI, W_XBEST, W_OPT1, W_OPT2 = range(7)  # W_OPT*: optimizer state (gd)
N_W = 7
N_PAR = 16
# Every loop reads the convergence test's scales from the last two float parameters.
P_TYP_X, P_TYP_F = N_PAR - 2, N_PAR - 1

# Columns of the trace array T (one row per iteration, row 0 the start).
T_F, T_GNORM, T_STEP, T_LR = range(4)
N_TRACE = 4
