"""What holds for the engine's code as a whole."""
from __future__ import annotations

from pathlib import Path

BOT = Path(__file__).resolve().parents[1] / "bot"


def test_the_engine_is_type_checked_without_exceptions():
    """mypy checks every line of bot/: no `# type: ignore` hides one from it."""
    ignored = [f"{path.relative_to(BOT.parent)}:{number}"
               for path in sorted(BOT.rglob("*.py"))
               for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
               if "type: ignore" in line]
    assert ignored == []


def test_only_the_two_stores_know_which_database_runs():
    """The engine, flows, scheduler and adapters use the storage contract (bot/store.py); no
    module but the SQLite and the PostgreSQL store imports a database driver."""
    drivers = ("sqlite3", "sqlite_utils", "psycopg", "psycopg_pool")
    stores = {BOT / "store_sqlite.py", BOT / "store_postgres.py"}
    found = [f"{path.relative_to(BOT.parent)}:{number}"
             for folder in (BOT, BOT.parent / "adapters")
             for path in sorted(folder.rglob("*.py")) if path not in stores
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if line.lstrip().startswith(("import ", "from "))
             and line.split()[1].split(".")[0] in drivers]
    assert found == []
