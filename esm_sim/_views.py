"""
Human views of a simulation, all derived from its trace: timeline text, fates tables, HTML.

``Simulation.timeline()``, ``Simulation.fates()`` and ``Simulation._repr_html_``
(and ``esm_sim.viz``) are built from the functions here, so what a notebook
shows is what a test can assert.

The timeline has one line per trace event. Its columns (``TIMELINE_LEGEND``)::

    time       virtual UTC time of the event, with milliseconds
    +s         seconds since the first event shown
    kind       state | invoke | result | throttle | split | discard | expire |
               filter | delivery-failure | user | ...
    shard      last 8 characters of the shard id
    lane       lane within the shard (0 unless ParallelizationFactor > 1)
    batch      first..last sequence number of the records concerned
    n          number of records
    outcome    sent / ok / error / partial / throttled / bisect /
               destination / dropped / expired / filtered / a mapping State;
               redrive: start / sent / ok / error / partial / rejected / lost
    detail     invoke: request id, attempt number of these exact records,
               iterator age; result: duration and error; discard: condition;
               redrive: the redrive's number and source, request id, duration
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import attrs

from esm_sim._engine import display
from esm_sim._engine.timefmt import iso_ms
from esm_sim._engine.trace import Trace, TraceEvent
from esm_sim._mapping.fates import OUTCOMES
from esm_sim._metrics import invocation_outcome
from esm_sim.errors import ConfigError

if TYPE_CHECKING:
    from esm_sim._lambda.function import Invocation
    from esm_sim._mapping.fates import Fate
    from esm_sim._mapping.runtime import MappingRuntime
    from esm_sim._simulation import Simulation

TIMELINE_LEGEND = (
    "# columns: time (UTC) | +s since first event | kind | shard (last 8) | lane | "
    "batch first..last sequence number | n records | outcome | detail\n"
    "# outcome: invoke sent; result ok/error/partial; throttle throttled; split bisect; "
    "discard destination/dropped; expire expired; filter filtered; state <State>; "
    "redrive start/sent/ok/error/lost\n"
    "# detail: invoke 'attempt k' = k-th delivery of exactly these records, "
    "'redelivery' = records sent before, 'age' = IteratorAge ms"
)

FATE_COLUMNS = (*OUTCOMES, "pending", "skipped")
MARK_KINDS = ("split", "discard", "delivery-failure", "throttle", "expire", "filter")
# The outcomes of a ``redrive`` row that ends an invocation (its verdict).
_REDRIVE_ENDS = ("success", "partial", "failure")


@attrs.frozen(kw_only=True)
class Span:
    """
    One invocation as seen on the trace: from its ``invoke`` to its ``result`` event.

    ``outcome`` is "ok", "error", "partial", "rejected" (the mapping failed the
    batch without a function error, e.g. a bad ``itemIdentifier``; see
    ``esm_sim._metrics.invocation_outcome``) or "in-flight" (no result yet, in
    which case ``end_ms`` is None). ``attempt`` counts the deliveries of
    exactly these records on this lane (1 for the first); ``redelivery`` is
    True when some of the records were sent before (a retry, a bisect half or
    the rest after a partial response).
    """

    mapping: str
    shard: str
    lane: int
    request_id: str
    function: str
    start_ms: int
    end_ms: int | None
    outcome: str
    first_seq: str
    last_seq: str
    count: int
    attempt: int
    redelivery: bool
    iterator_age_ms: int | None
    redrive: int = 0  # the redrive's number (Simulation.redrive); 0: the mapping invoked


def check_uuid(mappings: Mapping[str, object], uuid: str | None) -> None:
    """Refuse a ``uuid`` that names no mapping of the simulation."""
    if uuid is not None and uuid not in mappings:
        msg = f"uuid={uuid!r} is not a mapping of this simulation; one of {list(mappings)}"
        raise ConfigError(msg)


def invocation_spans(trace: Trace, *, uuid: str | None = None) -> list[Span]:
    """Every invocation of the trace (of one mapping, with ``uuid``), in start order."""
    results: dict[str, TraceEvent] = {
        e.get("request_id", ""): e for e in trace.events(kind="result", mapping=uuid)
    }
    tries: dict[tuple[str, str, int, str, str, object], int] = {}
    high_water: dict[tuple[str, str, int], int] = {}
    spans: list[Span] = []
    for e in trace.events(kind="invoke", mapping=uuid):
        rid = e.get("request_id", e.detail)
        lane = (e.mapping, e.shard, e.lane)
        # A tumbling window's final invocation (spec 6.2) carries no records: its tries are
        # counted per window, and it redelivers nothing.
        window = None if e.first_seq else e.get("window_start_ms")
        key = (*lane, e.first_seq, e.last_seq, window)
        tries[key] = tries.get(key, 0) + 1
        redelivery = bool(e.first_seq) and int(e.first_seq) <= high_water.get(lane, -1)
        if e.last_seq:
            high_water[lane] = max(high_water.get(lane, -1), int(e.last_seq))
        result = results.get(rid)
        spans.append(
            Span(
                mapping=e.mapping,
                shard=e.shard,
                lane=e.lane,
                request_id=rid,
                function=str(e.get("function", "")),
                start_ms=e.at_ms,
                end_ms=None if result is None else result.at_ms,
                outcome=("in-flight" if result is None else invocation_outcome(result)),
                first_seq=e.first_seq,
                last_seq=e.last_seq,
                count=e.count,
                attempt=tries[key],
                redelivery=redelivery,
                iterator_age_ms=e.get("iterator_age_ms"),
            )
        )
    return spans


def redrive_spans(trace: Trace, *, uuid: str | None = None) -> list[Span]:
    """
    Every redrive invocation of the trace (of one mapping's failure records,
    with ``uuid``), in start order: ``attempt`` 1, ``redelivery`` True (its
    records were all sent before), ``redrive`` the redrive's number.
    """
    events = trace.events(kind="redrive", mapping=uuid)
    results = {e.get("request_id", ""): e for e in events if e.outcome in _REDRIVE_ENDS}
    spans: list[Span] = []
    for e in events:
        if e.outcome != "sent":
            continue
        rid = e.get("request_id", e.detail)
        result = results.get(rid)
        spans.append(
            Span(
                mapping=e.mapping,
                shard=e.shard,
                lane=e.lane,
                request_id=rid,
                function=str(e.get("function", "")),
                start_ms=e.at_ms,
                end_ms=None if result is None else result.at_ms,
                outcome="in-flight" if result is None else invocation_outcome(result),
                first_seq=e.first_seq,
                last_seq=e.last_seq,
                count=e.count,
                attempt=1,
                redelivery=True,
                iterator_age_ms=None,
                redrive=int(e.get("redrive", 0)),
            )
        )
    return spans


def marks(trace: Trace, *, uuid: str | None = None) -> list[TraceEvent]:
    """The trace events a timeline plot marks (splits, discards, throttles, expiries, filters)."""
    return [e for e in trace.events(mapping=uuid) if e.kind in MARK_KINDS]


# -- timeline text ----------------------------------------------------------------------


def timeline_text(trace: Trace, *, uuid: str | None = None) -> str:
    """The legend, then one fixed-column line per trace event (of one mapping, with ``uuid``)."""
    spans = {s.request_id: s for s in invocation_spans(trace, uuid=uuid)}
    events = trace.events(mapping=uuid)
    t0 = events[0].at_ms if events else 0
    lines = [TIMELINE_LEGEND]
    for e in events:
        outcome = e.outcome
        detail = e.detail
        rid = e.get("request_id", "")
        if e.kind == "invoke" and rid in spans:
            s = spans[rid]
            parts = [rid[:8], f"attempt {s.attempt}"]
            if s.redelivery:
                parts.append("redelivery")
            if s.iterator_age_ms is not None:
                parts.append(f"age {s.iterator_age_ms}ms")
            detail = ", ".join(parts)
        elif e.kind == "result" and rid in spans:
            outcome = invocation_outcome(e)
            took = e.get("duration_ms", 0)
            detail = f"{rid[:8]}, took {took}ms" + (f", {e.detail}" if e.detail else "")
        elif e.kind == "redrive":
            number = f"redrive {e.get('redrive', 0)}"
            if e.outcome == "sent":
                detail = f"{number}, {rid[:8]}"
            elif e.outcome in _REDRIVE_ENDS:
                outcome = invocation_outcome(e)
                took = e.get("duration_ms", 0)
                detail = f"{number}, {rid[:8]}, took {took}ms" + (
                    f", {e.detail}" if e.detail else ""
                )
            else:
                detail = f"{number}: {e.detail}"
        span = f"{e.first_seq}..{e.last_seq}" if e.first_seq else ""
        line = (
            f"{iso_ms(e.at_ms)} {(e.at_ms - t0) / 1000:>+9.3f}  {e.kind:<16} "
            f"{e.shard[-8:]:<8} {e.lane:>2}  {span:<43} {e.count:>5}  {outcome:<11} {detail}"
        )
        lines.append(line.rstrip())
    return "\n".join(lines)


# -- fates ------------------------------------------------------------------------------


class _Html(str):
    """Text already escaped for HTML (``_table_html`` leaves it as it is)."""


def _logs_html(logs: str) -> str:
    """What a handler printed or logged, preformatted (empty when nothing)."""
    return _Html(f"<pre>{html.escape(logs)}</pre>") if logs else ""


def _esc(value: object) -> str:
    if isinstance(value, _Html):
        return str(value)
    return html.escape(str(value))


def _table_html(headers: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="esm-sim"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _table_text(headers: list[str], rows: list[list[object]]) -> str:
    cells = [headers, *[[str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    out = []
    for n, row in enumerate(cells):
        padded = [
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.append("  ".join(padded).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


class FatesSummary(Mapping[str, dict[str, int]]):
    """
    Where each mapping's records ended: one row per mapping (``sim.fates()``).

    A mapping of mapping UUID -> ``{outcome: count}`` (the same counts as
    ``sim.fate_counts(uuid)``: processed, filtered, destination, dropped,
    expired, pending, skipped). ``reasons(uuid)`` splits the non-processed
    outcomes by reason; ``history(seq)`` tells one record's way; ``text()``
    and ``_repr_html_()`` render the table.
    """

    def __init__(self, sim: Simulation, uuid: str | None = None) -> None:
        check_uuid(sim.mappings, uuid)
        self._sim = sim
        self._uuids = [u for u in sim.mappings if uuid is None or u == uuid]
        self._counts = {u: sim.fate_counts(u) for u in self._uuids}
        spans = invocation_spans(sim.trace, uuid=uuid)
        self._invocations = dict.fromkeys(self._uuids, 0)
        self._failed = dict.fromkeys(self._uuids, 0)
        for s in spans:
            if s.mapping in self._invocations:
                self._invocations[s.mapping] += 1
                self._failed[s.mapping] += s.outcome in ("error", "partial", "rejected")

    def __getitem__(self, uuid: str) -> dict[str, int]:
        return dict(self._counts[uuid])

    def __iter__(self) -> Iterator[str]:
        return iter(self._uuids)

    def __len__(self) -> int:
        return len(self._uuids)

    def __repr__(self) -> str:
        return f"<FatesSummary {len(self)} mapping(s)>\n{self.text()}"

    def reasons(self, uuid: str) -> dict[str, int]:
        """
        Counts of ``"outcome/reason"`` (e.g. ``"destination/RetryAttemptsExhausted"``).

        Raises:
            ConfigError: ``uuid`` names no mapping of this summary.
        """
        if uuid not in self._uuids:
            msg = f"uuid={uuid!r} is not a mapping of this summary; one of {self._uuids}"
            raise ConfigError(msg)
        mapping = self._sim.mappings[uuid]
        out: dict[str, int] = {}
        for outcome, reason, _ in mapping.ledger.entries.values():
            key = f"{outcome}/{reason}"
            out[key] = out.get(key, 0) + 1
        return dict(sorted(out.items()))

    def history(self, sequence_number: str | int, *, uuid: str | None = None) -> str:
        """Every delivery and outcome of one record, one line each, ending with its fate."""
        return record_history(self._sim, sequence_number, uuid=uuid)

    def _headers(self) -> list[str]:
        return ["mapping", "function", "invocations", "failed", *FATE_COLUMNS]

    def _rows(self) -> list[list[object]]:
        rows: list[list[object]] = []
        for u in self._uuids:
            m = self._sim.mappings[u]
            counts = self._counts[u]
            rows.append(
                [
                    u[:8],
                    m.function.name,
                    self._invocations[u],
                    self._failed[u],
                    *(counts[c] for c in FATE_COLUMNS),
                ]
            )
        return rows

    def text(self) -> str:
        """The table as fixed-width text, then the reasons per mapping."""
        lines = [_table_text(self._headers(), self._rows())]
        for u in self._uuids:
            reasons = self.reasons(u)
            if reasons:
                lines.append(f"{u[:8]}: " + ", ".join(f"{k} {v}" for k, v in reasons.items()))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = self._rows()
        for row, u in zip(rows, self._uuids, strict=True):
            row.append(", ".join(f"{k} {v}" for k, v in self.reasons(u).items()))
        return _table_html([*self._headers(), "reasons"], rows)


def record_history(sim: Simulation, sequence_number: str | int, *, uuid: str | None = None) -> str:
    """
    One record's way through a mapping: every trace event about it, then its fate.

    Batches hold consecutive records that passed the filter, so a record that
    was not filtered out is in every batch whose range covers it.
    """
    fate = sim.fate(sequence_number, uuid=uuid)
    seq = int(fate.sequence_number)
    filtered = fate.outcome == "filtered"
    shard = next(
        (s.shard_id for t in sim.tables.values() for s in t.shards if s.index_of(seq) is not None),
        "",
    )
    lines = [f"record {seq} on mapping {fate.mapping_uuid[:8]}"]
    for e in sim.trace.events(mapping=fate.mapping_uuid):
        if e.shard != shard or not e.first_seq or not int(e.first_seq) <= seq <= int(e.last_seq):
            continue
        if (e.kind == "filter") != filtered:
            continue
        lines.append(e.line())
    where = f" -> {fate.destination}" if fate.destination else ""
    lines.append(
        f"fate: {fate.outcome}"
        + (f" ({fate.reason})" if fate.reason else "")
        + where
        + f"; delivered {len(fate.deliveries)} time(s)"
    )
    return "\n".join(lines)


# -- HTML for the public objects ----------------------------------------------------------


def fate_html(fate: Fate) -> str:
    """A Fate as a small HTML table: its outcome, then one row per delivery."""
    head = (
        f"<p><b>record {_esc(fate.sequence_number)}</b>: {_esc(fate.outcome)}"
        + (f" ({_esc(fate.reason)})" if fate.reason else "")
        + (f" &rarr; {_esc(fate.destination)}" if fate.destination else "")
        + "</p>"
    )
    rows: list[list[object]] = [
        [
            i + 1,
            iso_ms(inv.started_ms),
            inv.request_id,
            len(inv.sequence_numbers),
            inv.error or "ok",
            _logs_html(inv.logs),
        ]
        for i, inv in enumerate(fate.deliveries)
    ]
    headers = ["#", "sent", "request id", "records", "result", "logs"]
    return head + _table_html(headers, rows)


def invocation_html(inv: Invocation) -> str:
    """An Invocation as a one-row HTML table."""
    result = "ok" if inv.error is None else f"{inv.error}: {inv.error_type}: {inv.error_message}"
    first = inv.sequence_numbers[0] if inv.sequence_numbers else ""
    last = inv.sequence_numbers[-1] if inv.sequence_numbers else ""
    return _table_html(
        ["request id", "started", "ms", "shard", "records", "first..last", "result", "logs"],
        [
            [
                inv.request_id,
                iso_ms(inv.started_ms),
                inv.duration_ms,
                inv.shard_id,
                len(inv.sequence_numbers),
                f"{first}..{last}",
                result,
                _logs_html(inv.logs),
            ]
        ],
    )


def mapping_html(mapping: MappingRuntime) -> str:
    """A mapping's main AWS fields and record fates as HTML."""
    f = mapping.fields
    keys = (
        "UUID",
        "State",
        "FunctionArn",
        "EventSourceArn",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "MaximumRetryAttempts",
        "MaximumRecordAgeInSeconds",
        "BisectBatchOnFunctionError",
        "FunctionResponseTypes",
        "LastProcessingResult",
    )
    rows: list[list[object]] = [[k, f.get(k, "")] for k in keys if k in f]
    # The records that reached each final fate (``sim.fates()`` adds pending and skipped).
    counts = [[outcome, n] for outcome, n in mapping.ledger.counts.items()]
    return _table_html(["field", "value"], rows) + _table_html(["fate", "records"], counts)


def simulation_html(sim: Simulation) -> str:
    """The simulation at a glance: clock, resources, one row per mapping, and its fates."""
    head = (
        f"<p><b>esm_sim Simulation</b> seed={_esc(sim.seed)} now={_esc(iso_ms(sim.now_ms))} "
        f"tables={len(sim.tables)} functions={len(sim.functions)} "
        f"mappings={len(sim.mappings)} trace events={len(sim.trace)}</p>"
    )
    rows: list[list[object]] = []
    for u, m in sim.mappings.items():
        rows.append(
            [u, m.fields.get("State", ""), m.function.name, m.table.name, len(m.invocations)]
        )
    mappings = _table_html(["mapping", "state", "function", "table", "invocations"], rows)
    fates = FatesSummary(sim)._repr_html_() if sim.mappings else ""
    return head + mappings + fates


# What the lower layers ask for by name (esm_sim._engine.display): registered
# when esm_sim is imported, so no module below imports the views.
display.register("timeline", timeline_text)
display.register("fates", FatesSummary)
display.register("simulation", simulation_html)
display.register("fate", fate_html)
display.register("invocation", invocation_html)
display.register("mapping", mapping_html)
