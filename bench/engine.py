"""How fast the engine takes a whole assessment, against the floor of what cannot be avoided.

N simulated users (default 2,000), interleaved, each take the full assessment through the real
engine on an on-disk SQLite file with the bot's durability (WAL, synchronous=FULL). In the same
run, the floor: the same number of messages where each only decodes the event, makes one
durable SQLite write of the answer, and builds one reply. Prints messages per second, p50/p99
latency per message, peak memory, the database size, and our cost as a ratio to the floor.

    .venv/bin/python bench/engine.py [--users 2000]
"""
from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # the project, not bench/ (which has a telegram.py)

from bot.engine import Engine  # noqa: E402
from bot.events import Event, Reply  # noqa: E402
from bot.store import Store  # noqa: E402


def conversation(questions: int) -> list[str]:
    return ["/assess"] + [str(1 + (i % 6)) for i in range(questions)]


def run_engine(path: Path, users: int) -> tuple[list[float], int]:
    engine = Engine(Store(path))
    script = conversation(len(engine.catalogs["en"].questions))
    latencies: list[float] = []
    for step, text in enumerate(script):
        for user in range(users):
            event = Event("bench", f"c{user}", f"u{user}", text=text, key=f"{user}:{step}", lang="en")
            started = time.perf_counter()
            engine.handle(event)
            latencies.append(time.perf_counter() - started)
    engine.store.close()
    return latencies, len(script) * users


def memory_growth(path: Path, batch: int) -> list[int]:
    """Python memory held after each batch of finished conversations: flat means no growth."""
    engine = Engine(Store(path))
    script = conversation(len(engine.catalogs["en"].questions))
    held = []
    tracemalloc.start()
    for first in range(0, 3 * batch, batch):
        for user in range(first, first + batch):
            for text in script:
                engine.handle(Event("bench", f"m{user}", f"m{user}", text=text, lang="en"))
        held.append(tracemalloc.get_traced_memory()[0])
    tracemalloc.stop()
    engine.store.close()
    return held


def run_floor(path: Path, users: int, messages_per_user: int) -> list[float]:
    """Decode, one durable write, one reply: what any bot must do per message."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE answers (user TEXT, step INTEGER, value TEXT, PRIMARY KEY (user, step))")
    latencies: list[float] = []
    for step in range(messages_per_user):
        for user in range(users):
            raw = json.dumps({"chat": f"c{user}", "user": f"u{user}", "text": str(1 + step % 6), "key": step})
            started = time.perf_counter()
            event = json.loads(raw)
            db.execute("BEGIN")
            db.execute("INSERT INTO answers VALUES (?, ?, ?)", (event["user"], event["key"], event["text"]))
            db.execute("COMMIT")
            Reply(f"Question {step + 2}")
            latencies.append(time.perf_counter() - started)
    db.close()
    return latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        ours_path, floor_path = Path(folder) / "engine.db", Path(folder) / "floor.db"
        started = time.perf_counter()
        latencies, messages = run_engine(ours_path, args.users)
        ours_seconds = time.perf_counter() - started
        started = time.perf_counter()
        floor = run_floor(floor_path, args.users, messages // args.users)
        floor_seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in Path(folder).glob("engine.db*"))
        held = memory_growth(Path(folder) / "memory.db", batch=max(50, args.users // 10))
    print(f"users                 {args.users}")
    print(f"messages              {messages}")
    print(f"engine   msgs/s       {messages / ours_seconds:,.0f}")
    p50, p99 = percentile(latencies, .5) * 1000, percentile(latencies, .99) * 1000
    print(f"engine   p50 / p99    {p50:.2f} ms / {p99:.2f} ms")
    print(f"floor    msgs/s       {messages / floor_seconds:,.0f}")
    print(f"floor    p50 / p99    {percentile(floor, .5) * 1000:.2f} ms / {percentile(floor, .99) * 1000:.2f} ms")
    print(f"cost / floor          {statistics.mean(latencies) / statistics.mean(floor):.2f}x")
    print(f"peak process memory   {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f} MB (max RSS)")
    print("memory after batches  " + " / ".join(f"{h / 1e6:.2f} MB" for h in held)
          + f"  ({max(50, args.users // 10)} finished conversations each)")
    print(f"database size         {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
