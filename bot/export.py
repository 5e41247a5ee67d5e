"""`stagecoach export`: results as CSV or JSON for champions who report upward.

Only what a report needs: the platform's user ids, dates, stages per dimension. No names, no
message texts, no individual answers. A team under three participants shows nothing of anyone
here either: its members' assessments are left out and its team row has no stage.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

from .catalog import Dimension
from .scoring import Result
from .store import Store
from .teams import MIN_VISIBLE, TeamResult

PEOPLE = ("platform", "user_id", "assessment_id", "team_code", "started_at", "finished_at", "stage", "answered",
          "questions", "confidence")
TEAMS = ("platform", "team_code", "team_name", "place", "created_at", "closed_at", "participants", "stage")


@dataclass(frozen=True)
class Export:
    """The rows, and how many were kept back (people) or had their stage kept back (teams)."""

    rows: list[dict]
    withheld: int = 0
    columns: tuple[str, ...] = ()


def people(store: Store, dimensions: Sequence[Dimension], team: str | None = None,
           since: str | None = None, until: str | None = None) -> Export:
    """One row per finished assessment, except those made for a team under three participants."""
    rows, withheld = [], 0
    sizes: dict[int, int] = {}
    for record in store.export_assessments(team, since, until):
        team_id = record.pop("team_id")
        if team_id is not None:
            if team_id not in sizes:
                sizes[team_id] = _participants(store, team_id)
            if sizes[team_id] < MIN_VISIBLE:
                withheld += 1
                continue
        result = Result.from_dict(record.pop("result"))
        record |= {
            "stage": result.stage,
            "answered": result.answered,
            "questions": result.total,
            "confidence": result.confidence,
        }
        record |= {f"stage_{d.id}": result.dimensions.get(d.id) for d in dimensions}
        rows.append(record)
    return Export(rows, withheld, PEOPLE + tuple(f"stage_{d.id}" for d in dimensions))


def _participants(store: Store, team_id: int) -> int:
    """A closed team's participants as stored when it closed; an open one's members who finished."""
    record = store.team(team_id)
    if record is None:
        return 0
    if record.status == "closed":
        return TeamResult.from_dict(record.result or {}).participants
    return sum(1 for m in store.members(team_id) if m.answered)


def teams(store: Store, dimensions: Sequence[Dimension], team: str | None = None,
          since: str | None = None, until: str | None = None) -> Export:
    """One row per closed team; its stage and dimensions only when three or more took part, as in the chat."""
    rows, withheld = [], 0
    for record in store.export_teams(team, since, until):
        result = TeamResult.from_dict(record.pop("result"))
        shown = result.visible
        if not shown:
            withheld += 1
        record |= {"participants": result.participants, "stage": result.stage if shown else None}
        for d in dimensions:
            spread = result.spreads.get(d.id) if shown else None
            record |= {
                f"median_{d.id}": result.dimensions.get(d.id) if shown else None,
                f"low_{d.id}": spread[0] if spread else None,
                f"high_{d.id}": spread[1] if spread else None,
            }
        rows.append(record)
    columns = TEAMS + tuple(f"{k}_{d.id}" for d in dimensions for k in ("median", "low", "high"))
    return Export(rows, withheld, columns)


def to_csv(rows: list[dict], columns: Sequence[str] = ()) -> str:
    """CSV with a header, also when no row matched, so that a report reads the same columns."""
    buffer = io.StringIO()
    fieldnames = list(rows[0]) if rows else list(columns)
    if fieldnames:
        writer = csv.DictWriter(buffer, fieldnames=fieldnames, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


def to_json(rows: list[dict]) -> str:
    return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
