"""What a chart costs, and who pays for it: drawn in the bot's own interpreter on threads (the
`thread` way) against drawn by the renderer process (`renderer`, what adapters do).

Each way runs in a fresh interpreter playing the bot: `--callers` at once ask for `--charts`
charts in all (results, team results, comparisons and progress, in English and Dutch) after a
few to warm up. Prints charts per second; processor ms per chart in the bot's process and in the
renderer; the wait per chart as a caller sees it (p50, p99); how late a 10 ms timer on the bot's
event loop fires meanwhile (p99, max: what everyone else's next question waits behind); the
first chart right after the start; and memory (the bot's RSS, whether it loaded matplotlib, the renderer's).

    .venv/bin/python bench/charts.py [--charts 60] [--callers 4] [--ways thread,renderer]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # the project, not bench/ (which has a telegram.py)

from bot import render  # noqa: E402
from bot.catalog import default_catalogs  # noqa: E402
from bot.charts import Chart  # noqa: E402

WARM_UP = 4
TICK = 0.01


def sample() -> list[Chart]:
    """The charts people get, in both languages."""
    found = []
    for lang in ("en", "nl"):
        catalog = default_catalogs()[lang]
        stages = {d.id: i % 6 + 1 for i, d in enumerate(catalog.dimensions)}
        profile: dict[str, int | None] = dict(stages)
        spreads: dict[str, tuple[int, int] | None] = {d: (max(1, s - 1), min(6, s + 2)) for d, s in stages.items()}
        found += [
            render.bars_chart(catalog, catalog.message("chart_profile_title", stage=3, name=catalog.stage(3).name),
                              [profile]),
            render.bars_chart(catalog, catalog.message("chart_team_title", name="Marketing"), [profile],
                              (catalog.message("chart_team_legend"),), spreads),
            render.bars_chart(catalog, catalog.message("chart_compare_title", name="Marketing"),
                              [profile, {**profile, "culture": None}],
                              (catalog.message("chart_team_legend"), catalog.message("chart_you_legend")), spreads),
            render.progress(catalog, [("2026-01-05", 2), ("2026-04-01", 3), ("2026-09-01", 3)]).chart,
        ]
    return [c for c in found if c is not None]


def cpu_seconds(pid: int) -> float:
    """Processor time (user and system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory(pid: int) -> dict[str, float]:
    """Resident memory now and at its peak, in MB."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {key: int(status[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def play_the_bot(way: str, count: int, callers: int) -> dict[str, object]:
    """Asks for the charts as adapters do, while a timer measures how late the event loop runs."""
    loop = asyncio.get_running_loop()
    if way == "thread":
        from bot.charts import render_png

        pool = ThreadPoolExecutor(max_workers=2)

        def draw(chart: Chart) -> Awaitable[bytes]:
            return loop.run_in_executor(pool, render_png, chart)

        renderer = os.getpid()
    else:
        from bot.charts import render as draw_elsewhere
        from bot.charts import renderer_pid, start_rendering

        start_rendering()
        renderer = await renderer_pid()
        draw = draw_elsewhere
    charts = sample()
    started = time.perf_counter()
    await draw(charts[0])
    cold = time.perf_counter() - started
    for chart in charts[1:WARM_UP]:
        await draw(chart)

    waits: list[float] = []

    async def burst() -> float:
        """Every caller asks for its share of the charts, one after the other; returns the wall time."""
        async def caller(first: int) -> None:
            for index in range(first, count, callers):
                asked = time.perf_counter()
                png = await draw(charts[index % len(charts)])
                waits.append(time.perf_counter() - asked)
                assert png[:8] == b"\x89PNG\r\n\x1a\n"

        started = time.perf_counter()
        await asyncio.gather(*(caller(first) for first in range(callers)))
        return time.perf_counter() - started

    bot_cpu, renderer_cpu = time.process_time(), cpu_seconds(renderer)
    wall = await burst()
    bot_cpu, renderer_cpu = time.process_time() - bot_cpu, cpu_seconds(renderer) - renderer_cpu

    # The same again with a timer on the event loop, which costs processor time of its own.
    lateness: list[float] = []
    drawing = True

    async def timer() -> None:
        while drawing:
            due = loop.time() + TICK
            await asyncio.sleep(TICK)
            lateness.append(loop.time() - due)

    ticking = asyncio.create_task(timer())
    await burst()
    drawing = False
    await ticking
    return {
        "way": way, "charts": count, "per_second": count / wall,
        "bot_ms": 1000 * bot_cpu / count,
        "renderer_ms": 1000 * renderer_cpu / count if renderer != os.getpid() else 0.0,
        "wait_p50": statistics.median(waits[:count]), "wait_p99": percentile(waits[:count], 0.99),
        "late_p99": percentile(lateness, 0.99), "late_max": max(lateness), "cold": cold,
        "bot_rss": memory(os.getpid())["VmRSS"], "matplotlib_in_bot": "matplotlib" in sys.modules,
        "renderer_rss": memory(renderer)["VmRSS"] if renderer != os.getpid() else 0.0,
        "renderer_peak": memory(renderer)["VmHWM"] if renderer != os.getpid() else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--charts", type=int, default=60)
    parser.add_argument("--callers", type=int, default=4)
    parser.add_argument("--ways", default="thread,renderer")
    parser.add_argument("--as-bot", help=argparse.SUPPRESS)  # one way, in this interpreter
    args = parser.parse_args()
    if args.as_bot:
        print(json.dumps(asyncio.run(play_the_bot(args.as_bot, args.charts, args.callers))))
        return
    rows = []
    for way in args.ways.split(","):
        done = subprocess.run([sys.executable, __file__, "--as-bot", way, "--charts", str(args.charts),
                               "--callers", str(args.callers)], capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.splitlines()[-1]))
    print(f"{args.charts} charts, {args.callers} callers at once, {os.cpu_count()} processors\n")
    print(f"{'way':<9} {'charts/s':>8} {'bot ms':>7} {'rend. ms':>8} {'wait p50':>8} {'wait p99':>8} "
          f"{'loop late p99':>13} {'max':>6} {'cold':>6} {'bot MB':>6} {'mpl':>4} {'rend. MB':>8} {'peak':>5}")
    for r in rows:
        print(f"{r['way']:<9} {r['per_second']:>8.1f} {r['bot_ms']:>7.1f} {r['renderer_ms']:>8.1f} "
              f"{r['wait_p50'] * 1000:>6.0f}ms {r['wait_p99'] * 1000:>6.0f}ms {r['late_p99'] * 1000:>11.1f}ms "
              f"{r['late_max'] * 1000:>4.0f}ms {r['cold']:>5.1f}s {r['bot_rss']:>6.0f} "
              f"{'yes' if r['matplotlib_in_bot'] else 'no':>4} {r['renderer_rss']:>8.0f} {r['renderer_peak']:>5.0f}")


if __name__ == "__main__":
    main()
