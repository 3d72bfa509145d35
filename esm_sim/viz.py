"""
Plots of a simulation for notebooks: the invocation timeline and any metric over time.

Optional: needs matplotlib (``pip install 'esm_sim[notebook]'``), imported
only when a plot is drawn, so ``import esm_sim.viz`` stays cheap. Everything
drawn comes from the trace (through ``esm_sim._views`` and ``sim.metrics``),
so a figure shows exactly what a test can assert. Figures are made without
pyplot on the Agg canvas, so they render with or without a display.

``plot_timeline`` draws one row per (mapping, shard, lane) and one bar per
invocation from its start to its end, coloured by outcome (``COLOURS``).
A bar that re-delivers records sent before (a retry, a bisect half, the rest
after a partial response) is hatched. Markers: ``v`` a bisect split, ``X``
a discard to the destination, ``x`` records dropped (or a failed delivery),
``|`` a throttle. Each bar carries its request id as its ``gid``, so tests
and tools can find the invocation behind a bar.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from esm_sim._engine.timefmt import iso_ms
from esm_sim._views import check_uuid, invocation_spans, marks

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from esm_sim._simulation import Simulation

__all__ = ["COLOURS", "plot_metric", "plot_timeline"]

COLOURS = {
    "ok": "#2ca02c",
    "error": "#d62728",
    "partial": "#ff7f0e",
    "rejected": "#e377c2",
    "in-flight": "#7f7f7f",
}
_MARKS = {
    # kind/outcome: (marker, colour, label)
    "split": ("v", "#1f77b4", "bisect split"),
    "destination": ("X", "#9467bd", "to destination"),
    "dropped": ("x", "#000000", "dropped"),
    "throttle": ("|", "#8c564b", "throttled"),
}


def _figure(width: float, height: float) -> Figure:
    """
    A new Figure, made without pyplot: no global state, and it renders with Agg.

    Notebooks display the returned Figure; ``fig.savefig(path)`` writes it
    anywhere, display or none.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        msg = "esm_sim.viz needs matplotlib; install 'esm_sim[notebook]'"
        raise ImportError(msg) from None
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig: Figure = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)  # the Agg canvas: draws headless, in CI as in a notebook
    return fig


def plot_timeline(sim: Simulation, *, uuid: str | None = None) -> Figure:
    """
    The invocations of every mapping (or one, with ``uuid``) per shard and lane.

    x: seconds since the first event shown; y: one row per (mapping, shard, lane).
    """
    check_uuid(sim.mappings, uuid)
    spans = invocation_spans(sim.trace, uuid=uuid)
    events = marks(sim.trace, uuid=uuid)
    times = [s.start_ms for s in spans] + [e.at_ms for e in events]
    t0 = min(times) if times else sim.now_ms
    rows: dict[tuple[str, str, int], int] = {}
    for key in [(s.mapping, s.shard, s.lane) for s in spans] + [
        (e.mapping, e.shard, e.lane) for e in events
    ]:
        rows.setdefault(key, len(rows))
    fig = _figure(10, 1.2 + 0.6 * max(len(rows), 1))
    ax = fig.subplots()
    for s in spans:
        y = rows[(s.mapping, s.shard, s.lane)]
        end = sim.now_ms if s.end_ms is None else s.end_ms
        ax.barh(
            y,
            (end - s.start_ms) / 1000,
            left=(s.start_ms - t0) / 1000,
            height=0.5,
            color=COLOURS[s.outcome],
            edgecolor="black",
            linewidth=0.5,
            hatch="//" if s.redelivery else None,
            gid=s.request_id,
        )
    seen: set[str] = set()
    for e in events:
        what = e.kind if e.kind in ("split", "throttle") else e.outcome
        if e.kind == "delivery-failure":
            what = "dropped"
        if what not in _MARKS:
            continue  # filters and retention expiry are in the text timeline
        marker, colour, label = _MARKS[what]
        ax.plot(
            [(e.at_ms - t0) / 1000],
            [rows[(e.mapping, e.shard, e.lane)] + 0.35],
            marker=marker,
            color=colour,
            linestyle="none",
            markersize=8,
            label=None if label in seen else label,
        )
        seen.add(label)
    labels = [f"{m[:8]} {sh[-8:]} lane {ln}" for (m, sh, ln) in rows]
    ax.set_yticks(range(len(rows)), labels)
    ax.set_ylim(-0.6, max(len(rows), 1) - 0.2)
    ax.invert_yaxis()
    ax.set_xlabel(f"seconds since {iso_ms(t0)}")
    ax.set_title("invocations per shard and lane")
    from matplotlib.patches import Patch

    handles: list[Any] = [
        Patch(facecolor=c, edgecolor="black", label=o)
        for o, c in COLOURS.items()
        if any(s.outcome == o for s in spans)
    ]
    handles += list(ax.get_legend_handles_labels()[0])
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    fig.tight_layout()
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
    A metric over time: its raw points, or one ``stat`` per ``period_seconds`` bucket.

    ``ConcurrentExecutions`` is drawn as a step line; counts as stems.
    """
    metrics = sim.metrics
    if period_seconds is None:
        points = metrics.series(name, function_name=function_name, uuid=uuid)
        ylabel = name
    else:
        points = metrics.statistics(
            name, period_seconds, stat, function_name=function_name, uuid=uuid
        )
        ylabel = f"{name} ({stat} per {period_seconds} s)"
    fig = _figure(10, 3)
    ax = fig.subplots()
    xs: list[Any] = [p[0] for p in points]
    ys = [p[1] for p in points]
    if name == "ConcurrentExecutions" and period_seconds is None:
        ax.step(xs, ys, where="post")
    elif xs:
        ax.plot(xs, ys, marker="o", linestyle="-" if period_seconds else "none")
    ax.set_ylabel(ylabel)
    ax.set_xlabel("time (UTC)")
    filters = ", ".join(
        f"{k}={v}" for k, v in (("function", function_name), ("mapping", uuid)) if v
    )
    ax.set_title(name + (f" [{filters}]" if filters else ""))
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig
