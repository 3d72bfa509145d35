"""The Simulation facade's own helpers."""

from __future__ import annotations

import gc
import io
import sys
from datetime import datetime
from typing import Any

import pytest

import esm_sim
from esm_sim import _progress
from esm_sim.errors import ConfigError


class TestFreezeGc:
    def test_freeze_gc_freezes_and_can_be_undone(self) -> None:
        """freeze_gc() moves live objects to the permanent generation; gc.unfreeze() undoes it."""
        sim = esm_sim.Simulation(seed=0)
        try:
            assert sim.freeze_gc() > 0
            assert gc.get_freeze_count() > 0
        finally:
            gc.unfreeze()
        assert 0 == gc.get_freeze_count()

    def test_simulation_runs_the_same_after_freezing(self) -> None:
        """Freezing the GC changes no outcome: the same trace with and without it."""

        def build(freeze: bool) -> str:
            sim = esm_sim.Simulation(seed=3)
            table = sim.create_table("orders", partition_key="pk")
            sim.create_function("f", lambda e, c: None)
            sim.lambda_client.create_event_source_mapping(
                FunctionName="f", EventSourceArn=table.stream_arn, StartingPosition="TRIM_HORIZON"
            )
            for i in range(50):
                table.put_item({"pk": f"k{i}"})
            if freeze:
                sim.freeze_gc()
            try:
                sim.run_until_idle()
            finally:
                gc.unfreeze()
            return sim.trace.text()

        assert build(False) == build(True)


class TestSimulationArguments:
    @pytest.mark.parametrize(
        ("kwargs", "pattern"),
        [
            ({"seed": "x"}, r"^seed='x' must be an int"),
            ({"start": datetime(2026, 1, 1)}, r"^start=.* must be a timezone-aware datetime"),
            ({"region": "mars"}, r"^region='mars' must be an AWS region name"),
            ({"account_id": "12"}, r"^account_id='12' must be 12 digits"),
            ({"account_concurrency": 50}, r"^account_concurrency=50 must be an int from 100 to"),
            ({"max_filters": 11}, r"^max_filters=11 must be an int from 1 to 10$"),
            ({"poll_interval": 0}, r"^poll_interval=0 must be a number of seconds from 1 ms"),
            ({"state_transition_delay": -1}, r"^state_transition_delay=-1 must be a number"),
            ({"retention_hours": 0}, r"^retention_hours=0 must be a number of hours from 1 ms"),
            ({"shard_rollover_hours": -1}, r"^shard_rollover_hours=-1 must be a number of hours"),
            ({"iterator_age_at": "later"}, r"^iterator_age_at='later' must be one of 'send'"),
            ({"max_readers_per_shard": -1}, r"^max_readers_per_shard=-1 must be an int from 0"),
            ({"partial_retry_delay": -1}, r"^partial_retry_delay=-1 must be a number of seconds"),
            ({"partial_retry_delay": "1"}, r"^partial_retry_delay='1' must be a number"),
            ({"non_object_response": "drop"}, r"^non_object_response='drop' must be one of"),
            ({"record_age_min_invoke_count": 2}, r"^record_age_min_invoke_count=2 must be one"),
            (
                {"record_age_min_invoke_count": True},
                r"^record_age_min_invoke_count=True must be one",
            ),
            ({"tumbling_window_alignment": "x"}, r"^tumbling_window_alignment='x' must be one"),
            ({"tumbling_window_close": "never"}, r"^tumbling_window_close='never' must be one"),
            ({"get_records_per_poll": 0}, r"^get_records_per_poll=0 must be an int from 1"),
            ({"get_records_per_poll": 1.5}, r"^get_records_per_poll=1\.5 must be an int from 1"),
        ],
        ids=lambda v: repr(v) if isinstance(v, dict) else "",
    )
    def test_bad_arguments_are_refused_naming_the_value(
        self, kwargs: dict[str, object], pattern: str
    ) -> None:
        """Each bad Simulation argument raises a ConfigError that names it and its value."""
        with pytest.raises(ConfigError, match=pattern):
            esm_sim.Simulation(**kwargs)  # type: ignore[arg-type]


def _busy(seed: int = 0, writes: int = 50) -> esm_sim.Simulation:
    """A simulation with ``writes`` records waiting, delivered 2 per invocation."""
    sim = esm_sim.Simulation(seed=seed)
    table = sim.create_table("orders", partition_key="pk")
    sim.create_function("fn", lambda event, context: None)
    sim.lambda_client.create_event_source_mapping(
        FunctionName="fn",
        EventSourceArn=table.stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=2,
    )
    for i in range(writes):
        table.put_item({"pk": f"k{i}"})
    return sim


class TestProgressOff:
    def test_progress_false_makes_no_bar(self, fake_tqdm: list[Any]) -> None:
        """progress=False never builds a bar, on any of the clock-running calls."""
        sim = _busy()
        sim.run_until_idle(progress=False)
        sim.run_for(60, progress=False)
        sim.run_until(sim.now_ms / 1000 + 60, progress=False)
        assert [] == fake_tqdm

    def test_automatic_progress_is_off_in_ci(
        self, fake_tqdm: list[Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """progress=None makes no bar with the CI environment variable set, even on a terminal."""
        monkeypatch.setenv("CI", "true")
        monkeypatch.setattr(sys, "stdout", _Terminal())
        _busy().run_until_idle()
        assert [] == fake_tqdm

    def test_automatic_progress_is_off_when_stdout_is_not_a_terminal(
        self, fake_tqdm: list[Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """progress=None makes no bar when stdout is not a terminal (a CI log, a pipe)."""
        monkeypatch.delenv("CI", raising=False)
        monkeypatch.setattr(sys, "stdout", io.StringIO())
        _busy().run_until_idle()
        assert [] == fake_tqdm


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class TestProgressOn:
    def test_automatic_progress_on_a_terminal_waits_two_seconds(
        self, fake_tqdm: list[Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """progress=None on a terminal outside CI builds a bar drawn only after 2 wall seconds."""
        monkeypatch.delenv("CI", raising=False)
        monkeypatch.setattr(sys, "stdout", _Terminal())
        _busy().run_until_idle()
        assert [2.0] == [bar.options.get("delay") for bar in fake_tqdm]

    def test_progress_true_drives_the_bar_to_the_end(self, fake_tqdm: list[Any]) -> None:
        """progress=True shows virtual seconds reached, records and invocations, then closes."""
        sim = _busy()
        sim.run_for(3600, progress=True)
        (bar,) = fake_tqdm
        assert (3600, 3600, True) == (bar.options["total"], bar.n, bar.closed)
        assert bar.postfix.endswith("records=50, invocations=25")
        assert "delay" not in bar.options

    def test_progress_updates_between_slices(
        self, fake_tqdm: list[Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The bar is updated every EVERY events, not only at the end."""
        monkeypatch.setattr(_progress, "EVERY", 3)
        _busy().run_until_idle(progress=True)
        (bar,) = fake_tqdm
        assert len(bar.postfixes) > 10

    def test_progress_to_a_stream_writes_a_bar_there(self) -> None:
        """progress=<stream> draws the bar on that stream, ending with the totals."""
        pytest.importorskip("tqdm")
        out = io.StringIO()
        _busy().run_until_idle(progress=out)
        assert "records=50, invocations=25" in out.getvalue()

    def test_a_bar_does_not_change_the_run(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The same seed gives the same trace and clock with a bar (in many slices) and without."""
        pytest.importorskip("tqdm")
        monkeypatch.setattr(_progress, "EVERY", 3)
        without, with_bar = _busy(seed=7), _busy(seed=7)
        without.run_until_idle(progress=False)
        without.run_for(600, progress=False)
        with_bar.run_until_idle(progress=io.StringIO())
        with_bar.run_for(600, progress=io.StringIO())
        assert (without.trace.digest(), without.now_ms) == (
            with_bar.trace.digest(),
            with_bar.now_ms,
        )


class TestProgressWithoutTqdm:
    def test_progress_true_without_tqdm_names_the_extra(self, no_tqdm: None) -> None:
        """progress=True without tqdm raises ConfigError naming the install command."""
        with pytest.raises(ConfigError, match=r"pip install 'esm_sim\[progress\]'"):
            _busy().run_until_idle(progress=True)

    def test_automatic_progress_without_tqdm_shows_nothing(
        self, no_tqdm: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """progress=None without tqdm runs as usual, silently without a bar, even on a terminal."""
        monkeypatch.delenv("CI", raising=False)
        terminal = _Terminal()
        monkeypatch.setattr(sys, "stdout", terminal)
        sim = _busy()
        sim.run_until_idle()
        assert ("", True) == (terminal.getvalue(), sim.is_idle())

    def test_automatic_progress_skips_a_bar_tqdm_cannot_draw(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """progress=None runs without a bar when tqdm cannot draw one (a notebook without widgets)."""
        pytest.importorskip("tqdm")

        def no_widgets(**options: Any) -> None:
            raise ImportError("IProgress not found")

        monkeypatch.setattr("tqdm.auto.tqdm", no_widgets)
        monkeypatch.delenv("CI", raising=False)
        monkeypatch.setattr(sys, "stdout", _Terminal())
        sim = _busy()
        sim.run_until_idle()
        assert sim.is_idle()

    def test_a_bad_progress_value_is_refused(self) -> None:
        """progress= other than None, a bool or a stream raises ConfigError naming it."""
        with pytest.raises(ConfigError, match=r"progress='yes' must be None"):
            _busy().run_for(1, progress="yes")
