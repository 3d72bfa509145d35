"""
The settings table: each ``Simulation`` setting is defined once, in ``Behaviour``'s metadata.

``esm_sim._mapping.config.SETTINGS`` checks and converts every setting; these
tests keep the table, ``Simulation``'s signature, its docstring and the README's
"Where AWS is silent" table in step, and pin the checks that apply to every
setting of a kind.
"""

from __future__ import annotations

import inspect
import math
import re
from pathlib import Path
from typing import Any

import attrs
import pytest

import esm_sim
from esm_sim._mapping.config import ORDERED, SETTINGS, Behaviour, Setting
from esm_sim.errors import ConfigError

README = Path(__file__).resolve().parent.parent / "README.md"
# Simulation keywords that are not behaviour settings: identity and placement.
NOT_SETTINGS = ("seed", "start", "region", "account_id", "handler_clock", "history_hours")
BY_KIND = {kind: [s for s in SETTINGS if s.kind == kind] for kind in ("bool", "count", "duration")}


def _keywords() -> dict[str, inspect.Parameter]:
    parameters = inspect.signature(esm_sim.Simulation.__init__).parameters
    return {name: p for name, p in parameters.items() if name != "self"}


def _by_name(settings: list[Setting]) -> list[Any]:
    return [pytest.param(s, id=s.name) for s in settings]


class TestSettingsTable:
    def test_every_setting_is_a_simulation_keyword_with_its_default(self) -> None:
        """Each setting is a keyword-only argument of Simulation with the same default."""
        keywords = _keywords()
        expected = {s.name: (inspect.Parameter.KEYWORD_ONLY, s.default) for s in SETTINGS}
        actual = {
            name: (keywords[name].kind, keywords[name].default)
            for name in expected
            if name in keywords
        }
        assert expected == actual

    def test_every_simulation_keyword_is_a_setting(self) -> None:
        """Simulation takes no keyword that is not in the table, apart from seed, start, region, account_id, handler_clock and history_hours (what handlers see and what is remembered, not how mappings behave)."""
        assert sorted(s.name for s in SETTINGS) == sorted(set(_keywords()) - set(NOT_SETTINGS))

    def test_every_setting_is_in_the_readme_table(self) -> None:
        """The README's "Where AWS is silent" table names every setting in its setting column."""
        section = README.read_text().split("## Where AWS is silent", 1)[1].split("\n## ", 1)[0]
        named = {
            name
            for row in section.splitlines()
            if row.startswith("|")
            for name in re.findall(r"`([a-z_]+)`", row.rsplit("|", 2)[-2])
        }
        assert [] == [s.name for s in SETTINGS if s.name not in named]

    def test_every_setting_is_in_the_simulation_docstring(self) -> None:
        """Simulation's docstring documents every setting by name."""
        doc = esm_sim.Simulation.__doc__ or ""
        assert [] == [s.name for s in SETTINGS if not re.search(rf"\b{s.name}\b", doc)]

    def test_each_setting_names_its_behaviour_field(self) -> None:
        """SETTINGS holds one Setting per Behaviour field, in field order, naming that field."""
        fields = [f.name for f in attrs.fields(Behaviour)]
        assert fields == [s.field for s in SETTINGS]

    def test_defaults_give_the_default_behaviour(self) -> None:
        """No settings and every default given explicitly both build Behaviour()."""
        assert Behaviour() == Behaviour.from_settings()
        assert Behaviour() == Behaviour.from_settings(**{s.name: s.default for s in SETTINGS})

    def test_to_settings_round_trips(self) -> None:
        """Behaviour.to_settings() gives the keywords that build the same Behaviour."""
        behaviour = Behaviour.from_settings(
            poll_interval=0.5,
            shard_rollover_hours=0,
            partial_retry_delay=2,
            iterator_age_at="finish",
        )
        assert behaviour == Behaviour.from_settings(**behaviour.to_settings())

    @pytest.mark.parametrize("setting", _by_name(list(SETTINGS)))
    def test_shape_is_what_a_strategy_can_draw_from(self, setting: Setting) -> None:
        """A bool or choice lists its default first; a count or duration has a typical range inside its bounds that it accepts."""
        assert setting.spec and setting.doc and "\n" not in setting.doc
        if setting.kind in ("bool", "choice"):
            assert setting.default == setting.choices[0]
            assert (None, None, None) == (setting.min_value, setting.max_value, setting.typical)
            for choice in setting.choices:
                setting.to_field(choice)
            return
        assert setting.typical is not None
        assert setting.min_value is not None and setting.max_value is not None
        low, high = setting.typical
        assert setting.min_value <= low < high <= setting.max_value
        for value in (setting.min_value, setting.max_value, low, high, *setting.special_values):
            setting.to_field(value)
        assert setting.default in (*setting.special_values, setting.default)
        setting.to_field(setting.default)

    def test_typical_ranges_keep_ordered_pairs_in_order(self) -> None:
        """Independent draws from the typical ranges always satisfy ORDERED."""
        by_name = {s.name: s for s in SETTINGS}
        for low_name, high_name in ORDERED:
            low, high = by_name[low_name].typical, by_name[high_name].typical
            assert low is not None and high is not None
            assert low[1] <= high[0]


class TestSettingValues:
    @pytest.mark.parametrize("setting", _by_name(BY_KIND["bool"]))
    @pytest.mark.parametrize("value", ["False", 0, 1, None], ids=repr)
    def test_a_bool_must_be_a_real_bool(self, setting: Setting, value: object) -> None:
        """A bool setting refuses a truthy or falsy non-bool ("False" would have meant True)."""
        with pytest.raises(
            ConfigError, match=rf"^{setting.name}={re.escape(repr(value))} must be True or False"
        ):
            esm_sim.Simulation(**{setting.name: value})

    @pytest.mark.parametrize("setting", _by_name(BY_KIND["count"]))
    @pytest.mark.parametrize("value", [True, False, 2.0, "3", None], ids=repr)
    def test_a_count_must_be_a_real_int(self, setting: Setting, value: object) -> None:
        """A count setting refuses a bool, a float or a string, naming the value."""
        with pytest.raises(
            ConfigError, match=rf"^{setting.name}={re.escape(repr(value))} must be an int from"
        ):
            esm_sim.Simulation(**{setting.name: value})

    @pytest.mark.parametrize("setting", _by_name(BY_KIND["duration"]))
    @pytest.mark.parametrize(
        "value", [math.nan, math.inf, -math.inf, -1, 1e300, 10**400, True, "1"], ids=repr
    )
    def test_a_duration_must_be_a_finite_number_in_range(
        self, setting: Setting, value: object
    ) -> None:
        """A duration setting refuses NaN, infinities, negative and absurd values, bools and strings, naming the value."""
        with pytest.raises(
            ConfigError,
            match=rf"^{setting.name}={re.escape(repr(value))} must be a number of {setting.unit}",
        ):
            esm_sim.Simulation(**{setting.name: value})

    @pytest.mark.parametrize(
        ("kwargs", "pattern"),
        [
            (
                {"poll_interval": 0.0001},
                r"^poll_interval=0\.0001 must be .* \(0\.0001 seconds is 0 ms\)$",
            ),
            (
                {"retention_hours": 1e-9},
                r"^retention_hours=1e-09 must be .* \(1e-09 hours is 0 ms\)$",
            ),
            ({"shard_rollover_hours": 1e-9}, r"^shard_rollover_hours=1e-09 must be .*, or 0 "),
            ({"partial_retry_delay": 0.0004}, r"^partial_retry_delay=0\.0004 must be .*, or None "),
            ({"retry_backoff_base": 0.0001}, r"^retry_backoff_base=0\.0001 must be .* from 1 ms"),
        ],
        ids=lambda v: repr(v) if isinstance(v, dict) else "",
    )
    def test_a_duration_that_rounds_to_nothing_is_refused(
        self, kwargs: dict[str, object], pattern: str
    ) -> None:
        """A positive duration that rounds to 0 ms is refused where 0 is not allowed or means something else."""
        with pytest.raises(ConfigError, match=pattern):
            esm_sim.Simulation(**kwargs)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "kwargs",
        [{"retry_backoff_base": 0}, {"retry_backoff_max": 0}, {"partial_retry_delay": 0}],
        ids=repr,
    )
    def test_a_zero_wait_is_refused(self, kwargs: dict[str, object]) -> None:
        """A zero retry wait is refused: the retry would run at the same instant forever (spec 3.2, I)."""
        with pytest.raises(
            ConfigError, match=r"=0 must be a number of seconds from 1 ms to 604800"
        ):
            esm_sim.Simulation(**kwargs)  # type: ignore[arg-type]

    def test_the_backoff_cap_may_not_be_below_its_base(self) -> None:
        """retry_backoff_max below retry_backoff_base (given or default) is refused, naming both."""
        with pytest.raises(
            ConfigError,
            match=r"^retry_backoff_max=60\.0 must not be less than retry_backoff_base=90$",
        ):
            esm_sim.Simulation(retry_backoff_base=90)
        with pytest.raises(ConfigError, match=r"^retry_backoff_max_ms=500 must not be less than"):
            Behaviour(retry_backoff_max_ms=500)

    def test_special_values_keep_their_meaning(self) -> None:
        """shard_rollover_hours=0 turns rollovers off; partial_retry_delay=None waits the first backoff step."""
        behaviour = esm_sim.Simulation(
            shard_rollover_hours=0, partial_retry_delay=None, retry_backoff_base=3
        ).behaviour
        assert (0, -1, 3000) == (
            behaviour.shard_rollover_ms,
            behaviour.partial_retry_delay_ms,
            behaviour.partial_retry_wait_ms(),
        )

    def test_durations_are_converted_to_milliseconds(self) -> None:
        """Seconds and hours become integer milliseconds, rounded to the nearest."""
        behaviour = esm_sim.Simulation(
            poll_interval=0.0015, retention_hours=0.5, state_transition_delay=0
        ).behaviour
        assert (2, 1_800_000, 0) == (
            behaviour.poll_interval_ms,
            behaviour.retention_ms,
            behaviour.state_transition_ms,
        )

    def test_an_unknown_setting_is_refused(self) -> None:
        """Behaviour.from_settings refuses a name that is not a setting, listing the settings."""
        with pytest.raises(
            ConfigError, match=r"^pol_interval=1 is not a setting; the settings are "
        ):
            Behaviour.from_settings(pol_interval=1)

    @pytest.mark.parametrize(
        ("kwargs", "pattern"),
        [
            ({"poll_interval_ms": 0}, r"^poll_interval_ms=0 must be milliseconds from 1 to "),
            ({"poll_interval_ms": 0.5}, r"^poll_interval_ms=0\.5 must be milliseconds"),
            ({"shard_rollover_ms": -1}, r"^shard_rollover_ms=-1 must be milliseconds .* or 0$"),
            ({"bisect_resets_retries": 1}, r"^bisect_resets_retries=1 must be one of False, True$"),
            ({"max_filters": 11}, r"^max_filters=11 must be an int from 1 to 10$"),
        ],
        ids=lambda v: repr(v) if isinstance(v, dict) else "",
    )
    def test_behaviour_checks_its_fields_in_milliseconds(
        self, kwargs: dict[str, object], pattern: str
    ) -> None:
        """Behaviour built directly applies each setting's rule to the field, in ms."""
        with pytest.raises(ConfigError, match=pattern):
            Behaviour(**kwargs)  # type: ignore[arg-type]


class TestCheckedOnce:
    def test_equal_settings_share_one_behaviour(self) -> None:
        """Simulations with the same settings share one checked (frozen) Behaviour."""
        a = esm_sim.Simulation(seed=1, poll_interval=0.5)
        b = esm_sim.Simulation(seed=2, poll_interval=0.5)
        assert a.behaviour is b.behaviour
        assert a.behaviour is not esm_sim.Simulation(seed=1).behaviour

    @pytest.mark.parametrize(
        ("name", "good", "bad"),
        [("bisect_resets_retries", True, 1), ("get_records_per_poll", 2, 2.0)],
    )
    def test_a_checked_value_does_not_pass_an_equal_value_of_another_type(
        self, name: str, good: object, bad: object
    ) -> None:
        """After ``name=good`` is accepted, an equal value of another type is still refused."""
        esm_sim.Simulation(**{name: good})
        with pytest.raises(ConfigError, match=rf"^{name}={re.escape(repr(bad))} must be"):
            esm_sim.Simulation(**{name: bad})
