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
