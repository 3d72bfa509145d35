"""
The esm_sim pytest plugin: a ``simulation`` fixture, ``--esm-sim-seed``, traces on failure.

pytest loads this module through the ``pytest11`` entry point in every session
of a project that has esm_sim installed, so it imports nothing from esm_sim at
module level: esm_sim (and never Hypothesis) is imported only when a test asks
for the fixture.

- ``simulation``: a fresh :class:`esm_sim.Simulation` seeded with
  ``--esm-sim-seed`` (default 0). At teardown it warns about records still
  pending (``esm_sim.errors.PendingRecordsWarning``: run ``sim.run_until_idle()``).
- ``aws_simulation``: the same, inside ``sim.mock_aws()`` (boto3 talks to moto
  and the simulation) with ``handler_clock="virtual"``; needs ``esm_sim[aws]``.
- When a test that used the fixture fails, the simulation's trace is added to
  the failure report as the section "esm_sim trace".

Why there is no ``hypothesis.register_random`` here: esm_sim has no ambient
RNG. Every id and choice comes from the ``Simulation``'s own seed (a SplitMix64
stream derived by name, ``esm_sim._engine.rng``), never from the ``random``
module or any module-level state. A Hypothesis example builds its simulation
from drawn values (the seed included, in ``strategies.scenarios()``), so when
Hypothesis replays or shrinks an example it replays the draws, and the same
draws give the same simulation, byte for byte. There is nothing for Hypothesis
to seed or restore.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from esm_sim import Simulation

# The simulations of the test's fixtures, by fixture name, in the order they were made.
_SIM_KEY = pytest.StashKey[dict[str, "Simulation"]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--esm-sim-seed`` (namespaced, as Hypothesis's ``--hypothesis-seed``)."""
    group = parser.getgroup("esm_sim", "esm_sim simulator")
    group.addoption(
        "--esm-sim-seed",
        action="store",
        type=int,
        default=0,
        dest="esm_sim_seed",
        help="seed of the `simulation` fixture's Simulation (default: 0)",
    )


@pytest.fixture
def simulation(request: pytest.FixtureRequest) -> Generator[Simulation, None, None]:
    """
    A fresh ``esm_sim.Simulation`` seeded with ``--esm-sim-seed`` (default 0).

    At the end of the test it warns ``PendingRecordsWarning`` for records still
    pending (the test never ran the clock far enough) and ``SelfTriggerWarning``
    for a handler that wrote into its own source table.
    """
    from esm_sim import Simulation
    from esm_sim._mapping.advice import warn_pending

    sim = Simulation(seed=request.config.getoption("esm_sim_seed"))
    request.node.stash.setdefault(_SIM_KEY, {})["simulation"] = sim
    yield sim
    warn_pending(sim, "the test")


@pytest.fixture
def aws_simulation(request: pytest.FixtureRequest) -> Generator[Simulation, None, None]:
    """
    A fresh ``esm_sim.Simulation`` inside ``sim.mock_aws()``, handlers on its virtual clock.

    Seeded with ``--esm-sim-seed``, with ``handler_clock="virtual"``: every boto3
    client the test or its handlers make talks to moto and the simulation (see
    ``Simulation.mock_aws``). Needs ``pip install 'esm_sim[aws]'``. At teardown
    it warns as ``simulation`` does.
    """
    from esm_sim import Simulation
    from esm_sim._mapping.advice import warn_pending

    sim = Simulation(seed=request.config.getoption("esm_sim_seed"), handler_clock="virtual")
    request.node.stash.setdefault(_SIM_KEY, {})["aws_simulation"] = sim
    with sim.mock_aws():
        yield sim
    warn_pending(sim, "the test")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, Any]:
    """Add the trace of the test's simulation to the report of a failing test."""
    report = yield
    if report.failed:
        sims = item.stash.get(_SIM_KEY, {})
        for name, sim in sims.items():
            title = "esm_sim trace" if len(sims) == 1 else f"esm_sim trace ({name})"
            report.sections.append((title, sim.trace.text()))
    return report
