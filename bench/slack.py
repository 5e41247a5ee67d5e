"""How fast the Slack adapter acknowledges a request: the time from a signed request to its HTTP
200, for direct messages, button clicks and slash commands, through the real app (slack-bolt,
the guard, the inbox) against the fake Web API on 127.0.0.1, while people take the whole
assessment at once. Every request is stored in the inbox before it is acknowledged; the work
it asks for runs after. Flood limits are scaled down: they are Slack's policy, not our cost.

    .venv/bin/python bench/slack.py [--users 40]
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import ClassVar

sys.path[0] = str(Path(__file__).resolve().parents[1])  # the project, not bench/ (which has a slack.py)

import httpx  # noqa: E402
from slack_sdk.signature import SignatureVerifier  # noqa: E402

from tests.drivers.slack import FORM, HELP, SECRET, App, answer_all, dm  # noqa: E402
from tests.fakes.slack import FakeSlack, im  # noqa: E402


class TimedApp(App):
    """The driver's app, posting over one kept-alive connection pool and timing every request."""

    acks: ClassVar[defaultdict[str, list[float]]] = defaultdict(list)

    async def post(self, body: str, content_type: str, secret: str = SECRET, age: int = 0,
                   headers: dict | None = None) -> httpx.Response:
        timestamp = str(int(time.time()) - age)
        signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
        kind = "DM" if content_type != FORM else ("button click" if body.startswith("payload=") else "slash command")
        started = time.perf_counter()
        response = await self.http.post(self.url, content=body.encode(), headers={
            "Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature, **(headers or {})})
        self.acks[kind].append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
        return response


async def person(app: TimedApp, user: str, questions: int) -> None:
    """Asks for help by slash command, begins by DM, answers every question by button, and
    asks for the result by slash command."""
    seen = len(app.fake.to(im(user)))
    await app.command(user, "help")
    await app.fake.message(im(user), HELP, after=seen)
    await dm(app, user, "assess", "Question 1 of")
    await answer_all(app, user, "3", questions)
    seen = len(app.fake.to(im(user)))
    await app.command(user, "result")
    await app.fake.message(im(user), "is at stage", after=seen)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(users: int) -> None:
    fake = FakeSlack()
    await fake.start()
    with tempfile.TemporaryDirectory() as folder:
        app = TimedApp(fake, Path(folder) / "bench.db")
        app.http = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=users))
        await app.start()
        questions = len(app.engine.catalogs["en"].questions)
        started = time.perf_counter()
        await asyncio.gather(*(person(app, f"U{9000 + u:08d}", questions) for u in range(users)))
        seconds = time.perf_counter() - started
        await app.http.aclose()
        await app.stop()
    await fake.stop()
    total = sum(len(v) for v in TimedApp.acks.values())
    print(f"people                 {users}, each: /stagecoach help, a DM, {questions} button clicks,"
          " /stagecoach result")
    print(f"requests               {total} in {seconds:.1f} s ({total / seconds:.0f} a second)")
    print(f"{'ack latency':22} {'count':>6} {'p50':>9} {'p99':>9} {'max':>9}")
    for kind in ("DM", "button click", "slash command"):
        values = TimedApp.acks[kind]
        print(f"{kind:22} {len(values):6d} {statistics.median(values) * 1000:7.1f} ms"
              f" {percentile(values, 0.99) * 1000:6.1f} ms {max(values) * 1000:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=40)
    asyncio.run(run(parser.parse_args().users))


if __name__ == "__main__":
    main()
