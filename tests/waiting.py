"""Waiting for a bot that answers over HTTP: bounded, and never a timing assertion."""
from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Waits until the condition holds; fails the test if it never does."""
    for _ in range(int(seconds * 50)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the bot did not get there")


async def settle(count: Callable[[], int], before: int) -> None:
    """Waits until more than `before` messages arrived and then nothing more for a moment."""
    await until(lambda: count() > before)
    seen = -1
    while seen != count():
        seen = count()
        await asyncio.sleep(0.15)
