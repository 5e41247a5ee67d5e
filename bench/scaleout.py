"""Several `stagecoach run` processes on one PostgreSQL: 1, 2 and 4 of them (and one on SQLite
for comparison) serving Slack in HTTP mode, Telegram by webhook, or both at once, each on its own
ports under its own STAGECOACH_INSTANCE, flood limits and the scheduler off. Robot people answer
the whole assessment by pressing buttons; every signed Slack request and every Telegram update is
posted to two different processes at once (with one process, twice to it), each copy until it
gets a 2xx; about halfway one process is SIGKILLed and at once started again under the same
name, as a supervisor would. The harness is tests/scaleout.py.

Printed, per platform: throughput, the wait from a press to the next question, what was
confirmed, applied, lost and doubled, and processor seconds per message in Stagecoach (its
processes, and their chart renderers apart) and in PostgreSQL (its server processes), with the
projection of how many instances one PostgreSQL server carries before it is the bound.

    .venv/bin/python bench/scaleout.py [--platform slack|telegram|both|slack+telegram]
                                       [--people 80] [--instances 1 2 4] [--no-sqlite]

`--platform` is Slack alone by default (about 5 minutes); `telegram` is Telegram by webhook alone
(about as long), `both` runs the two one after the other, and `slack+telegram` has every process
serve Slack and Telegram at once, half the people on each.

PostgreSQL: STAGECOACH_BENCH_DATABASE_URL (or STAGECOACH_TEST_DATABASE_URL) when set, else one
of its own started by .ci/postgres (each run gets a schema of its own). Processor time of
PostgreSQL is read from /proc, so only a server on this machine is measured.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # the project, not bench/ (which has a slack.py)

from tests import scaleout  # noqa: E402
from tests.postgres import fresh_schema  # noqa: E402

OWN_SERVER = "STAGECOACH_BENCH_OWN_SERVER"
PLATFORMS = {"slack": ["slack"], "telegram": ["telegram"], "both": ["slack", "telegram"],
             "slack+telegram": ["slack+telegram"]}
TITLES = {"slack-http": "Slack in HTTP mode", "telegram-webhook": "Telegram by webhook",
          "slack+telegram": "Slack in HTTP mode and Telegram by webhook in every process, half the people on each"}


def server_url() -> str | None:
    return os.environ.get("STAGECOACH_BENCH_DATABASE_URL") or os.environ.get("STAGECOACH_TEST_DATABASE_URL") or None


def ms(seconds: float | None, messages: int) -> str:
    return "–" if seconds is None or not messages else f"{1000 * seconds / messages:.2f}"


def table(outcomes: list[scaleout.Outcome]) -> str:
    lines = [("| database | processes | messages | messages/s | assessments/s | next question p50 / p99 |"
              " confirmed | applied | lost | applied twice | sent twice | sent again after the kill |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for o in outcomes:
        t = o.tally
        lines.append(
            f"| {o.backend} | {o.instances} | {o.messages} | {o.messages / t.seconds:.1f} | {o.results / t.seconds:.2f}"
            f" | {1000 * o.percentile(0.5):.0f} ms / {1000 * o.percentile(0.99):.0f} ms | {t.confirmed} | {t.applied}"
            f" | {len(t.lost)} | {len(t.doubled)} | {len(o.doubled_sent)} | {len(o.resent_after_kill)} |")
    return "\n".join(lines)


def processor_table(outcomes: list[scaleout.Outcome]) -> str:
    lines = [("| database | processes | Stagecoach ms/message | of which chart renderers | PostgreSQL ms/message"
              " | robots and fake platform ms/message | cores busy: these / whole machine |"),
             "|---|---|---|---|---|---|---|"]
    cores = os.cpu_count() or 1
    for o in outcomes:
        n = o.messages
        busy = o.bot_seconds + o.renderer_seconds + (o.database_seconds or 0.0) + o.harness_seconds
        lines.append(f"| {o.backend} | {o.instances} | {ms(o.bot_seconds + o.renderer_seconds, n)}"
                     f" | {ms(o.renderer_seconds, n)} | {ms(o.database_seconds, n)} | {ms(o.harness_seconds, n)}"
                     f" | {busy / o.measured_seconds:.2f} / {o.machine_seconds / o.measured_seconds:.2f} of {cores} |")
    return "\n".join(lines)


def projection(outcomes: list[scaleout.Outcome]) -> str:
    """Instances one PostgreSQL server carries before it is the bound: each instance's processor
    time per message against the server's, scaled by the cores each side gets."""
    measured = [o for o in outcomes if o.database_seconds and o.messages]
    if not measured:
        return "No PostgreSQL server measured: no projection."
    lines = [("instances before PostgreSQL is the bound ≈ (Stagecoach CPU-s per message)"
              " / (PostgreSQL CPU-s per message) × (cores PostgreSQL gets / cores per instance)")]
    for o in measured:
        stagecoach = (o.bot_seconds + o.renderer_seconds) / o.messages
        ratio = stagecoach / ((o.database_seconds or 0.0) / o.messages)
        lines.append(f"  {o.instances} process(es): {1000 * stagecoach:.2f} ms / {1000 * stagecoach / ratio:.2f} ms"
                     f" = {ratio:.1f} × (cores PostgreSQL gets / cores per instance);"
                     f" a core each: {ratio:.1f}, 8 cores for PostgreSQL: {8 * ratio:.0f}")
    return "\n".join(lines)


async def measure(url: str | None, people: int, counts: list[int], sqlite: bool, seed: int,
                  platform: str) -> list[scaleout.Outcome]:
    outcomes = []
    runs = [("sqlite", 1)] if sqlite else []
    runs += [("postgres", n) for n in counts] if url else []
    for backend, instances in runs:
        with tempfile.TemporaryDirectory() as folder:
            if backend == "sqlite":
                outcome = await scaleout.run(str(Path(folder) / "scaleout.db"), 1, people, Path(folder), seed=seed,
                                             platform_name=platform)
            else:
                assert url is not None
                with fresh_schema(url) as schema:
                    outcome = await scaleout.run(schema, instances, people, Path(folder), seed=seed,
                                                 platform_name=platform)
        t = outcome.tally
        secrets = f", {outcome.webhook_secrets} webhook secret(s)" if platform != "slack" else ""
        print(f"{t.transport} {backend:8} {instances} process(es): {outcome.messages} messages in {t.seconds:.1f} s,"
              f" killed {outcome.killed}, listening again after {outcome.restart_seconds:.1f} s;"
              f" stuck {len(t.stuck)}, wrong {len(t.wrong)}, inbox left {t.inbox_left},"
              f" final SIGTERM {t.stop_seconds:.1f} s{secrets}", flush=True)
        for problem in (*t.lost, *t.stuck, *t.wrong, *t.doubled, *outcome.doubled_sent):
            print(f"    {problem}")
        for again in outcome.resent_after_kill:
            print(f"    sent again after the kill: {again}")
        outcomes.append(outcome)
    return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platform", choices=list(PLATFORMS), default="slack")
    parser.add_argument("--people", type=int, default=80)
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-sqlite", dest="sqlite", action="store_false")
    arguments = parser.parse_args()
    url = server_url()
    if url is None and not os.environ.get(OWN_SERVER):
        # A PostgreSQL server of its own, as the tests get one: .ci/postgres runs this again beside it.
        os.environ[OWN_SERVER] = "1"
        os.execv(str(ROOT / ".ci" / "postgres"), [".ci/postgres", sys.executable, *sys.argv])
    if url is None:
        print("No PostgreSQL server: SQLite only.")
    print(f"{arguments.people} people, every request to two processes at once, one process SIGKILLed and"
          f" restarted mid-run; {os.cpu_count()} cores")
    clean = True
    for platform in PLATFORMS[arguments.platform]:
        outcomes = asyncio.run(measure(url, arguments.people, arguments.instances, arguments.sqlite, arguments.seed,
                                       platform))
        if not outcomes:
            continue
        print()
        print(f"{TITLES[outcomes[0].tally.transport]}:")
        print()
        print(table(outcomes))
        print()
        print(processor_table(outcomes))
        print()
        print(projection(outcomes))
        print()
        clean = clean and all(o.clean and o.webhook_secrets <= 1 and o.tally.kills == 1 for o in outcomes)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
