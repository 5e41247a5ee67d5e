"""Charts are valid PNGs of a size a phone shows well, in both languages."""
from __future__ import annotations

import struct

import pytest

from bot import render
from bot.catalog import default_catalogs
from bot.charts import Chart, render_png

PNG = b"\x89PNG\r\n\x1a\n"


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
