"""Waiting for a bot that answers over HTTP: for a condition on what the fake platform received,
with a generous deadline; never for a moment of silence, never for a fixed time.

As in errbot's test backend, which pops the next message with a timeout, a test says what it
waits for ("a message with 'Answered (3)'", "the third reply to this chat"); the deadline only
decides how long a broken bot takes to fail, never whether a slow one passes.
"""
from __future__ import annotations

import asyncio
import fcntl
import os
import struct
import subprocess
import termios
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# A chart takes seconds to render on a busy 2-core machine; a deadline costs nothing when met.
DEADLINE = 60.0
POLL = 0.02


class Arrivals:
    """Kept by a fake platform: wakes whoever waits for a condition when what it depends on may
    have changed. A waiter on a topic (a chat) wakes only for that topic; one without a topic
    wakes for every request the fake received."""

    def __init__(self) -> None:
        self._changed: dict[object, asyncio.Event] = {}

    def notify(self, *topics: object) -> None:
        for topic in (None, *topics):
            event = self._changed.pop(topic, None)
            if event is not None:
                event.set()

    async def until(self, condition: Callable[[], T], what: str | Callable[[], str],
                    seconds: float = DEADLINE, topic: object = None) -> T:
        """Returns the condition's first true value; fails the test, saying `what`, if the
        deadline passes first."""
        deadline = asyncio.get_running_loop().time() + seconds
        while not (value := condition()):
            changed = self._changed.setdefault(topic, asyncio.Event())
            try:
                async with asyncio.timeout_at(deadline):
                    await changed.wait()
            except TimeoutError:
                if not (value := condition()):
                    raise AssertionError(f"waited {seconds:g} s for {what() if callable(what) else what}") from None
                return value
        return value


async def until(condition: Callable[[], T], what: str = "the bot", seconds: float = DEADLINE) -> T:
    """Polls a condition that no fake is told about (a process, a database row) until it holds;
    fails the test if the deadline passes first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not (value := condition()):
        if loop.time() > deadline:
            raise AssertionError(f"waited {seconds:g} s for {what}")
        await asyncio.sleep(POLL)
    return value


async def exited(process: subprocess.Popen, seconds: float = DEADLINE) -> int:
    """Waits for a process to end without blocking the event loop, where the fake platform it
    may still be talking to runs; returns its exit code."""
    return await asyncio.to_thread(process.wait, seconds)


def alive(pid: int) -> bool:
    """Whether a process runs; one that ended and was not yet reaped does not."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def unread(pid: int) -> int:
    """Bytes written to a process's standard input that it has not read yet, as a chart handed
    to a paused renderer: a condition to wait for instead of a moment."""
    pipe = os.open(f"/proc/{pid}/fd/0", os.O_RDONLY | os.O_NONBLOCK)
    try:
        return int(struct.unpack("i", fcntl.ioctl(pipe, termios.FIONREAD, b"\0" * 4))[0])
    finally:
        os.close(pipe)
