"""Shared test settings."""
from hypothesis import settings

# Property tests draw the same examples on every run, so CI never fails by chance;
# each test's own @settings (max_examples, deadline) still apply.
settings.register_profile("symgd", derandomize=True)
settings.load_profile("symgd")

# The files that take longest on CI (2 cores, empty kernel cache), longest first. With
# --dist loadfile each file runs whole on one worker, and pytest-xdist would otherwise
# hand out the files with the most tests first, leaving these (few tests, one long
# module fixture each: the HS sets by auglag and sqp, NIST, the CUDA simulator) to the
# end, where one of them alone kept a worker busy minutes after the other had finished.
# Started first, they run while the small files fill in the other worker's time. The
# HS set by sqp comes after the one by auglag has compiled the problems' kernels.
# test_hostile.py comes first of all, so its subprocesses' CPU budgets are measured
# before the heavy files run beside them (its own fixture warms the compiled CSV reader,
# whose first compile once broke those budgets).
# Nothing else depends on the order: every file also passes on its own.
SLOWEST_FIRST = [
    "test_hostile.py", "test_constrained.py", "test_templates.py", "test_nist.py",
    "test_cuda_methods_sim.py", "test_mgh_solve.py", "test_interior.py",
    "test_no_false_success_problems.py", "test_dask.py",
    "test_cache_robust.py", "test_verify_fit.py", "test_auto.py",
    "test_cuda_multistart_sim.py", "test_symengine_backend.py",
]


def pytest_configure(config):
    # keep the order below (pytest-xdist >= 3.6 reorders files by their number of tests)
    if getattr(config.option, "loadscopereorder", None):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    rank = {name: k for k, name in enumerate(SLOWEST_FIRST)}
    count = {}
    for item in items:
        count[item.path] = count.get(item.path, 0) + 1
    # stable: a file's tests keep their order; the other files follow, most tests first
    items.sort(key=lambda item: (rank.get(item.path.name, len(rank)), -count[item.path]))
