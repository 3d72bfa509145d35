"""
Plots of a simulation for notebooks: the invocation timeline and any metric over time.

Optional: needs matplotlib (``pip install 'esm_sim[notebook]'``), imported
only when a plot is drawn, so ``import esm_sim.viz`` stays cheap. Everything
drawn comes from the trace (through ``esm_sim._views`` and ``sim.metrics``),
so a figure shows exactly what a test can assert.

Every function returns a matplotlib ``Figure`` (made without pyplot, on the
Agg canvas) that also has ``_repr_png_`` and ``_repr_svg_``: a notebook cell
ending in ``viz.plot_timeline(sim)`` shows the image, no ``%matplotlib``
needed, and ``fig.savefig(path)`` writes it anywhere.

All time axes are clock time (UTC datetimes, as ``sim.metrics`` reports
them), so a timeline and a metric plot of one simulation line up.

``plot_timeline`` draws one row per ``function / shard / lane`` (the shard by
the last 8 characters of its id) and one bar per invocation from its start to
its end, coloured by outcome (``COLOURS``). A bar that re-delivers records
sent before (a retry, a bisect half, the rest after a partial response) is
hatched. Markers (``MARKS``): ``v`` a bisect split, ``X`` a discard to the
destination, ``x`` records dropped (or a failed delivery), ``|`` a throttle.
Each bar carries its request id as its ``gid``, so tests and tools can find
the invocation behind a bar. A redrive (``Simulation.redrive``) gets rows of
its own, ``function / shard / redrive``, its bars coloured by outcome with a
thick blue edge and cross-hatching (``REDRIVE_STYLE``); records it found
already trimmed are marked ``s`` (lost to retention).

``plot_metric`` draws counts (``Invocations``, ``Errors``, ``Throttles``, the
ESM event counts, ...) as one bar per period, periods without a point
included as zero; the gauges ``ConcurrentExecutions`` and ``IteratorAge`` as
steps; ``Duration`` as one dot per invocation. Every y axis starts at 0 and
names its unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from esm_sim._engine.timefmt import ms_to_datetime
from esm_sim._metrics import METRIC_NAMES
from esm_sim._views import check_uuid, invocation_spans, marks, redrive_spans
from esm_sim.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from esm_sim._simulation import Simulation

__all__ = [
    "COLOURS",
    "GAUGES",
    "MARKS",
    "REDRIVE_STYLE",
    "figure",
    "plot_metric",
    "plot_timeline",
]

COLOURS = {
    "ok": "#2ca02c",
    "error": "#d62728",
    "partial": "#ff7f0e",
    "rejected": "#e377c2",
    "in-flight": "#7f7f7f",
}
MARKS = {
    # kind/outcome: (marker, colour, label)
    "split": ("v", "#1f77b4", "bisect split"),
    "destination": ("X", "#9467bd", "to destination"),
    "dropped": ("x", "#000000", "dropped"),
    "throttle": ("|", "#8c564b", "throttled"),
    "lost": ("s", "#7f7f7f", "lost to retention (redrive)"),
}
# How a redrive invocation's bar differs from the mapping's: edge and hatch.
REDRIVE_STYLE: dict[str, Any] = {"edgecolor": "#1f3fbf", "linewidth": 2.0, "hatch": "xx"}
# Levels rather than counts: drawn as steps, not summed into bars.
GAUGES = ("ConcurrentExecutions", "IteratorAge")
# CloudWatch-like periods the count bars are chosen from when none is given.
_PERIODS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
_MAX_BARS = 60
_DAY_MS = 86_400_000


def _figure(width: float, height: float) -> Figure:
    """A new image-showing Figure, made without pyplot (no global state)."""
    try:
        from esm_sim._figure import PlotFigure
    except ImportError:
        msg = "esm_sim.viz needs matplotlib; install 'esm_sim[notebook]'"
        raise ImportError(msg) from None
    return PlotFigure(width=width, height=height)


def figure(*, width: float = 8, height: float = 3) -> Figure:
    """
    An empty Figure for a plot of your own that shows itself in Jupyter, as the viz plots do.

    A matplotlib ``Figure`` made without pyplot prints as ``<Figure size ...>``
    in a notebook unless ``%matplotlib inline`` ran; this one has PNG and SVG
    reprs. Draw on it as on any Figure: ``ax = fig.subplots()``.
    """
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 100:
            msg = f"{name}={value!r} must be inches, a number in (0, 100]"
            raise ConfigError(msg)
    return _figure(float(width), float(height))


def _x(ms: int) -> float:
    """Epoch milliseconds as a matplotlib date number (days since 1970, UTC)."""
    from matplotlib.dates import date2num

    return float(date2num(ms_to_datetime(ms)))  # type: ignore[no-untyped-call]


def _time_range(sim: Simulation, uuid: str | None) -> tuple[int, int]:
    """The clock-time span of what the plots show: first to last invocation or mark."""
    spans = invocation_spans(sim.trace, uuid=uuid) + redrive_spans(sim.trace, uuid=uuid)
    events = marks(sim.trace, uuid=uuid) + _lost(sim, uuid)
    starts = [s.start_ms for s in spans] + [e.at_ms for e in events]
    ends = [sim.now_ms if s.end_ms is None else s.end_ms for s in spans]
    ends += [e.at_ms for e in events]
    if not starts:
        starts = [e.at_ms for e in sim.trace.events(mapping=uuid)] or [sim.now_ms]
        ends = starts
    lo, hi = min(starts), max(ends)
    return lo, max(hi, lo + 1000)


def _lost(sim: Simulation, uuid: str | None) -> list[Any]:
    """The ``redrive`` trace rows of records a redrive found past retention."""
    return [e for e in sim.trace.events(kind="redrive", mapping=uuid) if e.outcome == "lost"]


def _time_axis(ax: Axes, lo: int, hi: int, *, label: bool = True) -> None:
    """Clock-time ticks in UTC over ``lo..hi`` (with a small margin)."""
    from datetime import UTC

    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=UTC))  # type: ignore[no-untyped-call]
    pad = (hi - lo) * 0.02
    ax.set_xlim(_x(lo) - pad / _DAY_MS, _x(hi) + pad / _DAY_MS)
    if label:
        ax.set_xlabel("time (UTC)")


def _auto_period_s(lo: int, hi: int) -> int:
    for period in _PERIODS_S:
        if (hi - lo) / (period * 1000) <= _MAX_BARS:
            return period
    return _PERIODS_S[-1]


def _draw_metric(
    ax: Axes,
    sim: Simulation,
    name: str,
    span: tuple[int, int],
    *,
    function_name: str | None,
    uuid: str | None,
    period_seconds: int | None,
    stat: str,
) -> str:
    """Draw metric ``name`` on ``ax`` (bars, steps or dots); return its title."""
    from matplotlib.ticker import MaxNLocator

    if name not in METRIC_NAMES:
        msg = f"name={name!r} is not a metric; choose one of {list(METRIC_NAMES)}"
        raise ConfigError(msg)
    if period_seconds is not None and (
        not isinstance(period_seconds, int)
        or isinstance(period_seconds, bool)
        or period_seconds < 1
    ):
        msg = (
            f"period_seconds={period_seconds!r} must be None (chosen from the span) or an int >= 1"
        )
        raise ConfigError(msg)
    metrics = sim.metrics
    lo, hi = span
    if name not in GAUGES and name != "Duration":
        # A count: one bar per period from 0, empty periods as zero bars (CloudWatch's
        # Sum of no data points is 0 too).
        period = period_seconds or _auto_period_s(lo, hi)
        values = metrics.statistics(name, period, stat, function_name=function_name, uuid=uuid)
        step = period * 1000
        by_start = {_ms(t): v for t, v in values}
        if stat in ("Sum", "SampleCount"):
            first = min([lo, *by_start]) // step * step
            last = max([hi - 1, *by_start])
            by_start = {s: by_start.get(s, 0.0) for s in range(first, last + 1, step)}
        starts = sorted(by_start)
        ax.bar(
            [_x(s) for s in starts],
            [by_start[s] for s in starts],
            width=0.9 * step / _DAY_MS,
            align="edge",
            color="#8c564b" if name == "Throttles" else "#1f77b4",
        )
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("count")
        title = f"{name} ({stat} per {period} s)"
        top = max(by_start.values(), default=0.0)
    else:
        if period_seconds is None:
            points = metrics.series(name, function_name=function_name, uuid=uuid)
            title = name
        else:
            points = metrics.statistics(
                name, period_seconds, stat, function_name=function_name, uuid=uuid
            )
            title = f"{name} ({stat} per {period_seconds} s)"
        xs = [_x(_ms(t)) for t, _ in points]
        ys = [v for _, v in points]
        if name == "ConcurrentExecutions":
            ylabel = "count"
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        elif name == "IteratorAge" and max(ys, default=0) >= 10_000:
            ylabel = "age (s)"
            ys = [v / 1000 for v in ys]
        else:
            ylabel = "age (ms)" if name == "IteratorAge" else "duration (ms)"
        if name == "ConcurrentExecutions":
            ax.step(xs, ys, where="post")
        elif name == "IteratorAge":
            ax.step(xs, ys, where="post", marker="." if len(xs) < 50 else "")
        else:
            ax.plot(xs, ys, marker="o", linestyle="-" if period_seconds else "none")
        ax.set_ylabel(ylabel)
        top = max(ys, default=0.0)
    # From 0, always: a count of 0 or a flat line is not zoomed into noise.
    ax.set_ylim(bottom=0)
    if top <= 0:
        ax.set_ylim(0, 1)
    filters = ", ".join(
        f"{k}={v}" for k, v in (("function", function_name), ("mapping", uuid)) if v
    )
    return title + (f" [{filters}]" if filters else "")


def _ms(when: Any) -> int:
    from esm_sim._engine.timefmt import datetime_to_ms

    return datetime_to_ms(when)


def plot_timeline(
    sim: Simulation, *, uuid: str | None = None, metrics: Sequence[str] = ()
) -> Figure:
    """
    The invocations of every mapping (or one, with ``uuid``) per function, shard and lane.

    x: clock time (UTC); y: one row per ``function / shard / lane``. With
    ``metrics`` (e.g. ``["IteratorAge", "Throttles"]``) each metric is drawn
    in a panel under the timeline, on the same time axis.
    """
    check_uuid(sim.mappings, uuid)
    for name in metrics:
        if name not in METRIC_NAMES:
            msg = f"metrics: {name!r} is not a metric; choose from {list(METRIC_NAMES)}"
            raise ConfigError(msg)
    spans = invocation_spans(sim.trace, uuid=uuid)
    redriven = redrive_spans(sim.trace, uuid=uuid)
    events = marks(sim.trace, uuid=uuid)
    lost = _lost(sim, uuid)
    lo, hi = _time_range(sim, uuid)
    # Rows: (mapping, shard, lane) for the mapping's invocations, (mapping, shard,
    # "redrive") for a redrive's.
    rows: dict[tuple[str, str, int | str], int] = {}
    functions: dict[tuple[str, str, int | str], str] = {}
    for s in spans:
        rows.setdefault((s.mapping, s.shard, s.lane), len(rows))
        functions.setdefault((s.mapping, s.shard, s.lane), s.function)
    for e in events:
        rows.setdefault((e.mapping, e.shard, e.lane), len(rows))
    for s in redriven:
        rows.setdefault((s.mapping, s.shard, "redrive"), len(rows))
        functions.setdefault((s.mapping, s.shard, "redrive"), s.function)
    for e in lost:
        rows.setdefault((e.mapping, e.shard, "redrive"), len(rows))
    # Rows grouped by mapping, then shard (each in order of first appearance),
    # lanes counted up within a shard, its redrive row last.
    first_mapping: dict[str, int] = {}
    first_shard: dict[str, int] = {}
    for mapping, shard, _ in rows:
        first_mapping.setdefault(mapping, len(first_mapping))
        first_shard.setdefault(shard, len(first_shard))
    ordered = sorted(
        rows,
        key=lambda k: (
            first_mapping[k[0]],
            first_shard[k[1]],
            (0, k[2]) if isinstance(k[2], int) else (1, 0),
        ),
    )
    rows = {key: i for i, key in enumerate(ordered)}
    n_rows = max(len(rows), 1)
    timeline_h = 1.0 + 0.5 * n_rows
    fig = _figure(11, timeline_h + 2.2 * len(metrics) + 0.6)
    axes = fig.subplots(
        1 + len(metrics),
        1,
        sharex=True,
        squeeze=False,
        height_ratios=[timeline_h] + [2.2] * len(metrics),
    )[:, 0]
    ax = axes[0]
    for s in spans + redriven:
        is_redrive = s.redrive > 0
        y = rows[(s.mapping, s.shard, "redrive" if is_redrive else s.lane)]
        end = sim.now_ms if s.end_ms is None else s.end_ms
        style: dict[str, Any] = (
            dict(REDRIVE_STYLE)
            if is_redrive
            else {
                "edgecolor": "black",
                "linewidth": 0.5,
                "hatch": "///" if s.redelivery else None,
            }
        )
        ax.barh(
            y,
            (end - s.start_ms) / _DAY_MS,
            left=_x(s.start_ms),
            height=0.5,
            color=COLOURS[s.outcome],
            gid=s.request_id,
            **style,
        )
    seen: set[str] = set()
    placed = [(e, rows[(e.mapping, e.shard, e.lane)]) for e in events]
    placed += [(e, rows[(e.mapping, e.shard, "redrive")]) for e in lost]
    for e, y in placed:
        what = e.kind if e.kind in ("split", "throttle") else e.outcome
        if e.kind == "delivery-failure":
            what = "dropped"
        if what not in MARKS:
            continue  # filters and retention expiry are in the text timeline
        marker, colour, label = MARKS[what]
        ax.plot(
            [_x(e.at_ms)],
            [y - 0.4],
            marker=marker,
            color=colour,
            linestyle="none",
            markersize=11,
            markeredgewidth=2.5 if marker in "|x" else 1,
            label=None if label in seen else label,
        )
        seen.add(label)
    labels = []
    for key in rows:
        mapping, shard, lane = key
        fn = functions.get(key) or (
            sim.mappings[mapping].function.name if mapping in sim.mappings else mapping[:8]
        )
        where = "redrive" if lane == "redrive" else f"lane {lane}"
        labels.append(f"{fn} / {shard[-8:]} / {where}")
    if len(set(labels)) < len(labels):  # two mappings of one function on one shard
        labels = [f"{lb} ({m[:8]})" for lb, (m, _, _) in zip(labels, rows, strict=True)]
    ax.set_yticks(range(len(rows)), labels)
    ax.set_ylim(n_rows - 0.4, -0.8)  # first row on top, room for the markers above bars
    ax.set_ylabel("function / shard / lane")
    ax.set_title("invocations (hatched: redelivery of records sent before)")
    from matplotlib.patches import Patch

    handles: list[Any] = [
        Patch(facecolor=c, edgecolor="black", label=o)
        for o, c in COLOURS.items()
        if any(s.outcome == o for s in spans + redriven)
    ]
    if any(s.redelivery for s in spans):
        handles.append(Patch(facecolor="white", edgecolor="black", hatch="///", label="redelivery"))
    if redriven:
        handles.append(Patch(facecolor="white", label="redrive", **REDRIVE_STYLE))
    handles += list(ax.get_legend_handles_labels()[0])
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    for panel, name in zip(axes[1:], metrics, strict=True):
        panel.set_title(
            _draw_metric(
                panel,
                sim,
                name,
                (lo, hi),
                function_name=None,
                uuid=uuid,
                period_seconds=None,
                stat="Sum",
            ),
            fontsize="medium",
        )
    for panel in axes:
        _time_axis(panel, lo, hi, label=panel is axes[-1])
    return fig


def plot_metric(
    sim: Simulation,
    name: str,
    *,
    function_name: str | None = None,
    uuid: str | None = None,
    period_seconds: int | None = None,
    stat: str = "Sum",
) -> Figure:
    """
    A metric over clock time: counts as bars per period, gauges as steps.

    Counts use ``stat`` per ``period_seconds`` (chosen to give at most 60
    bars when None), empty periods drawn as zero. ``ConcurrentExecutions``
    and ``IteratorAge`` are steps through their raw points (or one ``stat``
    per period); ``Duration`` one dot per invocation. The time axis covers
    the same span as ``plot_timeline`` of the same simulation.
    """
    if uuid is not None:
        check_uuid(sim.mappings, uuid)
    fig = _figure(11, 3)
    ax = fig.subplots()
    lo, hi = _time_range(sim, uuid)
    ax.set_title(
        _draw_metric(
            ax,
            sim,
            name,
            (lo, hi),
            function_name=function_name,
            uuid=uuid,
            period_seconds=period_seconds,
            stat=stat,
        )
    )
    _time_axis(ax, lo, hi)
    return fig
