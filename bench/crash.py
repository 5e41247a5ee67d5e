"""The acceptance run for crashes: on each transport (Telegram long polling, Telegram webhook,
Slack HTTP), `stagecoach run` is killed with SIGKILL at random moments while people answer the
whole assessment by pressing buttons, each answer once. Counted on the platform's side: what it
considers delivered (confirmed); in the database: what was applied, lost or applied twice.

    .venv/bin/python bench/crash.py [--people 50] [--kills 20] [--transport telegram-polling ...]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # the project, not bench/ (which has a telegram.py)

from tests import crash  # noqa: E402


async def main(transports: list[str], people: int, kills: int, seed: int) -> bool:
    clean = True
    print(f"{people} people, {kills} SIGKILLs per transport")
    print(f"{'transport':17} {'confirmed':>9} {'applied':>8} {'lost':>5} {'doubled':>8} {'seconds':>8}"
          f"  (stuck, wrong, inbox left, kills, final SIGTERM)")
    for transport in transports:
        with tempfile.TemporaryDirectory() as folder:
            tally = await crash.run(transport, people, kills, Path(folder), seed=seed)
            print(f"{transport:17} {tally.confirmed:9} {tally.applied:8} {len(tally.lost):5} {len(tally.doubled):8}"
                  f" {tally.seconds:8.1f}  ({len(tally.stuck)}, {len(tally.wrong)}, {tally.inbox_left},"
                  f" {tally.kills}, {tally.stop_seconds:.1f} s)", flush=True)
            for problem in (*tally.lost, *tally.stuck, *tally.wrong, *tally.doubled):
                print(f"    {problem}")
            clean = clean and tally.clean and tally.kills == kills
    return clean


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--transport", action="append", choices=crash.TRANSPORTS)
    arguments = parser.parse_args()
    ok = asyncio.run(main(arguments.transport or list(crash.TRANSPORTS), arguments.people, arguments.kills,
                          arguments.seed))
    sys.exit(0 if ok else 1)
