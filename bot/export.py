"""`stagecoach export`: results as CSV or JSON for champions who report upward.

Only what a report needs: the platform's user ids, dates, stages per dimension. No names, no
message texts, no individual answers.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from .catalog import Dimension
from .scoring import Result
from .store import Store
from .teams import TeamResult


def people(store: Store, dimensions: Sequence[Dimension], team: str | None = None,
           since: str | None = None, until: str | None = None) -> list[dict]:
    """One row per finished assessment."""
    rows = []
    for record in store.export_assessments(team, since, until):
        result = Result.from_dict(record.pop("result"))
        record |= {
            "stage": result.stage,
            "answered": result.answered,
            "questions": result.total,
            "confidence": result.confidence,
        }
        record |= {f"stage_{d.id}": result.dimensions.get(d.id) for d in dimensions}
        rows.append(record)
    return rows


def teams(store: Store, dimensions: Sequence[Dimension], team: str | None = None,
          since: str | None = None, until: str | None = None) -> list[dict]:
    """One row per closed team; per dimension only when three or more took part, as in the chat."""
    rows = []
    for record in store.export_teams(team, since, until):
        result = TeamResult.from_dict(record.pop("result"))
        record |= {"participants": result.participants, "stage": result.stage}
        for d in dimensions:
            spread = result.spreads.get(d.id) if result.detailed else None
            record |= {
                f"median_{d.id}": result.dimensions.get(d.id) if result.detailed else None,
                f"low_{d.id}": spread[0] if spread else None,
                f"high_{d.id}": spread[1] if spread else None,
            }
        rows.append(record)
    return rows


def to_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


def to_json(rows: list[dict]) -> str:
    return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
