"""The side-by-side benchmark still runs end to end: the fake with its robot people, Stagecoach's
`stagecoach run` and the plain python-telegram-bot peer, each in a process of its own. It prints
figures; this only checks that every person finished on both bots."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_peer_benchmark_takes_every_person_through_both_bots() -> None:
    done = subprocess.run([sys.executable, "bench/peer_ptb.py", "--users", "3", "--runs", "1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("N=3 ")]
    assert sorted(runs) == ["peer", "stagecoach"], done.stdout
    assert "| 3 | assessments/s |" in done.stdout, done.stdout
