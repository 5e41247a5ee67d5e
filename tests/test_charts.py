"""Charts are valid PNGs of a size a phone shows well, in both languages, drawn by a process of
their own: matplotlib is never imported by the bot's."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import struct
import subprocess
import sys

import pytest

from bot import render
from bot.catalog import default_catalogs
from bot.charts import Chart, Renderer, render_png
from tests.waiting import DEADLINE, alive, unread, until

PNG = b"\x89PNG\r\n\x1a\n"
CHART = Chart("bars", "Team", ("Strategie & doelen", "Cultuur"), ("Planning", "Aanwezigheid", "Deelname",
              "Geformaliseerd", "Strategisch", "Samengevoegd"), ((2, 5),))


def size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_profile_team_and_comparison_charts_are_sensible_pngs(lang):
    catalog = default_catalogs()[lang]
    profile = {d.id: i % 6 + 1 for i, d in enumerate(catalog.dimensions)}
    spreads = {d: (max(1, s - 1), min(6, s + 2)) for d, s in profile.items()}
    charts = [
        render.bars_chart(catalog, "profile", [profile]),
        render.bars_chart(catalog, "team", [profile], ("team",), spreads),
        render.bars_chart(catalog, "compare", [profile, {**profile, "culture": None}], ("team", "you"), spreads),
    ]
    for chart in charts:
        assert chart.labels == tuple(d.name for d in catalog.dimensions)
        assert chart.stage_names[0] == catalog.stage(1).name
        png = render_png(chart)
        width, height = size(png)
        assert 600 <= width <= 1400 and 500 <= height <= 1600
        assert 10_000 < len(png) < 400_000


def test_a_progress_chart_over_time():
    catalog = default_catalogs()["nl"]
    reply = render.progress(catalog, [("2026-01-05T10:00:00", 2), ("2026-04-01T10:00:00", 3), ("2026-09-01", None)])
    assert reply.chart.labels == ("2026-01-05", "2026-04-01", "2026-09-01")
    width, height = size(render_png(reply.chart))
    assert width >= 600 and height >= 400


def test_a_chart_survives_the_round_trip_through_stored_replies():
    catalog = default_catalogs()["en"]
    chart = render.bars_chart(catalog, "t", [{"strategy": 2}], ("a",), {"strategy": (1, 3)})
    assert Chart.from_dict(chart.to_dict()) == chart


# Drawn in a process of its own

BOT = """
import asyncio, json, os, sys
from bot import charts, render
from bot.catalog import default_catalogs

async def main():
    catalog = default_catalogs()["nl"]
    png = await charts.render(render.bars_chart(catalog, "Team", [{d.id: 3 for d in catalog.dimensions}]))
    print(json.dumps({"png": png[:8].hex(), "size": len(png), "bot": os.getpid(),
                      "renderer": await charts.renderer_pid(),
                      "renderer_env": open(f"/proc/{await charts.renderer_pid()}/environ", "rb").read().hex(),
                      "loaded": sorted(m for m in sys.modules if m.split(".")[0] == "matplotlib")}),
          flush=True)
    if sys.argv[1:] == ["stay"]:
        await asyncio.Event().wait()

asyncio.run(main())
"""


def test_a_chart_is_drawn_by_a_process_of_its_own_and_matplotlib_stays_out_of_the_bot():
    """In a fresh interpreter, as the bot starts: through the same call the adapters make."""
    secrets = {"TELEGRAM_BOT_TOKEN": "123:telegram-token", "SLACK_SIGNING_SECRET": "slack-secret",
               "STAGECOACH_DATABASE_URL": "postgresql://bot:password@db/stagecoach"}
    done = subprocess.run([sys.executable, "-c", BOT], capture_output=True, text=True, timeout=DEADLINE, check=True,
                          env={**os.environ, **secrets})
    seen = json.loads(done.stdout)
    assert bytes.fromhex(seen["png"]) == PNG and seen["size"] > 10_000
    assert seen["renderer"] != seen["bot"]
    assert seen["loaded"] == []
    renderer_env = bytes.fromhex(seen["renderer_env"]).decode()
    assert "PATH=" in renderer_env  # what it needs to run, but none of the bot's secrets
    assert not [value for value in secrets.values() if value in renderer_env]


async def test_the_renderer_ends_with_the_bot_even_when_the_bot_is_killed():
    bot = await asyncio.to_thread(subprocess.Popen, [sys.executable, "-c", BOT, "stay"], stdout=subprocess.PIPE,
                                  text=True)
    try:
        renderer = json.loads(await asyncio.to_thread(bot.stdout.readline))["renderer"]
        assert alive(renderer)
        bot.kill()
        await until(lambda: not alive(renderer), "the renderer to end after the bot")
    finally:
        bot.kill()
        bot.wait()
        bot.stdout.close()


async def test_a_renderer_that_died_is_replaced_by_the_next_chart():
    renderer = Renderer()
    try:
        first = await renderer.pid()
        os.kill(first, signal.SIGKILL)
        await until(lambda: not alive(first), "the renderer to die")
        assert (await renderer.render(CHART))[:8] == PNG
        assert await renderer.pid() not in (first, os.getpid())
    finally:
        renderer.stop()


async def test_a_stop_drops_the_charts_not_yet_drawn_and_ends_the_renderer_at_once():
    renderer = Renderer()
    pid = await renderer.pid()
    os.kill(pid, signal.SIGSTOP)  # nothing gets drawn: one chart is handed over, the other waits its turn
    drawing = [asyncio.ensure_future(renderer.render(CHART)) for _ in range(2)]
    await until(lambda: unread(pid) > 0, "the first chart to be handed to the renderer")
    renderer.stop()
    for chart in drawing:
        with pytest.raises(asyncio.CancelledError):
            await chart
    await until(lambda: not alive(pid), "the renderer to end")
    with pytest.raises(RuntimeError):
        await renderer.render(CHART)
