"""
Suite-wide test settings.

Hypothesis runs without its wall-clock deadline (a simulated scenario's real
running time depends on how loaded the machine is, and a deadline would make
CI flaky), derandomized (the same examples every run, like esm_sim itself), and
without an example database (nothing written into the checkout).
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "esm_sim",
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("esm_sim")


# Progress bars (tests/test_simulation.py, tests/test_sweep.py): tqdm replaced or hidden.


class FakeBar:
    """Stands in for tqdm: records what it was built with and driven to."""

    made: ClassVar[list[FakeBar]] = []

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.n: float = 0
        self.postfix = ""
        self.postfixes: list[str] = []  # every update's postfix, in order
        self.closed = False
        FakeBar.made.append(self)

    def update(self, delta: float) -> None:
        self.n += delta

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text
        self.postfixes.append(text)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_tqdm(monkeypatch: pytest.MonkeyPatch) -> list[FakeBar]:
    """Replace tqdm (both tqdm.auto.tqdm and tqdm.tqdm) with FakeBar; the bars made."""
    pytest.importorskip("tqdm")
    FakeBar.made = []
    monkeypatch.setattr("tqdm.auto.tqdm", FakeBar)
    monkeypatch.setattr("tqdm.tqdm", FakeBar)
    return FakeBar.made


@pytest.fixture
def no_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `import tqdm` fail, as when the progress extra is not installed."""
    for name in ("tqdm", "tqdm.auto"):
        monkeypatch.setitem(sys.modules, name, None)
