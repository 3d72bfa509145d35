"""
Suite-wide test settings.

Hypothesis runs without its wall-clock deadline (a simulated scenario's real
running time depends on how loaded the machine is, and a deadline would make
CI flaky), derandomized (the same examples every run, like esm_sim itself), and
without an example database (nothing written into the checkout).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "esm_sim",
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("esm_sim")
