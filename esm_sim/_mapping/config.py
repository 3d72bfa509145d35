"""
Settings: one mapping's AWS parameters, and the simulator's choices where AWS is silent.

``MappingConfig`` holds a mapping's parameters in snake_case with time already
in integer milliseconds; it is built once per create or update, from the
request boto3 would send (the AWS-facing names).

``Behaviour`` holds every choice the spec tags I (inferred), plus the two account
quotas a test may change. Each of its fields is one keyword argument of
``Simulation``, and is defined once, here: the field's metadata is a
:class:`Setting` that names the keyword, its kind, default, unit and accepted
range, and converts and checks a value given at the edge.
``Behaviour.from_settings(**kwargs)`` is the one place where ``Simulation``'s
keyword arguments are checked and turned into milliseconds, and every setting is
listed (by its keyword) in the README section "Where AWS is silent".

``SETTINGS`` is the table, one frozen :class:`Setting` per ``Behaviour`` field,
in field order. Each has:

* ``name``: the ``Simulation`` keyword (``"retry_backoff_base"``);
* ``field``: the ``Behaviour`` field it sets (``"retry_backoff_base_ms"``);
* ``kind``: ``"bool"``, ``"choice"``, ``"count"`` (an int) or ``"duration"``
  (a number of ``unit``);
* ``default``: the keyword's default, in edge units (``1.0``, ``None``, ``"epoch"``);
* ``unit``: ``"seconds"`` or ``"hours"`` for a duration, else None;
* ``choices``: the accepted values of a bool (``(False, True)``) or a choice;
* ``min_value``, ``max_value``: the accepted range of a count or duration, in
  edge units (a duration is also refused if it rounds to fewer ms than the
  least); None for a bool or choice;
* ``special_values``: values accepted outside that range, with a meaning of
  their own (``shard_rollover_hours=0``: off; ``partial_retry_delay=None``: the
  first backoff step);
* ``typical``: ``(low, high)``, a narrower range a test strategy can draw from
  without making runs long; independent draws from the typical ranges always
  satisfy ``ORDERED``;
* ``spec``: the spec section(s); ``doc``: one line on what it chooses.

``ORDERED`` lists the pairs of settings whose first may not exceed its second
(``retry_backoff_base`` <= ``retry_backoff_max``). A Hypothesis strategy can
build ``Simulation`` keyword arguments from the table, e.g.::

    def draw_setting(s: Setting) -> st.SearchStrategy[object]:
        if s.choices:
            return st.sampled_from(s.choices)
        low, high = s.typical
        values = st.integers(low, high) if s.kind == "count" else st.floats(low, high)
        return st.sampled_from(s.special_values) | values if s.special_values else values

    st.fixed_dictionaries({}, optional={s.name: draw_setting(s) for s in SETTINGS})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

import attrs

from esm_sim._engine.timefmt import seconds_to_ms
from esm_sim._mapping.filtering import FilterSet
from esm_sim.errors import ConfigError

SECOND_MS = 1000
HOUR_MS = 3_600_000


@attrs.frozen(kw_only=True)
class MappingConfig:
    """The parameters of one event source mapping that drive its behaviour (spec 1.2)."""

    batch_size: int = 100
    maximum_batching_window_ms: int = 0
    parallelization_factor: int = 1
    maximum_retry_attempts: int = -1  # -1: until the record leaves the stream
    maximum_record_age_ms: int = -1  # -1: no age limit but the stream's retention
    bisect_batch_on_function_error: bool = False
    on_failure_destination: str | None = None
    tumbling_window_ms: int = 0
    report_batch_item_failures: bool = False
    filters: FilterSet | None = None

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any], filters: FilterSet | None) -> MappingConfig:
        """Build from a mapping's AWS fields (the keys of its configuration response)."""
        age = fields["MaximumRecordAgeInSeconds"]
        destination = fields["DestinationConfig"].get("OnFailure", {}).get("Destination") or None
        return cls(
            batch_size=fields["BatchSize"],
            maximum_batching_window_ms=fields["MaximumBatchingWindowInSeconds"] * SECOND_MS,
            parallelization_factor=fields["ParallelizationFactor"],
            maximum_retry_attempts=fields["MaximumRetryAttempts"],
            maximum_record_age_ms=-1 if age == -1 else age * SECOND_MS,
            bisect_batch_on_function_error=fields["BisectBatchOnFunctionError"],
            on_failure_destination=destination,
            tumbling_window_ms=fields["TumblingWindowInSeconds"] * SECOND_MS,
            report_batch_item_failures="ReportBatchItemFailures" in fields["FunctionResponseTypes"],
            filters=filters,
        )


# ---------------------------------------------------------------------------
# The settings table: one Setting per Behaviour field
# ---------------------------------------------------------------------------

SettingKind = Literal["bool", "choice", "count", "duration"]

# The longest duration a setting accepts: a week, the longest period in the spec
# (MaximumRecordAgeInSeconds' maximum, 604800 s). Longer makes no run meaningful.
WEEK_MS: Final = 7 * 24 * HOUR_MS
_UNIT_MS: Final = {"seconds": SECOND_MS, "hours": HOUR_MS}
_SETTING: Final = "esm_sim.setting"  # the metadata key of a Behaviour field


def _number(value: float) -> str:
    """``1.0`` as ``1``, ``0.25`` as ``0.25``: bounds read as a user writes them."""
    return f"{value:g}" if value != int(value) else str(int(value))


@attrs.frozen(kw_only=True)
class Setting:
    """
    One ``Simulation`` keyword argument that sets a ``Behaviour`` field.

    See the module docstring for the meaning of each attribute. ``to_field``
    checks a value given to ``Simulation`` and converts it to the field's value
    (durations to integer milliseconds); ``to_edge`` converts back.

    .. versionadded:: 0.1.0
    """

    name: str
    kind: SettingKind
    default: Any
    spec: str
    doc: str
    field: str = ""  # set from the Behaviour field the setting is attached to
    unit: Literal["seconds", "hours"] | None = None
    choices: tuple[Any, ...] = ()
    # The accepted range in field units (ms for a duration); None for a bool or choice.
    bounds: tuple[int, int] | None = None
    # (edge value, field value) pairs accepted outside ``bounds``.
    special: tuple[tuple[Any, int], ...] = ()
    typical: tuple[float, float] | None = None

    @property
    def min_value(self) -> float | None:
        """The least accepted value of a count or duration, in edge units."""
        return None if self.bounds is None else self._edge_number(self.bounds[0])

    @property
    def max_value(self) -> float | None:
        """The greatest accepted value of a count or duration, in edge units."""
        return None if self.bounds is None else self._edge_number(self.bounds[1])

    @property
    def special_values(self) -> tuple[Any, ...]:
        """The values accepted outside ``[min_value, max_value]``, each with its own meaning."""
        return tuple(edge for edge, _ in self.special)

    def _edge_number(self, field_value: int) -> float:
        return field_value if self.unit is None else field_value / _UNIT_MS[self.unit]

    def to_edge(self, field_value: Any) -> Any:
        """The keyword value that gives ``field_value`` (ms back to seconds or hours)."""
        for edge, special in self.special:
            if field_value == special:
                return edge
        if self.kind == "duration":
            return self._edge_number(field_value)
        return field_value

    def _range_text(self) -> str:
        assert self.bounds is not None
        low, high = self.bounds
        if self.kind == "count":
            return f"an int from {low} to {high}"
        assert self.unit is not None
        unit_ms = _UNIT_MS[self.unit]
        shown_low = _number(low / unit_ms) if low % unit_ms == 0 or low > 1 else f"{low} ms"
        text = f"a number of {self.unit} from {shown_low} to {_number(high / unit_ms)}"
        specials = [f"{edge!r}" for edge, _ in self.special]
        return text + (f", or {' or '.join(specials)}" if specials else "")

    def _refuse(self, value: object, why: str = "") -> ConfigError:
        if self.kind == "bool":
            expected = "True or False (a bool)"
        elif self.kind == "choice":
            expected = "one of " + ", ".join(repr(c) for c in self.choices)
        else:
            expected = self._range_text()
        return ConfigError(f"{self.name}={value!r} must be {expected}{why}")

    def to_field(self, value: object) -> Any:
        """
        Check a value given as the ``Simulation`` keyword and convert it to the field's.

        Raises:
            ConfigError: naming ``name=value`` and what is accepted: a bool that is
                not a real bool (``"False"`` is not False), a count that is a bool or
                not an int, a duration that is not a finite number in range or that
                rounds to fewer milliseconds than the least accepted.
        """
        if self.kind in ("bool", "choice"):
            # Equal is not enough: 1 == True == 1.0, and "False" would be truthy.
            if not any(type(value) is type(c) and value == c for c in self.choices):
                raise self._refuse(value)
            return value
        for edge, special in self.special:
            if value is edge or (
                edge is not None and type(value) in (int, float) and value == edge
            ):
                return special
        assert self.bounds is not None
        low, high = self.bounds
        if self.kind == "count":
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise self._refuse(value)
            return value
        assert self.unit is not None
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            # False for NaN and infinities too; exact for ints of any size.
            or not 0 <= value <= high / _UNIT_MS[self.unit]
        ):
            raise self._refuse(value)
        seconds = value * 3600 if self.unit == "hours" else value
        ms = seconds_to_ms(seconds)
        if not low <= ms <= high:
            raise self._refuse(value, f" ({value!r} {self.unit} is {ms} ms)" if value else "")
        return ms

    def check_field(self, instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        """The attrs validator of the field: the same rule, in field units (ms)."""
        if self.kind in ("bool", "choice"):
            if not any(type(value) is type(c) and value == c for c in self.choices):
                options = ", ".join(repr(c) for c in self.choices)
                msg = f"{attribute.name}={value!r} must be one of {options}"
                raise ConfigError(msg)
            return
        assert self.bounds is not None
        low, high = self.bounds
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not (low <= value <= high or value in [f for _, f in self.special])
        ):
            what = "milliseconds" if self.kind == "duration" else "an int"
            also = "".join(f" or {f!r}" for _, f in self.special)
            msg = f"{attribute.name}={value!r} must be {what} from {low} to {high}{also}"
            raise ConfigError(msg)


def _setting(**kwargs: Any) -> Any:
    """A Behaviour field defined by its Setting: default, validator and metadata."""
    kind = kwargs["kind"]
    if kind == "bool":
        # The default first, so a strategy drawing from ``choices`` shrinks to it.
        kwargs["choices"] = (kwargs["default"], not kwargs["default"])
    elif kind == "duration":
        kwargs.setdefault("unit", "seconds")
    setting = Setting(**kwargs)
    return attrs.field(
        default=setting.to_field(setting.default),
        validator=setting.check_field,
        metadata={_SETTING: setting},
    )


def _name_settings(cls: type, fields: list[attrs.Attribute[Any]]) -> list[attrs.Attribute[Any]]:
    """Tell each field's Setting the name of its field (an attrs field transformer)."""
    return [
        f.evolve(metadata={_SETTING: attrs.evolve(f.metadata[_SETTING], field=f.name)})
        for f in fields
    ]


@attrs.frozen(kw_only=True, field_transformer=_name_settings)
class Behaviour:
    """
    The simulator's documented choices where AWS does not say (spec tag I).

    Every field is set by one keyword argument of ``Simulation`` (its
    :class:`Setting`, in the field's metadata and in ``SETTINGS``): durations are
    given in seconds or hours and held here in integer milliseconds. Build one
    from keyword arguments with :meth:`from_settings`.
    """

    state_transition_ms: int = _setting(
        name="state_transition_delay",
        kind="duration",
        default=5.0,
        bounds=(0, WEEK_MS),
        typical=(0.0, 120.0),
        spec="1.4",
        doc="How long each mapping state change (Creating->Enabled, Enabling, Disabling, "
        "Updating, Deleting) takes; AWS says 'several minutes' (90 s for Kafka updates).",
    )
    poll_interval_ms: int = _setting(
        name="poll_interval",
        kind="duration",
        default=0.25,
        bounds=(1, WEEK_MS),
        typical=(0.05, 1.0),
        spec="2",
        doc="The wait between polls of a shard with nothing to read (4 polls a second).",
    )
    retry_backoff_base_ms: int = _setting(
        name="retry_backoff_base",
        kind="duration",
        default=1.0,
        bounds=(1, WEEK_MS),
        typical=(0.01, 10.0),
        spec="3.2",
        doc="The first wait before a retry, doubling each retry, for function errors and "
        "throttles alike (AWS publishes none); at least 1 ms, as a zero wait would retry "
        "at the same instant forever.",
    )
    retry_backoff_max_ms: int = _setting(
        name="retry_backoff_max",
        kind="duration",
        default=60.0,
        bounds=(1, WEEK_MS),
        typical=(10.0, 600.0),
        spec="3.2",
        doc="The cap of the doubling retry wait; not below retry_backoff_base.",
    )
    shard_rollover_ms: int = _setting(
        name="shard_rollover_hours",
        kind="duration",
        unit="hours",
        default=4.0,
        bounds=(1, WEEK_MS),
        special=((0, 0),),
        # From a minute: a property test's writes span minutes, not hours.
        typical=(1 / 60, 8.0),
        spec="7.1, 12.8",
        doc="How often each open shard is sealed and replaced ('about every 4 hours'); "
        "0 turns rollovers off.",
    )
    retention_ms: int = _setting(
        name="retention_hours",
        kind="duration",
        unit="hours",
        default=24.0,
        bounds=(1, WEEK_MS),
        typical=(1.0, 48.0),
        spec="7.1",
        doc="How long the stream keeps a record before trimming it.",
    )
    ttl_delay_ms: int = _setting(
        name="ttl_delay_hours",
        kind="duration",
        unit="hours",
        default=48.0,
        bounds=(0, WEEK_MS),
        typical=(0.0, 1.0),
        spec="7.3, 13",
        doc="How long after its TTL time an expired item is deleted by DynamoDB's TTL "
        "process (a REMOVE by the service); AWS: 'typically within two days' (48 hours), "
        "'a few days'; 0: at the expiry time itself.",
    )
    bisect_resets_retries: bool = _setting(
        name="bisect_resets_retries",
        kind="bool",
        default=False,
        spec="3.4",
        doc="Whether the halves of a split start a fresh retry count (False: they inherit "
        "the failed batch's count; splitting uses none).",
    )
    bisect_first_half_first: bool = _setting(
        name="bisect_first_half_first",
        kind="bool",
        default=True,
        spec="3.4",
        doc="Whether the first half of a split is finished before the second, to keep order.",
    )
    partial_progress_resets_retries: bool = _setting(
        name="partial_progress_resets_retries",
        kind="bool",
        default=True,
        spec="4",
        doc="Whether the rest of a batch gets a fresh attempt count after a partial batch "
        "response moves the checkpoint (I, read from O).",
    )
    max_readers_per_shard: int = _setting(
        name="max_readers_per_shard",
        kind="count",
        default=0,
        bounds=(0, 100),
        typical=(0, 3),
        spec="7.4",
        doc="With N > 0, a GetRecords call is throttled when N other mappings read the "
        "shard within the last second (DynamoDB advises at most two readers); 0: never.",
    )
    bisect_first_half_larger: bool = _setting(
        name="bisect_first_half_larger",
        kind="bool",
        default=True,
        spec="3.4",
        doc="Where a failing batch of n records splits: ceil(n/2) first (True) or "
        "floor(n/2) (False).",
    )
    partial_retry_delay_ms: int = _setting(
        name="partial_retry_delay",
        kind="duration",
        default=None,
        bounds=(1, WEEK_MS),
        special=((None, -1),),
        typical=(0.01, 10.0),
        spec="4",
        doc="The wait before the failed suffix of a partial batch response is retried; "
        "None: the retry backoff's first step (retry_backoff_base); at least 1 ms.",
    )
    non_object_response: str = _setting(
        name="non_object_response",
        kind="choice",
        default="success",
        choices=("success", "failure"),
        spec="4, 11 rows 2 and 25",
        doc="Under ReportBatchItemFailures, a response that is not a JSON object (nor null, "
        "'' or []) is a success or a complete failure.",
    )
    record_age_min_invoke_count: int = _setting(
        name="record_age_min_invoke_count",
        kind="choice",
        default=1,
        choices=(1, 0),
        spec="3.3",
        doc="approximateInvokeCount of a RecordAgeExceeded record is max(this, invocations "
        "so far): 1 (as recorded for a never-sent record) or 0 (I, from O).",
    )
    tumbling_window_alignment: str = _setting(
        name="tumbling_window_alignment",
        kind="choice",
        default="epoch",
        choices=("epoch", "first-record"),
        spec="6.1",
        doc="Tumbling windows aligned to the epoch, or to the first record each shard "
        "(or lane) reads.",
    )
    tumbling_window_close: str = _setting(
        name="tumbling_window_close",
        kind="choice",
        default="clock",
        choices=("clock", "record"),
        spec="6.3",
        doc="What closes a tumbling window: the clock reaching its end, or only reading a "
        "record of a later window (or the shard's end).",
    )
    get_records_per_poll: int = _setting(
        name="get_records_per_poll",
        kind="count",
        default=1,
        bounds=(1, 100),
        typical=(1, 10),
        spec="2, 12.7",
        doc="GetRecords calls (1000 records / 1 MB each, spec 7.2) one poll may make while "
        "the batch is not full and records remain.",
    )
    iterator_age_at: str = _setting(
        name="iterator_age_at",
        kind="choice",
        default="send",
        choices=("send", "finish"),
        spec="9.1, 11 row 10",
        doc="IteratorAge measured when the event is sent, or when the invocation finished.",
    )
    account_concurrency: int = _setting(
        name="account_concurrency",
        kind="count",
        default=1000,
        bounds=(100, 100_000),
        typical=(100, 2000),
        spec="10",
        doc="The account's concurrent-executions limit (AWS: 1000 by default; at least 100 "
        "stay unreserved).",
    )
    max_filters: int = _setting(
        name="max_filters",
        kind="count",
        default=5,
        bounds=(1, 10),
        typical=(1, 10),
        spec="8",
        doc="The filters-per-mapping quota (AWS: 5 by default, raisable to 10).",
    )

    def __attrs_post_init__(self) -> None:
        for low_name, high_name in ORDERED:
            low, high = _BY_NAME[low_name], _BY_NAME[high_name]
            low_ms, high_ms = getattr(self, low.field), getattr(self, high.field)
            if high_ms < low_ms:
                msg = f"{high.field}={high_ms!r} must not be less than {low.field}={low_ms!r}"
                raise ConfigError(msg)

    @classmethod
    def from_settings(cls, **settings: Any) -> Behaviour:
        """
        Build from ``Simulation`` keyword arguments (any subset of ``SETTINGS``' names).

        Each value is checked and converted by its :class:`Setting`; settings not
        given take their defaults.

        Raises:
            ConfigError: a name that is not a setting, a value its setting refuses,
                or a pair in ``ORDERED`` the wrong way round, named as ``name=value``.
        """
        fields = {}
        for name, value in settings.items():
            setting = _BY_NAME.get(name)
            if setting is None:
                msg = f"{name}={value!r} is not a setting; the settings are {', '.join(_BY_NAME)}"
                raise ConfigError(msg)
            fields[setting.field] = setting.to_field(value)
        for low_name, high_name in ORDERED:
            low, high = _BY_NAME[low_name], _BY_NAME[high_name]
            low_ms = fields.get(low.field, low.to_field(low.default))
            high_ms = fields.get(high.field, high.to_field(high.default))
            if high_ms < low_ms:
                msg = (
                    f"{high.name}={settings.get(high.name, high.default)!r} must not be less "
                    f"than {low.name}={settings.get(low.name, low.default)!r}"
                )
                raise ConfigError(msg)
        return cls(**fields)

    def to_settings(self) -> dict[str, Any]:
        """The ``Simulation`` keyword arguments that give this Behaviour (seconds, hours)."""
        return {s.name: s.to_edge(getattr(self, s.field)) for s in SETTINGS}

    def partial_retry_wait_ms(self) -> int:
        """The wait before the failed suffix of a partial batch response is retried (spec 4)."""
        if self.partial_retry_delay_ms >= 0:
            return self.partial_retry_delay_ms
        return self.backoff_ms(1)

    def backoff_ms(self, attempt: int) -> int:
        """The wait before retry number ``attempt`` (1-based)."""
        if attempt < 1:
            return 0
        return min(self.retry_backoff_base_ms << min(attempt - 1, 40), self.retry_backoff_max_ms)


SETTINGS: Final[tuple[Setting, ...]] = tuple(f.metadata[_SETTING] for f in attrs.fields(Behaviour))
"""Every setting, one per ``Behaviour`` field, in field order (see the module docstring)."""

ORDERED: Final[tuple[tuple[str, str], ...]] = (("retry_backoff_base", "retry_backoff_max"),)
"""Pairs of settings (by name) whose first may not exceed its second."""

_BY_NAME: Final[dict[str, Setting]] = {s.name: s for s in SETTINGS}
