"""Stagecoach's engine against an earlier version of itself, in one run.

The same people answer the whole assessment through `Engine.handle` and `Engine.delivered` on a
fresh SQLite file (WAL, synchronous=FULL), each version in a process of its own, the versions
taking turns; old event keys are pruned as each version prunes them. Prints the processor time
per message of each run, and the medians' ratio. A refactoring that should not cost anything is
checked with it:

    .venv/bin/python bench/versions.py REV [LATER] [--people 200] [--runs 3]

REV (and LATER, else this working tree) is checked out in a temporary git worktree, removed
afterwards, and run on this interpreter.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(tree: str, people: int) -> None:
    """In a process of its own: the version in `tree`; prints processor seconds per message."""
    sys.path[0] = tree  # this version, not bench/ (which has a telegram.py)
    from bot.engine import Engine
    from bot.events import Event

    try:
        from bot.store import open_store
    except ImportError:  # a version from before the storage contract
        from bot.store import Store as open_store  # type: ignore[no-redef]
    with tempfile.TemporaryDirectory() as folder:
        engine = Engine(open_store(str(Path(folder) / "stagecoach.db")))
        script = ["/assess", *(str(1 + n % 5) for n in range(len(engine.catalogs["en"].questions)))]

        def person(name: str) -> None:
            for step, text in enumerate(script):
                key = f"{name}:{step}"
                engine.handle(Event("bench", name, name, text=text, key=key, lang="en"))
                engine.delivered(key)
                while getattr(engine, "prune_due", lambda idle: False)(idle=True):
                    engine.prune()

        for n in range(20):  # warm-up: caches, the machine, the file's first pages
            person(f"w{n}")
        cpu = time.process_time()
        for n in range(people):
            person(f"p{n}")
        print((time.process_time() - cpu) / (people * len(script)))
        engine.store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", help="the earlier version: a commit, tag or branch")
    parser.add_argument("later", nargs="?", help="the later version (default: this working tree)")
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.people)
        return
    later = args.later or "this"
    with tempfile.TemporaryDirectory() as folder:
        trees = {args.rev: str(Path(folder) / "earlier"),
                 later: str(Path(folder) / "later") if args.later else str(ROOT)}
        for rev in filter(None, (args.rev, args.later)):
            subprocess.run(["git", "worktree", "add", "--detach", "-q", trees[rev], rev], cwd=ROOT, check=True)
        try:
            figures: dict[str, list[float]] = {args.rev: [], later: []}
            for run in range(args.runs):
                for name, tree in trees.items():
                    env = {**os.environ, "PYTHONPATH": tree}
                    done = subprocess.run([sys.executable, __file__, args.rev, "--people", str(args.people),
                                           "--measure", tree], cwd=tree, env=env, check=True,
                                          capture_output=True, text=True)
                    figures[name].append(float(done.stdout.split()[-1]))
                    print(f"run {run + 1}  {name:>12}  {figures[name][-1] * 1e6:8.1f} µs of processor time per message")
        finally:
            for rev in filter(None, (args.rev, args.later)):
                subprocess.run(["git", "worktree", "remove", "--force", trees[rev]], cwd=ROOT, check=True)
    before, now = (statistics.median(figures[name]) for name in (args.rev, later))
    print(f"median  {args.rev}: {before * 1e6:.1f} µs   {later}: {now * 1e6:.1f} µs"
          f"   {later} / {args.rev}: {now / before:.2f}×")


if __name__ == "__main__":
    main()
