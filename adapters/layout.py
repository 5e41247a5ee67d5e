"""Layout shared by the button platforms: which options a button shows by number."""
from __future__ import annotations

from bot.events import Option

BUTTON_LABEL = 32


def numbered(options: tuple[Option, ...]) -> list[Option]:
    """The numbered options, when any of them is too long for a button: those buttons then
    show their number and the message lists them in full. Otherwise none."""
    digits = [o for o in options if o.key.isdigit()]
    return digits if any(len(o.label) > BUTTON_LABEL for o in digits) else []


def button_label(option: Option, listed: list[Option]) -> str:
    return option.key if option in listed else option.label[:BUTTON_LABEL * 2]
