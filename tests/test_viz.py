"""The plots render headless, and their bars match the trace."""

from __future__ import annotations

import itertools

import pytest

pytest.importorskip("matplotlib")

from matplotlib.colors import to_hex
from matplotlib.dates import date2num
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

import esm_sim
from esm_sim import viz
from esm_sim._demo import build_demo
from esm_sim._engine.timefmt import ms_to_datetime
from esm_sim.errors import ConfigError

DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def demo() -> esm_sim.Simulation:
    """The built-in demo: 30 orders, order-17 poison, bisect, 2 retries, SQS destination."""
    return build_demo(0)


def bars(fig: object) -> list[Rectangle]:
    """The invocation bars of a timeline (its first axes)."""
    ax = fig.axes[0]  # type: ignore[attr-defined]
    return [p for p in ax.patches if isinstance(p, Rectangle) and p.get_gid()]


def at(ms: int) -> float:
    """Epoch milliseconds as the x of a clock-time axis."""
    return float(date2num(ms_to_datetime(ms)))


def throttled() -> esm_sim.Simulation:
    """Reserved concurrency 0: six throttles at 5, 6, 8, 12, 20 and 36 s, then a discard."""
    sim = esm_sim.Simulation(seed=1)
    table = sim.create_table("orders", partition_key="pk")
    sim.create_function("fn", lambda event, context: None)
    sim.lambda_client.create_event_source_mapping(
        FunctionName="fn",
        EventSourceArn=table.stream_arn,
        StartingPosition="TRIM_HORIZON",
        MaximumRecordAgeInSeconds=60,
    )
    sim.lambda_client.put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=0)
    table.put_item({"pk": "k0"})
    sim.run_until_idle()
    return sim


class TestFigures:
    @pytest.mark.parametrize(
        "draw",
        [
            viz.plot_timeline,
            lambda sim: viz.plot_timeline(sim, metrics=["IteratorAge", "Throttles"]),
            lambda sim: viz.plot_metric(sim, "Invocations"),
            lambda sim: viz.plot_metric(sim, "ConcurrentExecutions"),
            lambda sim: _drawn_on(viz.figure(width=4, height=2)),
        ],
        ids=["timeline", "timeline+metrics", "count", "gauge", "own-figure"],
    )
    def test_shows_as_png_and_svg_and_is_a_figure(
        self, demo: esm_sim.Simulation, draw: object
    ) -> None:
        """Every viz result is a matplotlib Figure whose PNG and SVG reprs Jupyter displays."""
        fig = draw(demo)  # type: ignore[operator]
        assert isinstance(fig, Figure)
        assert fig._repr_png_().startswith(b"\x89PNG\r\n\x1a\n")
        svg = fig._repr_svg_()
        assert isinstance(svg, str)
        assert "<svg" in svg

    def test_leaves_no_pyplot_figures(self, demo: esm_sim.Simulation) -> None:
        """Plots are made without pyplot, so no figure piles up in its global registry."""
        import matplotlib.pyplot as plt

        before = plt.get_fignums()
        viz.plot_timeline(demo, metrics=["Invocations"])._repr_png_()
        assert before == plt.get_fignums()

    def test_an_own_figure_has_the_size_asked(self) -> None:
        """viz.figure(width=, height=) is a Figure of that size in inches, for the user's own plots."""
        assert [5.0, 2.5] == list(viz.figure(width=5, height=2.5).get_size_inches())

    @pytest.mark.parametrize("bad", [0, -1, "3", True, 1000])
    def test_an_own_figure_refuses_a_size_that_is_not_inches(self, bad: object) -> None:
        """viz.figure refuses a width that is not a positive number of inches, naming it."""
        with pytest.raises(ConfigError, match="width="):
            viz.figure(width=bad, height=2)  # type: ignore[arg-type]


def _drawn_on(fig: Figure) -> Figure:
    fig.subplots().plot([0, 1], [1, 0])
    return fig


class TestPlotTimeline:
    def test_one_bar_per_invocation(self, demo: esm_sim.Simulation) -> None:
        """Each invocation of the trace is one bar, tagged with its request id."""
        invokes = demo.trace.events(kind="invoke")
        fig = viz.plot_timeline(demo)
        assert [e.get("request_id") for e in invokes] == [b.get_gid() for b in bars(fig)]

    def test_bars_span_start_to_end_and_colour_by_outcome(self, demo: esm_sim.Simulation) -> None:
        """A bar starts and ends with its invocation; red for function errors, green for ok."""
        fig = viz.plot_timeline(demo)
        results = {e.get("request_id"): e for e in demo.trace.events(kind="result")}
        invokes = demo.trace.events(kind="invoke")
        for bar, sent in zip(bars(fig), invokes, strict=True):
            done = results[sent.get("request_id")]
            assert at(sent.at_ms) == pytest.approx(bar.get_x(), abs=1e-9)
            assert (done.at_ms - sent.at_ms) / DAY_MS == pytest.approx(bar.get_width())
            colour = viz.COLOURS["error" if done.get("error") else "ok"]
            assert colour == to_hex(bar.get_facecolor())

    def test_splits_and_discards_are_marked(self, demo: esm_sim.Simulation) -> None:
        """Every split and discard of the trace has a marker in the legend."""
        fig = viz.plot_timeline(demo)
        (ax,) = fig.axes
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert ["ok", "error", "redelivery", "bisect split", "to destination"] == labels
        splits = [ln for ln in ax.lines if ln.get_marker() == "v"]
        assert len(demo.trace.events(kind="split")) == len(splits)

    @staticmethod
    def _reporting(fail_index: int) -> esm_sim.Simulation:
        sim = esm_sim.Simulation(seed=2)
        table = sim.create_table("orders", partition_key="pk")

        def handler(event: dict, context: object) -> dict:
            records = event["Records"]
            if len(records) < 2:
                return {}
            failed = records[fail_index]["dynamodb"]["SequenceNumber"]
            return {"batchItemFailures": [{"itemIdentifier": failed}]}

        sim.create_function("fn", handler)
        sim.lambda_client.create_event_source_mapping(
            FunctionName="fn",
            EventSourceArn=table.stream_arn,
            StartingPosition="TRIM_HORIZON",
            FunctionResponseTypes=["ReportBatchItemFailures"],
            MaximumRetryAttempts=0,
        )
        for i in range(2):
            table.put_item({"pk": f"k{i}"})
        sim.run_until_idle()
        return sim

    def test_partial_bars_are_orange(self) -> None:
        """An invocation whose item failures move the checkpoint is drawn as partial."""
        sim = self._reporting(fail_index=1)
        colours = [to_hex(b.get_facecolor()) for b in bars(viz.plot_timeline(sim))]
        assert viz.COLOURS["partial"] == colours[0]

    def test_rejected_bars_have_their_own_colour(self) -> None:
        """
        An invocation the mapping failed without a function error (the item
        failures name the batch's first record: no progress, spec 4) is drawn
        as rejected, not ok.
        """
        sim = self._reporting(fail_index=0)
        colours = [to_hex(b.get_facecolor()) for b in bars(viz.plot_timeline(sim))]
        assert viz.COLOURS["rejected"] == colours[0]

    def test_redeliveries_are_hatched(self, demo: esm_sim.Simulation) -> None:
        """A bar that re-delivers records sent before is hatched; a first delivery is not."""
        from esm_sim._views import invocation_spans

        redelivered = [s.redelivery for s in invocation_spans(demo.trace)]
        assert any(redelivered)
        assert redelivered == [bool(b.get_hatch()) for b in bars(viz.plot_timeline(demo))]

    def test_throttles_are_marked(self) -> None:
        """Each throttle of the trace has a marker on its row, labelled in the legend."""
        sim = throttled()
        (ax,) = viz.plot_timeline(sim).axes
        ticks = [ln for ln in ax.lines if ln.get_marker() == "|"]
        assert len(sim.trace.events(kind="throttle")) == len(ticks)
        assert "throttled" in [t.get_text() for t in ax.get_legend().get_texts()]

    def test_rows_are_named_function_shard_lane(self, demo: esm_sim.Simulation) -> None:
        """A row is labelled `function / shard (last 8) / lane`, not by mapping UUID."""
        (ax,) = viz.plot_timeline(demo).axes
        (shard,) = {e.shard for e in demo.trace.events(kind="invoke")}
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert [f"process-orders / {shard[-8:]} / lane 0"] == labels

    def test_rows_are_grouped_by_shard_with_lanes_in_order(self) -> None:
        """Rows of one shard sit together, lanes counted up, whichever lane acted first."""
        sim = esm_sim.Simulation(seed=7)
        table = sim.create_table("orders", partition_key="pk", shard_count=2)
        sim.create_function("fn", lambda e, c: None, duration=0.5)
        sim.lambda_client.put_function_concurrency(
            FunctionName="fn", ReservedConcurrentExecutions=3
        )
        sim.lambda_client.create_event_source_mapping(
            FunctionName="fn",
            EventSourceArn=table.stream_arn,
            StartingPosition="TRIM_HORIZON",
            BatchSize=10,
            ParallelizationFactor=4,
        )
        sim.run_for(10)
        for i in range(120):  # throttled lanes act in an order of their own
            sim.call_later(i / 60, table.put_item, {"pk": f"customer-{i % 101}"})
        sim.run_until_idle()
        labels = [t.get_text() for t in viz.plot_timeline(sim).axes[0].get_yticklabels()]
        keys = [(label.split(" / ")[1], int(label.rsplit(" ", 1)[1])) for label in labels]
        shards = [shard for shard, _ in keys]
        assert 8 == len(keys)
        assert shards == sorted(shards, key=shards.index)  # each shard's rows together
        assert [0, 1, 2, 3, 0, 1, 2, 3] == [lane for _, lane in keys]

    def test_x_axis_is_utc_clock_time(self, demo: esm_sim.Simulation) -> None:
        """The time axis is labelled UTC and spans the first to the last invocation."""
        (ax,) = viz.plot_timeline(demo).axes
        spans = demo.trace.events(kind="invoke")
        lo, hi = ax.get_xlim()
        assert "time (UTC)" == ax.get_xlabel()
        assert lo <= at(spans[0].at_ms) < at(spans[-1].at_ms) <= hi

    def test_metrics_stack_under_the_timeline_on_one_time_axis(
        self, demo: esm_sim.Simulation
    ) -> None:
        """`metrics=[...]` adds one panel per metric under the timeline, sharing its x axis."""
        fig = viz.plot_timeline(demo, metrics=["IteratorAge", "Throttles"])
        timeline, age, throttles = fig.axes
        assert timeline.get_xlim() == age.get_xlim() == throttles.get_xlim()
        assert timeline.get_shared_x_axes().joined(timeline, throttles)
        assert ["IteratorAge", "Throttles (Sum per 1 s)"] == [
            age.get_title(),
            throttles.get_title(),
        ]
        assert "time (UTC)" == throttles.get_xlabel()

    def test_renders_to_png(self, demo: esm_sim.Simulation, tmp_path: object) -> None:
        """The figure saves as a PNG without a display."""
        path = tmp_path / "timeline.png"  # type: ignore[operator]
        viz.plot_timeline(demo).savefig(path)
        assert path.read_bytes().startswith(b"\x89PNG")


class TestPlotMetric:
    def test_points_are_the_series(self, demo: esm_sim.Simulation) -> None:
        """The plotted points are exactly the metric's series."""
        fig = viz.plot_metric(demo, "Duration")
        (ax,) = fig.axes
        (line,) = ax.lines
        assert [v for _, v in demo.metrics.series("Duration")] == list(line.get_ydata())

    def test_statistics_per_period(self, demo: esm_sim.Simulation) -> None:
        """With period_seconds a count shows one bar per bucket, its height the statistic."""
        fig = viz.plot_metric(demo, "Invocations", period_seconds=1, stat="Sum")
        (ax,) = fig.axes
        heights = {round(p.get_x(), 9): p.get_height() for p in ax.patches}
        for start, value in demo.metrics.statistics("Invocations", 1, "Sum"):
            assert value == heights[round(float(date2num(start)), 9)]

    def test_empty_periods_are_zero_height_bars(self) -> None:
        """A count draws every period from first to last event, zero where nothing happened."""
        sim = throttled()
        (ax,) = viz.plot_metric(sim, "Throttles", period_seconds=1).axes
        heights = [p.get_height() for p in ax.patches]
        widths = {round(p.get_width() * DAY_MS) for p in ax.patches}
        assert {900} == widths  # one bar per 1 s period (90 % wide)
        assert 6 == sum(heights)  # the six throttles
        assert 0 in heights
        xs = [p.get_x() for p in ax.patches]
        gaps = {round((b - a) * DAY_MS) for a, b in itertools.pairwise(xs)}
        assert {1000} == gaps  # no period is skipped

    def test_throttles_are_bars_from_zero(self) -> None:
        """Throttles is drawn as bars on a count axis from 0, not dots on a zoomed axis."""
        sim = throttled()
        (ax,) = viz.plot_metric(sim, "Throttles").axes
        assert [] == list(ax.lines)
        assert list(ax.patches)
        assert 0 == ax.get_ylim()[0]
        assert ax.get_ylim()[1] >= 1

    @pytest.mark.parametrize(
        ("name", "unit"),
        [
            ("Invocations", "count"),
            ("Errors", "count"),
            ("Throttles", "count"),
            ("ConcurrentExecutions", "count"),
            ("Duration", "duration (ms)"),
            ("IteratorAge", "age (s)"),  # the demo's ages reach 10 s
        ],
    )
    def test_y_axis_starts_at_zero_and_names_its_unit(
        self, demo: esm_sim.Simulation, name: str, unit: str
    ) -> None:
        """Every metric's y axis starts at 0 and is labelled with its unit."""
        (ax,) = viz.plot_metric(demo, name).axes
        assert 0 == ax.get_ylim()[0]
        assert unit == ax.get_ylabel()
        assert "time (UTC)" == ax.get_xlabel()

    def test_iterator_age_is_in_ms_or_s(self) -> None:
        """IteratorAge is drawn in ms below 10 s and in seconds from 10 s, and the axis says which."""
        short = TestPlotTimeline._reporting(fail_index=1)
        assert "age (ms)" == viz.plot_metric(short, "IteratorAge").axes[0].get_ylabel()
        sim = esm_sim.Simulation(seed=1)
        table = sim.create_table("orders", partition_key="pk")
        sim.create_function("fn", lambda event, context: None)
        table.put_item({"pk": "k0"})
        sim.run_for(30_000)  # the record waits 30 s before a mapping reads it
        sim.lambda_client.create_event_source_mapping(
            FunctionName="fn", EventSourceArn=table.stream_arn, StartingPosition="TRIM_HORIZON"
        )
        sim.run_until_idle()
        (ages_ms,) = [v for _, v in sim.metrics.series("IteratorAge")]
        (ax,) = viz.plot_metric(sim, "IteratorAge").axes
        assert "age (s)" == ax.get_ylabel()
        assert [ages_ms / 1000] == list(ax.lines[0].get_ydata())

    def test_gauges_are_steps(self, demo: esm_sim.Simulation) -> None:
        """ConcurrentExecutions and IteratorAge are drawn as post-steps through their points."""
        for name in viz.GAUGES:
            (ax,) = viz.plot_metric(demo, name).axes
            (line,) = ax.lines
            assert "steps-post" == line.get_drawstyle()

    def test_same_clock_time_as_the_timeline(self, demo: esm_sim.Simulation) -> None:
        """A metric plot's x axis is the timeline's: same span, same instant at the same x."""
        timeline = viz.plot_timeline(demo).axes[0]
        (ax,) = viz.plot_metric(demo, "IteratorAge").axes
        assert timeline.get_xlim() == ax.get_xlim()
        first_bar = bars(timeline.figure)[0]
        (line,) = ax.lines
        assert first_bar.get_x() == pytest.approx(line.get_xdata()[0], abs=1e-9)

    def test_unknown_metric_raises(self, demo: esm_sim.Simulation) -> None:
        """An unknown metric name raises ConfigError."""
        with pytest.raises(ConfigError, match="is not a metric"):
            viz.plot_metric(demo, "Nope")

    @pytest.mark.parametrize("name", ["Invocations", "IteratorAge"])
    @pytest.mark.parametrize("period", [0, -5, 1.5])
    def test_a_bad_period_raises(self, demo: esm_sim.Simulation, name: str, period: object) -> None:
        """period_seconds is None or an int >= 1, for counts and gauges alike: else ConfigError naming it."""
        with pytest.raises(ConfigError, match=rf"^period_seconds={period!r} must be None"):
            viz.plot_metric(demo, name, period_seconds=period)


class TestCommandLine:
    def test_demo_writes_png(self, tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
        """`python -m esm_sim demo --png PATH` writes the timeline plot."""
        from esm_sim.__main__ import main

        path = tmp_path / "demo.png"  # type: ignore[operator]
        assert 0 == main(["demo", "--png", str(path)])
        assert path.read_bytes().startswith(b"\x89PNG")
        assert f"timeline plot written to {path}" in capsys.readouterr().out
