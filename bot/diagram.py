"""`python -m bot.diagram`: writes docs/flows.md, the flows drawn from the code (Mermaid),
and the commands that answer without a conversation, from the registry."""
from __future__ import annotations

import sys
from pathlib import Path

from transitions.extensions.diagrams import GraphMachine

from .machine import build_machine
from .registry import REGISTRY

DOCUMENT = Path(__file__).resolve().parents[1] / "docs" / "flows.md"


def mermaid() -> str:
    """The flow machine as a Mermaid state diagram, guards in brackets ([!guard]: unless)."""
    machine = build_machine(GraphMachine, graph_engine="mermaid", show_conditions=True, title="Stagecoach")
    source: str = machine.graph_cls(machine).get_graph().draw(None)
    return source


def document() -> str:
    conversational = [c for c in REGISTRY if c.trigger]
    plain = [c for c in REGISTRY if c.handler]
    lines = [
        "# Stagecoach's flows",
        "",
        "Generated from `bot/flows/` and `bot/registry.py` by `python -m bot.diagram`; do not edit.",
        "",
        "```mermaid",
        mermaid().rstrip(),
        "```",
        "",
        "## Commands that fire a trigger",
        "",
        "| command | trigger | when no transition takes it |",
        "| --- | --- | --- |",
        *(f"| `/{c.name}` | {c.trigger} | {c.otherwise or '–'} |" for c in conversational),
        "",
        "## Commands answered by a handler, wherever the person is",
        "",
        "| command | handler |",
        "| --- | --- |",
        *(f"| `/{c.name}` | {c.handler} |" for c in plain),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    DOCUMENT.parent.mkdir(exist_ok=True)
    DOCUMENT.write_text(document(), encoding="utf-8")
    sys.stdout.write(f"wrote {DOCUMENT}\n")


if __name__ == "__main__":
    main()
