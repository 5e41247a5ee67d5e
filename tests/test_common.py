"""What the button platforms share: how buttons are laid out in rows, and caches that forget."""
from __future__ import annotations

from adapters.common import ROW_WIDTH, expiring, rows


def test_short_buttons_share_rows_up_to_the_width_and_long_ones_stand_alone():
    labels = [str(n) for n in range(1, ROW_WIDTH + 3)] + ["Start the assessment", "Yes", "No"]
    laid = rows(labels, str)
    assert laid[0] == labels[:ROW_WIDTH]
    assert laid[1] == labels[ROW_WIDTH:ROW_WIDTH + 2]
    assert laid[2:] == [["Start the assessment"], ["Yes", "No"]]


def test_an_expiring_cache_forgets_after_its_time_and_beyond_its_size():
    now = [0.0]
    cache = expiring(600, kept=2, clock=lambda: now[0])
    cache["a"], cache["b"], cache["c"] = 1, 2, 3
    assert "a" not in cache and cache["c"] == 3
    now[0] = 599.0
    assert cache["c"] == 3
    now[0] = 600.0
    assert "c" not in cache
