"""What the button platforms share: how options become buttons, and caches that forget.

Pacing per chat is `adapters/pacing.py`'s `Pacing`: each adapter keeps one, and it is the only
per-chat limiter cache there is.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from cachetools import TTLCache

from bot.events import Option

T = TypeVar("T")
BUTTON_LABEL = 32  # longer numbered options are listed in the text, their number on the button
SHORT_BUTTON = 3  # buttons with labels this short ("1", "Yes") share a row
ROW_WIDTH = 7  # short buttons a row, as many as fit a phone's width
KEPT = 10_000  # entries a cache keeps at most, the least recently used forgotten first


def numbered(options: tuple[Option, ...]) -> list[Option]:
    """The numbered options, when any of them is too long for a button: those buttons then
    show their number and the message lists them in full. Otherwise none."""
    digits = [o for o in options if o.key.isdigit()]
    return digits if any(len(o.label) > BUTTON_LABEL for o in digits) else []


def button_label(option: Option, listed: list[Option]) -> str:
    return option.key if option in listed else option.label[:BUTTON_LABEL * 2]


def rows(buttons: Sequence[T], label: Callable[[T], str]) -> list[list[T]]:
    """Short buttons side by side (up to ROW_WIDTH), long ones a row each, in their order."""
    laid: list[list[T]] = []
    for button in buttons:
        short = len(label(button)) <= SHORT_BUTTON
        if short and laid and len(laid[-1]) < ROW_WIDTH and len(label(laid[-1][-1])) <= SHORT_BUTTON:
            laid[-1].append(button)
        else:
            laid.append([button])
    return laid


def expiring(seconds: float, kept: int = KEPT, clock: Callable[[], float] = time.monotonic) -> TTLCache[str, Any]:
    """A cache whose entries go after `seconds` (so a changed name or locale shows through) and
    that holds at most `kept`, so that it never grows with every person ever seen."""
    return TTLCache(maxsize=kept, ttl=seconds, timer=clock)
