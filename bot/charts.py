"""Charts as PNG: a neutral description the engine builds, and a headless renderer for adapters.

The engine puts a `Chart` in a reply (words already in the person's language); an adapter calls
`render_png` when it needs the picture, off its event loop. Titles, labels and legends carry
names people chose (a team, a group), so every string is drawn as plain text: `$…$` is never
read as a formula, and TeX is never run.
"""
from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes

STAGES = 6
COLOURS = ("#1f6f8b", "#e07a24", "#9aa5b1")
# Per text rather than through rcParams: charts render on several threads at once.
PLAIN: dict[str, Any] = {"parse_math": False, "usetex": False}


@dataclass(frozen=True)
class Chart:
    """What to draw. `kind` is "bars" (per dimension) or "progress" (overall stage over time)."""

    kind: str
    title: str
    labels: tuple[str, ...]
    stage_names: tuple[str, ...]
    series: tuple[tuple[int | None, ...], ...]
    legend: tuple[str, ...] = ()
    ranges: tuple[tuple[int, int] | None, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the event log; its fields are immutable, so nothing is copied."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chart:
        return cls(
            kind=data["kind"],
            title=data["title"],
            labels=tuple(data["labels"]),
            stage_names=tuple(data["stage_names"]),
            series=tuple(tuple(s) for s in data["series"]),
            legend=tuple(data.get("legend", ())),
            ranges=tuple(tuple(r) if r else None for r in data.get("ranges", ())),
        )


_RENDERING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="stagecoach-charts")


async def render(chart: Chart) -> bytes:
    """`render_png` off the event loop, on threads of its own: a stop can drop the charts still
    queued (`stop_rendering`) instead of waiting for them, as the loop's default pool would."""
    return await asyncio.get_running_loop().run_in_executor(_RENDERING, render_png, chart)


def stop_rendering() -> None:
    """Drops the charts not yet started: their replies count as unsent, and go out after a restart."""
    _RENDERING.shutdown(wait=False, cancel_futures=True)


def render_png(chart: Chart) -> bytes:
    """Draws a chart headless (Agg) at phone-readable size; about a tenth of a second."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 0.55 * max(len(chart.labels), 4) + 2.2), dpi=140)
    axes = figure.add_subplot()
    if chart.kind == "progress":
        _progress(axes, chart)
    else:
        _bars(axes, chart)
    axes.set_title(chart.title, fontsize=13, loc="left", fontweight="bold", **PLAIN)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _bars(axes: Axes, chart: Chart) -> None:
    count = len(chart.series)
    height = 0.8 / count
    rows = range(len(chart.labels))
    for index, values in enumerate(chart.series):
        offsets = [r - 0.4 + height * (index + 0.5) for r in rows]
        axes.barh(
            offsets,
            [v or 0 for v in values],
            height=height * 0.9,
            color=COLOURS[index % len(COLOURS)],
            label=chart.legend[index] if index < len(chart.legend) else None,
        )
        for y, value in zip(offsets, values, strict=True):
            if value is None:
                axes.text(0.1, y, "?", va="center", fontsize=10, color="#555555", **PLAIN)
    for row, span in zip(rows, chart.ranges, strict=False):
        if span:
            y = row - 0.4 + height / 2
            axes.plot(span, [y, y], color="#222222", linewidth=2, marker="|", markersize=12)
    axes.set_yticks(list(rows), chart.labels, fontsize=10, **PLAIN)
    axes.invert_yaxis()
    axes.set_xlim(0, STAGES + 0.3)
    axes.set_xticks(
        range(1, STAGES + 1),
        [f"{n} {name}" for n, name in enumerate(chart.stage_names, 1)],
        fontsize=8, rotation=30, ha="right", rotation_mode="anchor", **PLAIN,
    )
    axes.grid(axis="x", color="#dddddd")
    axes.set_axisbelow(True)
    if chart.legend:
        for text in axes.legend(loc="lower right", fontsize=9).get_texts():
            text.set(**PLAIN)


def _progress(axes: Axes, chart: Chart) -> None:
    values = chart.series[0]
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    axes.plot([p[0] for p in points], [p[1] for p in points], color=COLOURS[0], marker="o", linewidth=2.5)
    axes.set_xticks(range(len(chart.labels)), chart.labels, fontsize=9, rotation=30, **PLAIN)
    axes.set_ylim(0.5, STAGES + 0.5)
    axes.set_yticks(range(1, STAGES + 1), [f"{n} {name}" for n, name in enumerate(chart.stage_names, 1)],
                    fontsize=9, **PLAIN)
    axes.grid(axis="y", color="#dddddd")
