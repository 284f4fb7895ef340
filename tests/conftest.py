"""Shared test settings."""
from hypothesis import settings

# Property tests draw the same examples on every run, so CI never fails by chance;
# each test's own @settings (max_examples, deadline) still apply.
settings.register_profile("symgd", derandomize=True)
settings.load_profile("symgd")
