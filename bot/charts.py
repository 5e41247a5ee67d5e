"""Charts as PNG: a neutral description the engine builds, and a headless renderer for adapters.

The engine puts a `Chart` in a reply (words already in the person's language); an adapter calls
`render`, which draws it in a process of its own (the renderer): matplotlib is imported only
there, and a chart costs the bot's interpreter no processor time, so nobody's next question waits
behind one. Titles, labels and legends carry names people chose (a team, a group), so every
string is drawn as plain text: `$…$` is never read as a formula, and TeX is never run.
"""
from __future__ import annotations

import asyncio
import functools
import gc
import io
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Text

STAGES = 6
DPI = 110  # pixels per inch: 8 pt text stays legible on a phone
WIDTH = 7.0  # inches, the labels included: what a phone shows across
MARGIN = 8  # points of white around what is drawn
TICK_SPACE = 7  # points between an axis and its tick labels (the tick and its pad)
TITLE_WIDTH = 42  # characters of a title's line at most: about the width of the picture
COLOURS = ("#1f6f8b", "#e07a24", "#9aa5b1")
# Per text rather than through rcParams, which whoever calls `render_png` may have set otherwise.
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


class RendererGone(RuntimeError):
    """The renderer process ended (killed, out of memory, stopped) before it sent the chart."""


class Renderer:
    """One long-lived process that draws charts one after the other (`python -m bot.charts`), fed
    by a thread of its own so that the event loop never waits on it. It starts with the first
    chart, or earlier with `start`; one that died fails the chart it held, and the next chart
    starts a new one. `stop` ends it for good."""

    def __init__(self) -> None:
        self._feeder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stagecoach-renderer")
        self._process: subprocess.Popen[bytes] | None = None
        self._stopped = False

    def start(self) -> None:
        """Starts the process, and matplotlib in it, before a person's chart needs them."""
        self._feeder.submit(self._running)

    async def render(self, chart: Chart) -> bytes:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._feeder, self._draw, chart)
        except RendererGone:
            if self._stopped:  # ended by `stop` in the middle of this chart: dropped like the rest
                raise asyncio.CancelledError from None
            raise

    async def pid(self) -> int:
        """The id of the process that draws (never this one)."""
        return (await asyncio.get_running_loop().run_in_executor(self._feeder, self._running)).pid

    def stop(self) -> None:
        """Drops the charts not yet drawn and ends the process at once: a stop waits for no chart."""
        self._stopped = True
        self._feeder.shutdown(wait=False, cancel_futures=True)
        if self._process is not None:
            self._process.kill()

    def _running(self) -> subprocess.Popen[bytes]:
        if self._stopped:
            raise RendererGone("the renderer was stopped")
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen([sys.executable, "-m", "bot.charts"], stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, cwd=Path(__file__).parents[1],
                                             env=_without_secrets(os.environ))
        return self._process

    def _draw(self, chart: Chart) -> bytes:
        process = self._running()
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps(chart.to_dict()).encode() + b"\n")
            process.stdin.flush()
            status, size = process.stdout.readline().split()
            body = process.stdout.read(int(size))
            if len(body) != int(size):
                raise EOFError(f"{len(body)} of {int(size)} bytes")
        except (OSError, ValueError, EOFError) as error:
            process.kill()
            process.wait()
            raise RendererGone(f"renderer {process.pid} ended: {error!r}") from error
        if status != b"ok":
            raise ValueError(f"renderer {process.pid} could not draw the chart: {body.decode(errors='replace')}")
        return body


def serve(charts: BinaryIO, pictures: BinaryIO) -> None:
    """The renderer's loop: a chart as a line of JSON in; `ok <size>` (or `error <size>`) and that
    many bytes out. It ends when its input does, that is when the bot stops or dies. Ctrl-C is
    for the bot, which stops the renderer."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    render_png(Chart("bars", "0", ("0",) * 9, ("0",) * STAGES, ((1, 2, 3, 4, 5, 6, None, 1, 2),)))  # warm up
    # What lives on (matplotlib itself) is set aside once, so that collecting each chart's
    # figure right after it costs about a millisecond; left to itself, memory grows by half.
    gc.collect()
    gc.freeze()
    for line in charts:
        try:
            status, body = b"ok", render_png(Chart.from_dict(json.loads(line)))
        except Exception as error:
            status, body = b"error", repr(error).encode()
        gc.collect()
        try:
            pictures.write(b"%s %d\n" % (status, len(body)) + body)
            pictures.flush()
        except BrokenPipeError:
            return


_RENDERER = Renderer()


async def render(chart: Chart) -> bytes:
    """The chart as PNG, drawn by the renderer process."""
    return await _RENDERER.render(chart)


def _without_secrets(environment: Mapping[str, str]) -> dict[str, str]:
    """The renderer draws pictures: it gets no platform token, secret or database address."""
    secret = ("TOKEN", "SECRET", "PASSWORD", "DATABASE_URL")
    return {name: value for name, value in environment.items()
            if not name.startswith(("SLACK_", "TELEGRAM_")) and not any(word in name for word in secret)}


def start_rendering() -> None:
    """Starts the renderer ahead of the first chart, so that no person waits for matplotlib to load."""
    _RENDERER.start()


def stop_rendering() -> None:
    """Drops the charts not yet drawn: their replies count as unsent, and go out after a restart."""
    _RENDERER.stop()


async def renderer_pid() -> int:
    """The id of the renderer process."""
    return await _RENDERER.pid()


def render_png(chart: Chart) -> bytes:
    """Draws a chart headless (Agg) for a phone, at a resolution that keeps 8 pt text legible, in
    under 100 ms of processor time. Drawn once: the margins come from the measured labels rather
    than from a first drawing to crop by, and each thread reuses one figure per kind of chart,
    whose axes and ticks cost more to build than to draw."""
    figure, axes, heading = _figure(chart.kind)
    if chart.kind == "progress":
        left, bottom = _progress(axes, chart)
    else:
        left, bottom = _bars(axes, chart)
    title = _wrap(chart.title, 72 * WIDTH - 2 * MARGIN)
    heading.set_text(title)
    top = (title.count("\n") + 1) * 13 * 1.25 + 10 + MARGIN  # points: the title's lines and a gap
    # The same size chart after chart, whatever the language (as long as the title's lines and
    # the rows are as many), keeps the canvas, and with it every text measured before: the labels
    # below take their room from the plot.
    height = top / 72 + 0.4 * max(len(chart.labels), 4) + 2.6
    figure.set_size_inches(WIDTH, height)
    figure.subplots_adjust(left=left / 72 / WIDTH, right=1 - MARGIN / 72 / WIDTH,
                           bottom=bottom / 72 / height, top=1 - top / 72 / height)
    heading.set_position((MARGIN / 72 / WIDTH, 1 - MARGIN / 72 / height))
    buffer = io.BytesIO()
    # Light compression costs far less than the default, for a somewhat larger file.
    figure.savefig(buffer, format="png", pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


_FIGURES = threading.local()


def _wrap(title: str, width: float) -> str:
    """A long title (a team's name) wraps rather than widening the picture, to lines that fit in
    `width` points. Not by matplotlib's own wrapping: that reads `$…$` as a formula whatever the
    text says."""
    for characters in range(TITLE_WIDTH, 10, -4):
        wrapped = "\n".join(textwrap.fill(line, characters) for line in title.splitlines())
        if _widest([wrapped], 13, bold=True)[0] <= width:
            break
    return wrapped


def _figure(kind: str) -> tuple[Figure, Axes, Text]:
    """This thread's figure for a kind of chart and its title, emptied of the last chart drawn on it."""
    cache: dict[str, tuple[Figure, Axes, Text]] = _FIGURES.__dict__.setdefault("cache", {})
    if kind not in cache:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(dpi=DPI)
        FigureCanvasAgg(figure)  # its own, kept: a canvas made for each picture would measure every text anew
        axes = figure.add_subplot()
        # Where the margins are measured beforehand, nothing is placed by the extent of the tick
        # labels (which measuring would cost each chart): no axis label, an empty offset text.
        axes.xaxis.set_label_coords(0.5, 0)
        axes.yaxis.set_label_coords(0, 0.5)
        title = figure.text(0, 1, "", fontsize=13, fontweight="bold", va="top", **PLAIN)
        cache[kind] = figure, axes, title
    figure, axes, title = cache[kind]
    for artist in (*axes.collections, *axes.lines, *axes.texts):
        artist.remove()
    if axes.legend_ is not None:
        axes.legend_.remove()
    return figure, axes, title


@functools.lru_cache(maxsize=1024)
def _extent(text: str, size: float, rotation: float = 0, bold: bool = False) -> tuple[float, float]:
    """Width and height in points that a text of this size takes, turned by `rotation` degrees.
    Kept: the same dimension and stage names come back chart after chart."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    font = FontProperties(size=size, weight="bold" if bold else "normal")
    renderer = RendererAgg(1, 1, 72)
    lines = [renderer.get_text_width_height_descent(line, font, ismath=False) for line in text.split("\n")]
    width, height = max(w for w, _, _ in lines), 1.2 * size * len(lines)  # matplotlib's line spacing
    turn = math.radians(rotation)
    return (width * math.cos(turn) + height * math.sin(turn), width * math.sin(turn) + height * math.cos(turn))


def _widest(texts: Iterable[str], size: float, rotation: float = 0, bold: bool = False) -> tuple[float, float]:
    """The widest and the highest extent (points) among these texts."""
    extents = [_extent(text, size, rotation, bold) for text in texts]
    return max((e[0] for e in extents), default=0), max((e[1] for e in extents), default=0)


def _stages(chart: Chart) -> list[str]:
    return [f"{n} {name}" for n, name in enumerate(chart.stage_names, 1)]


def _bars(axes: Axes, chart: Chart) -> tuple[float, float]:
    """Draws the bars; returns the margins (points) their labels need on the left and below."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Patch, Rectangle

    count = len(chart.series)
    height = 0.8 / count
    rows = range(len(chart.labels))
    # One collection per series rather than a patch per bar: the same picture, drawn at once.
    for index, values in enumerate(chart.series):
        offsets = [r - 0.4 + height * index for r in rows]
        bars = [Rectangle((0, y + height * 0.05), v or 0, height * 0.9) for y, v in zip(offsets, values, strict=True)]
        axes.add_collection(PatchCollection(bars, color=COLOURS[index % len(COLOURS)], linewidth=0), autolim=False)
        for y, value in zip(offsets, values, strict=True):
            if value is None:
                axes.text(0.1, y + height / 2, "?", va="center", fontsize=10, color="#555555", **PLAIN)
    # The spreads as one line broken between rows, with a mark at either end.
    xs: list[float] = []
    ys: list[float] = []
    for row, span in zip(rows, chart.ranges, strict=False):
        if span:
            xs += [*span, math.nan]
            ys += [row - 0.4 + height / 2] * 3
    if xs:
        axes.plot(xs, ys, color="#222222", linewidth=2, marker="|", markersize=12)
    axes.set_yticks(list(rows), chart.labels, fontsize=10, in_layout=False, **PLAIN)
    axes.set_ylim(len(chart.labels) - 0.5, -0.5)  # the first dimension on top
    axes.set_xlim(0, STAGES + 0.3)
    stages = _stages(chart)
    axes.set_xticks(range(1, STAGES + 1), stages, fontsize=8, rotation=30, ha="right", rotation_mode="anchor",
                    in_layout=False, **PLAIN)
    axes.grid(axis="x", color="#dddddd")
    axes.set_axisbelow(True)
    if chart.legend:
        keys = [Patch(color=COLOURS[i % len(COLOURS)], label=name) for i, name in enumerate(chart.legend[:count])]
        for text in axes.legend(handles=keys, loc="lower right", fontsize=9).get_texts():
            text.set(**PLAIN)
    return _widest(chart.labels, 10)[0] + TICK_SPACE + MARGIN, _widest(stages, 8, 30)[1] + TICK_SPACE + MARGIN


def _progress(axes: Axes, chart: Chart) -> tuple[float, float]:
    """Draws the stage over time; returns the margins (points) its labels need on the left and below."""
    values = chart.series[0]
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    axes.plot([p[0] for p in points], [p[1] for p in points], color=COLOURS[0], marker="o", linewidth=2.5)
    axes.set_xticks(range(len(chart.labels)), chart.labels, fontsize=9, rotation=30, ha="right",
                    rotation_mode="anchor", in_layout=False, **PLAIN)
    margin = max(len(chart.labels) - 1, 1) * 0.06
    axes.set_xlim(-margin, len(chart.labels) - 1 + margin)
    axes.set_ylim(0.5, STAGES + 0.5)
    stages = _stages(chart)
    axes.set_yticks(range(1, STAGES + 1), stages, fontsize=9, in_layout=False, **PLAIN)
    axes.grid(axis="y", color="#dddddd")
    # The first date reaches left of the axis, beyond the stage names when they are short.
    first = _extent(chart.labels[0], 9, 30)[0] if chart.labels else 0
    left = max(_widest(stages, 9)[0] + TICK_SPACE, first) + MARGIN
    return left, _widest(chart.labels, 9, 30)[1] + TICK_SPACE + MARGIN


if __name__ == "__main__":
    # Replies go out on a copy of stdout; anything printed by mistake goes to stderr instead.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, replies)
