"""Tests of esm_sim.pytest_plugin: the fixture, --esm-sim-seed, the trace on failure."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

TEST_FILE = """
def test_seed(simulation):
    simulation.create_table("orders", partition_key="pk")
    assert simulation.seed == {seed}
"""


class TestSimulationFixture:
    def test_default_seed_is_zero(self, pytester: pytest.Pytester) -> None:
        """Without the option the fixture's simulation has seed 0."""
        pytester.makepyfile(TEST_FILE.format(seed=0))
        pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)

    def test_seed_option(self, pytester: pytest.Pytester) -> None:
        """--esm-sim-seed seeds the fixture's simulation."""
        pytester.makepyfile(TEST_FILE.format(seed=7))
        result = pytester.runpytest("-p", "no:cacheprovider", "--esm-sim-seed", "7")
        result.assert_outcomes(passed=1)

    def test_failing_test_shows_the_trace(self, pytester: pytest.Pytester) -> None:
        """A failing test that used the fixture gets the trace in an 'esm_sim trace' section."""
        pytester.makepyfile(TEST_FILE.format(seed=1))
        result = pytester.runpytest("-p", "no:cacheprovider", "--esm-sim-seed", "3")
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*esm_sim trace*", "# esm_sim trace seed=3 *"])

    def test_a_test_with_both_fixtures_shows_both_traces(self, pytester: pytest.Pytester) -> None:
        """A failing test that used simulation and aws_simulation gets one trace section per fixture, each named."""
        pytest.importorskip("moto")
        pytester.makepyfile(
            """
def test_both(simulation, aws_simulation):
    simulation.create_table("orders", partition_key="pk")
    aws_simulation.create_table("events", partition_key="pk")
    assert False
"""
        )
        result = pytester.runpytest("-p", "no:cacheprovider")
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(
            ["*esm_sim trace (simulation)*", "*esm_sim trace (aws_simulation)*"]
        )

    def test_failing_test_without_the_fixture_shows_no_trace(
        self, pytester: pytest.Pytester
    ) -> None:
        """Tests that did not use the fixture get no trace section."""
        pytester.makepyfile("def test_x():\n    assert False\n")
        result = pytester.runpytest("-p", "no:cacheprovider")
        result.assert_outcomes(failed=1)
        assert "esm_sim trace" not in result.stdout.str()

    def test_option_is_listed_in_help(self, pytester: pytest.Pytester) -> None:
        """`pytest --help` lists --esm-sim-seed (the plugin is registered by entry point)."""
        result = pytester.runpytest("--help")
        result.stdout.fnmatch_lines(["*--esm-sim-seed*"])


class TestLazyImport:
    def test_plugin_import_is_light(self) -> None:
        """Loading the plugin imports neither hypothesis nor esm_sim's optional modules."""
        code = (
            "import sys, esm_sim.pytest_plugin; "
            "print(sorted(m for m in sys.modules if m.startswith("
            "('hypothesis', 'esm_sim.strategies', 'esm_sim.testing', 'esm_sim.invariants'))))"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert "[]" == result.stdout.strip()
