"""What the engine costs per message, whole, against a floor with the same commits, as people grow.

At each population size (default 200; e.g. `--users 200 2000 20000`) a database first holds
that many people's finished assessments and a fortnight of event keys, half of them old enough
to prune. The first `--sample` people (default 200) are taken through the real engine, and
each of the others is a copy of one of them, made in SQL and dated up to 13 days back, since
running them all would take many minutes. Then `--sample` new people take the whole assessment,
interleaved, through the real engine on that file with the bot's durability (WAL,
synchronous=FULL): per message `handle()` and then `delivered()`, as an adapter calls them.

The floor, in the same run on a file with as many people's answers and keys: per message it
decodes the event, stores the answer and the event's key with its reply in one durable commit,
builds the reply, and marks the key delivered in a commit that does not wait for the disk: the
same commits as the engine's. Between the steps, when the engine would be idle, old keys are
pruned as AsyncEngine prunes them, timed on their own. Prints processor time (time.process_time,
and its part in user space) and wall time per message for both and their ratios, latency
percentiles, the processor time of each step of the assessment (the last gives the result), the
growth with the population, what pruning cost, memory, and the database size.

    .venv/bin/python bench/engine.py [--users 200 2000 20000] [--sample 200]
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
from dataclasses import dataclass, field
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # the project, not bench/ (which has a telegram.py)

from bot.engine import Engine  # noqa: E402
from bot.events import Event, Reply  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.store_sqlite import SQLiteStore  # noqa: E402

PAST_DAYS = 14  # the copies' event keys are spread over this many days back; a week is kept


@dataclass
class Measured:
    """Per message: wall and processor seconds, and the step of the conversation it was."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    user: float = 0.0  # processor seconds in user space, all messages together

    def add(self, step: int, wall: float, cpu: float, user: float = 0.0) -> None:
        self.steps.append(step)
        self.wall.append(wall)
        self.cpu.append(cpu)
        self.user += user

    def cpu_at(self, step: int) -> float:
        return statistics.mean(c for s, c in zip(self.steps, self.cpu, strict=True) if s == step)


def conversation(questions: int) -> list[str]:
    return ["/assess"] + [str(1 + (i % 6)) for i in range(questions)]


def make_template(path: Path, people: int) -> None:
    """People who finished the assessment through the real engine: what the copies are made of."""
    engine = Engine(SQLiteStore(path, synchronous="OFF"))
    for step, text in enumerate(conversation(len(engine.catalogs["en"].questions))):
        for person in range(people):
            engine.handle(Event("bench", f"ct{person}", f"ut{person}", text=text, key=f"t{person}:{step}", lang="en"))
            engine.delivered(f"t{person}:{step}")
    engine.store.close()


def populate(store: Store, template: Path, people: int) -> int:
    """Fills the store with `people` finished assessments: the template's, then copies of it
    under new ids with their event keys dated back; returns how many people it holds."""
    conn = store.conn
    conn.execute("ATTACH DATABASE ? AS template", [str(template)])
    per_copy = conn.execute("SELECT COUNT(DISTINCT user_id) FROM template.conversations").fetchone()[0]
    top = conn.execute("SELECT COALESCE(MAX(id), 0) FROM template.assessments").fetchone()[0]
    copies = max(0, -(-people // per_copy))
    renamed = {"user_id", "chat_id", "key", "last_key"}
    with store.transaction(durable=False):
        for copy in range(copies):
            suffix = f"#{copy}"
            for table in ("users", "assessments", "answers", "conversations", "events"):
                names = [r[1] for r in conn.execute(f"PRAGMA template.table_info({table})")]
                values = []
                for name in names:
                    if name in renamed:
                        values.append(f"{name} || '{suffix}'")
                    elif (table, name) in (("assessments", "id"), ("answers", "assessment_id"),
                                           ("conversations", "assessment_id")):
                        values.append(f"{name} + {copy * top}")
                    elif (table, name) == ("events", "handled_at"):
                        values.append(f"strftime('%Y-%m-%dT%H:%M:%S+00:00', handled_at, '-{copy % PAST_DAYS} days')")
                    else:
                        values.append(name)
                conn.execute(f"INSERT INTO {table} ({', '.join(names)})"
                             f" SELECT {', '.join(values)} FROM template.{table}")
    conn.execute("DETACH DATABASE template")
    return copies * per_copy


class EngineRun:
    """The sample's conversations through the real engine, one step for everyone at a time."""

    def __init__(self, path: Path, template: Path, population: int, sample: int) -> None:
        store = SQLiteStore(path)
        self.held = populate(store, template, population - sample) if population > sample else 0
        store.close()
        self.engine = Engine(SQLiteStore(path))
        self.script = conversation(len(self.engine.catalogs["en"].questions))
        self.people = [f"p{n}" for n in range(sample)]
        self.measured = Measured()
        self.pruned = self.prune_cpu = 0.0  # keys pruned while idle, and the processor time it took

    def step(self, step: int) -> None:
        for person in self.people:
            key = f"{person}:{step}"
            event = Event("bench", f"c{person}", f"u{person}", text=self.script[step], key=key, lang="en")
            user = user_seconds()
            wall, cpu = time.perf_counter(), time.process_time()
            self.engine.handle(event)
            self.engine.delivered(key)
            self.measured.add(step, time.perf_counter() - wall, time.process_time() - cpu, user_seconds() - user)
        # Idle between steps: old keys are pruned as AsyncEngine prunes them, counted on their own.
        keys = self.engine.store.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        cpu = time.process_time()
        while self.engine.prune_due(idle=True):
            self.engine.prune()
        self.prune_cpu += time.process_time() - cpu
        self.pruned += keys - self.engine.store.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]

    def close(self) -> None:
        self.engine.store.close()


class FloorRun:
    """Decode, the answer and its key in one durable commit, one reply, the delivered mark in a
    commit that does not wait for the disk: the same commits the engine makes per message.
    `durable` is the part up to the durable commit alone."""

    def __init__(self, path: Path, population: int, sample: int, messages_per_person: int) -> None:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE answers (user TEXT, step INTEGER, value TEXT, PRIMARY KEY (user, step))")
        db.execute("CREATE TABLE keys (key TEXT PRIMARY KEY, user TEXT, reply TEXT, at TEXT, delivered_at TEXT)")
        db.execute("CREATE INDEX keys_at ON keys (at)")
        self.now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        db.execute("BEGIN")
        for person in range(population - sample):
            db.executemany("INSERT INTO answers VALUES (?, ?, ?)",
                           [(f"q{person}", step, str(step % 6)) for step in range(messages_per_person)])
            db.executemany("INSERT INTO keys VALUES (?, ?, ?, ?, ?)",
                           [(f"q{person}:{step}", f"q{person}", "[]", self.now, self.now)
                            for step in range(messages_per_person)])
        db.execute("COMMIT")
        db.execute("PRAGMA synchronous=FULL")
        self.db, self.sample = db, sample
        self.whole, self.durable = Measured(), Measured()

    def step(self, step: int) -> None:
        db, now = self.db, self.now
        for person in range(self.sample):
            raw = json.dumps({"chat": f"c{person}", "user": f"u{person}", "text": str(1 + step % 6),
                              "key": f"{person}:{step}"})
            user = user_seconds()
            wall, cpu = time.perf_counter(), time.process_time()
            event = json.loads(raw)
            reply = Reply(f"Question {step + 2}")
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO answers VALUES (?, ?, ?)", (event["user"], step, event["text"]))
            db.execute("INSERT INTO keys (key, user, reply, at) VALUES (?, ?, ?, ?)",
                       (event["key"], event["user"], json.dumps([reply.to_dict()]), now))
            db.execute("COMMIT")
            self.durable.add(step, time.perf_counter() - wall, time.process_time() - cpu)
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE keys SET delivered_at = ?, reply = '[]' WHERE key = ?", (now, event["key"]))
            db.execute("COMMIT")
            db.execute("PRAGMA synchronous=FULL")
            self.whole.add(step, time.perf_counter() - wall, time.process_time() - cpu, user_seconds() - user)

    def close(self) -> None:
        self.db.close()


def measure(folder: Path, template: Path, population: int, sample: int
            ) -> tuple[Measured, Measured, Measured, int, tuple[float, float]]:
    """The engine and the floor step by step in turn, so that both meet the same machine; and
    the keys pruned while idle with the processor time that took."""
    ours = EngineRun(folder / f"engine-{population}.db", template, population, sample)
    floor = FloorRun(folder / f"floor-{population}.db", ours.held + sample, sample, len(ours.script))
    for step in range(len(ours.script)):
        ours.step(step)
        floor.step(step)
    ours.close()
    floor.close()
    return ours.measured, floor.whole, floor.durable, ours.held + sample, (ours.pruned, ours.prune_cpu)


def memory_growth(path: Path, batch: int) -> list[int]:
    """Python memory held after each batch of finished conversations: flat means no growth."""
    engine = Engine(SQLiteStore(path))
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


def user_seconds() -> float:
    """Processor time in user space: process_time less the kernel's part (writes, fsync)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_utime


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[200], help="population sizes")
    parser.add_argument("--sample", type=int, default=200, help="people measured at each size")
    args = parser.parse_args()
    rows: list[tuple[int, int, Measured, Measured, Measured, int]] = []
    pruning: list[tuple[int, float, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        template = Path(folder) / "template.db"
        make_template(template, args.sample)
        for population in args.users:
            sample = min(args.sample, population)
            started = time.perf_counter()
            ours, whole, durable, people, (pruned, prune_cpu) = measure(Path(folder), template, population, sample)
            size = sum(p.stat().st_size for p in Path(folder).glob(f"engine-{population}.db*"))
            rows.append((people, sample, ours, whole, durable, size))
            pruning.append((people, pruned, prune_cpu))
            print(f"  {people:,} people, {sample} of them measured: {time.perf_counter() - started:.0f} s",
                  file=sys.stderr)
        held_memory = memory_growth(Path(folder) / "memory.db", batch=50)

    print("Per message: handle() and delivered(); the floor makes the same durable and non-durable commits.")
    print(f"At each size, {args.sample} new people take the whole assessment; the others are already there.")
    print()
    print("| people | measured msgs | engine cpu ms | floor cpu ms | cpu ratio | engine wall ms | floor wall ms"
          " | wall ratio | engine p50 / p99 ms | floor p50 / p99 ms | db MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for population, _, ours, whole, _, size in rows:
        e_cpu, f_cpu = statistics.mean(ours.cpu), statistics.mean(whole.cpu)
        e_wall, f_wall = statistics.mean(ours.wall), statistics.mean(whole.wall)
        print(f"| {population:,} | {len(ours.cpu):,} | {ms(e_cpu)} | {ms(f_cpu)} | {e_cpu / f_cpu:.2f}x"
              f" | {ms(e_wall)} | {ms(f_wall)} | {e_wall / f_wall:.2f}x"
              f" | {ms(percentile(ours.wall, .5))} / {ms(percentile(ours.wall, .99))}"
              f" | {ms(percentile(whole.wall, .5))} / {ms(percentile(whole.wall, .99))} | {size / 1e6:.0f} |")
    print()
    last = max(rows[0][2].steps)
    print("Processor ms per message by step of the assessment (step 1 is the first answer, the last gives the result):")
    print("| people | /assess | first answer | middle answers (median) | last answer before the result"
          " | the result | result / first |")
    print("|---|---|---|---|---|---|---|")
    for population, _, ours, _, _, _ in rows:
        middle = statistics.median(ours.cpu_at(step) for step in range(2, last - 1))
        print(f"| {population:,} | {ms(ours.cpu_at(0))} | {ms(ours.cpu_at(1))} | {ms(middle)}"
              f" | {ms(ours.cpu_at(last - 1))} | {ms(ours.cpu_at(last))}"
              f" | {ours.cpu_at(last) / ours.cpu_at(1):.2f}x |")
    first_cpu = statistics.mean(rows[0][2].cpu)
    print()
    print("Processor per message against the smallest size: "
          + " / ".join(f"{p:,}: {statistics.mean(m.cpu) / first_cpu:.2f}x" for p, _, m, _, _, _ in rows))
    # The sizes run one after the other, so a machine busy with other work moves the line above;
    # each size's floor ran step by step with it and met the same machine.
    first_ratio = first_cpu / statistics.mean(rows[0][3].cpu)
    print("The same, each size as a multiple of its own floor: "
          + " / ".join(f"{p:,}: {statistics.mean(m.cpu) / statistics.mean(w.cpu) / first_ratio:.2f}x"
                       for p, _, m, w, _, _ in rows))
    print("Against the floor's durable commit alone (no delivered mark): "
          + " / ".join(f"{p:,}: cpu {statistics.mean(m.cpu) / statistics.mean(d.cpu):.2f}x,"
                       f" wall {statistics.mean(m.wall) / statistics.mean(d.wall):.2f}x"
                       for p, _, m, _, d, _ in rows))
    print("Of that, in user space (the rest is the kernel's: writes and fsync): "
          + " / ".join(f"{p:,}: engine {ms(m.user / len(m.cpu))} ms, floor {ms(w.user / len(w.cpu))} ms,"
                       f" {m.user / w.user:.2f}x" for p, _, m, w, _, _ in rows))
    print("Old keys pruned while idle, apart from the messages (a week's keys are kept; here half of a"
          " fortnight's are older): " + " / ".join(
              f"{p:,}: {n:,.0f} keys, {ms(c / n) if n else '-'} ms each" for p, n, c in pruning))
    print(f"peak process memory   {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f} MB (max RSS)")
    print("memory after batches  " + " / ".join(f"{h / 1e6:.2f} MB" for h in held_memory)
          + "  (50 finished conversations each)")


if __name__ == "__main__":
    main()
