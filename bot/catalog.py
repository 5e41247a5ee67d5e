"""Loads the content files in bot/content/ into typed, read-only catalogs, one per language."""
from __future__ import annotations

import tomllib
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any, TypeVar

from babel import Locale

CONTENT_DIR = Path(__file__).parent / "content"
STAGE_COUNT = 6
T = TypeVar("T")


class ContentError(ValueError):
    """Content that cannot be used; the message names the file, the id and what is wrong."""


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    """A move towards the next stage; `question` is the question whose answer shows it in place."""

    id: str
    text: str
    question: str | None = None


@dataclass(frozen=True, slots=True)
class Stage:
    """One of the six stages of social business maturity, in one language's words."""

    id: int
    # Its key in content ids (planning, presence, …) and its name in this language.
    key: str
    name: str
    # What a result says of the stage: one line, what being here means, what holds one here.
    tagline: str
    meaning: str
    holds: str
    checklist: tuple[ChecklistItem, ...]  # the moves towards the next stage


@dataclass(frozen=True, slots=True)
class Dimension:
    id: str
    name: str
    about: str


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    dimension: str
    text: str
    options: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Tip:
    """A tip for a stage and dimension. `question` names the practice it works on, if one, and
    `level` the answer from which on a person already does what the tip proposes."""

    id: str
    stage: int
    dimension: str
    # What a person reads: the tip, and why it helps at this stage.
    text: str
    why: str
    question: str | None = None
    level: int | None = None


@dataclass(frozen=True)
class Catalog:
    """Everything Stagecoach says in one language."""

    lang: str
    language_name: str
    path: Path
    # The model of maturity, the questionnaire, the coaching, and every other message.
    stages: tuple[Stage, ...]
    dimensions: tuple[Dimension, ...]
    questions: tuple[Question, ...]
    tips: tuple[Tip, ...]
    messages: dict[str, str | dict[str, str]]
    # Per command (its words joined by "_"): its line in /help ("help"), its menu description ("menu").
    commands: dict[str, dict[str, str]] = field(default_factory=dict)

    def command_text(self, command: str, part: str) -> str:
        try:
            return self.commands[command][part]
        except KeyError:
            raise ContentError(f"{self.path.name}: commands.{command}.{part}: missing") from None

    def message(self, key: str, **values: Any) -> str:
        """A message filled in; a message with plural forms picks the one `count` needs."""
        try:
            template = self.messages[key]
        except KeyError:
            raise ContentError(f"{self.path.name}: messages.{key}: missing") from None
        if isinstance(template, dict):
            template = template[plural_form(self.lang, values["count"])]
        return template.format(**values) if values else template

    def stage(self, number: int) -> Stage:
        return self.stages[number - 1]

    def dimension(self, dimension_id: str) -> Dimension:
        return self._dimensions_by_id[dimension_id]

    def tip(self, tip_id: str) -> Tip:
        return self._tips_by_id[tip_id]

    def question(self, question_id: str) -> Question:
        return self._questions_by_id[question_id]

    # Ids read back from the database may name content that was renamed or removed since: these
    # lookups answer None or the "no longer available" text instead of failing the whole reply.

    def find_tip(self, tip_id: str | None) -> Tip | None:
        return self._tips_by_id.get(tip_id or "")

    def find_question(self, question_id: str | None) -> Question | None:
        return self._questions_by_id.get(question_id or "")

    def dimension_name(self, dimension_id: str) -> str:
        found = self._dimensions_by_id.get(dimension_id)
        return found.name if found else self.message("content_gone")

    def memo(self, key: Hashable, make: Callable[[], T]) -> T:
        """What is made from this content alone (a question's lines, a dimension's line at a
        stage), made once: the content never changes. Keys must come from the content, never
        from what people type, so that it stays small."""
        try:
            found: T = self._memo[key]
        except KeyError:
            found = self._memo[key] = make()
        return found

    @cached_property
    def _memo(self) -> dict[Hashable, Any]:
        return {}

    @cached_property
    def _tips_by_id(self) -> dict[str, Tip]:
        return {t.id: t for t in self.tips}

    @cached_property
    def _questions_by_id(self) -> dict[str, Question]:
        return {q.id: q for q in self.questions}

    @cached_property
    def _dimensions_by_id(self) -> dict[str, Dimension]:
        return {d.id: d for d in self.dimensions}


@cache
def _locale(lang: str) -> Locale:
    return Locale.parse(lang)


def plural_form(lang: str, count: int) -> str:
    """The CLDR plural category of a count in a language: "one", "other", ..."""
    return _locale(lang).plural_form(count)


def plural_forms(lang: str) -> tuple[str, ...]:
    """The plural categories a language's messages need, "other" among them."""
    return tuple(sorted(_locale(lang).plural_form.tags | {"other"}))


def _require(table: dict[str, Any], field: str, where: str) -> Any:
    if field not in table:
        raise ContentError(f"{where}: '{field}' is missing")
    return table[field]


def _record(kind: Callable[..., T], table: dict[str, Any], where: str, required: tuple[str, ...],
            defaults: dict[str, Any] | None = None, **made: Any) -> T:
    """A record from a TOML table: every `required` field must be there (the error says where one
    is missing), the others take the table's value or their default, and `made` are values made
    from the table (a tuple of its items) that stand in for its own."""
    values = {field: _require(table, field, where) for field in required}
    values |= {field: table.get(field, default) for field, default in (defaults or {}).items()}
    return kind(**(values | made))


def parse_catalog(path: Path, *, strict: bool = True) -> Catalog:
    """Reads one language file; raises ContentError naming the file and id for a malformed entry.

    `strict` also checks the shape the engine relies on; the content check turns it off to
    report every defect instead of the first.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ContentError(f"{path.name}: not valid TOML: {error}") from None
    name = path.name
    meta = _require(data, "meta", name)
    stages = tuple(
        _record(Stage, s, f"{name}: stages[{i}]", ("id", "key", "name", "tagline", "meaning"), {"holds": ""},
                checklist=tuple(ChecklistItem(c["id"], c["text"], c.get("question")) for c in s.get("checklist", ())))
        for i, s in enumerate(_require(data, "stages", name))
    )
    dimensions = tuple(_record(Dimension, d, f"{name}: dimensions[{i}]", ("id", "name"), {"about": ""})
                       for i, d in enumerate(_require(data, "dimensions", name)))
    questions = tuple(
        _record(Question, q, f"{name}: {q.get('id', f'questions[{i}]')}", ("id", "dimension", "text", "options"),
                options=tuple(q.get("options", ())))
        for i, q in enumerate(_require(data, "questions", name))
    )
    tips = tuple(_record(Tip, t, f"{name}: {t.get('id', f'tips[{i}]')}", ("id", "stage", "dimension", "text", "why"),
                         {"question": None, "level": None})
                 for i, t in enumerate(data.get("tips", ())))
    catalog = Catalog(
        lang=_require(meta, "lang", f"{name}: meta"),
        language_name=_require(meta, "name", f"{name}: meta"),
        path=path,
        stages=stages,
        dimensions=dimensions,
        questions=questions,
        tips=tips,
        messages=dict(_require(data, "messages", name)),
        commands={command: dict(texts) for command, texts in data.get("commands", {}).items()},
    )
    if strict:
        _check_shape(catalog)
    return catalog


def _check_shape(catalog: Catalog) -> None:
    """The invariants the engine relies on; the content check command reports more."""
    name = catalog.path.name
    if [s.id for s in catalog.stages] != list(range(1, STAGE_COUNT + 1)):
        raise ContentError(f"{name}: stages: expected ids 1..{STAGE_COUNT} in order")
    known = {d.id for d in catalog.dimensions}
    for question in catalog.questions:
        if question.dimension not in known:
            raise ContentError(f"{name}: {question.id}: unknown dimension '{question.dimension}'")
        if len(question.options) != STAGE_COUNT:
            raise ContentError(
                f"{name}: {question.id}: expected {STAGE_COUNT} options, one per stage,"
                f" found {len(question.options)}"
            )


def load_catalogs(directory: Path = CONTENT_DIR) -> dict[str, Catalog]:
    """All languages in a content directory, keyed by language code."""
    catalogs = [parse_catalog(path) for path in sorted(directory.glob("*.toml"))]
    if not catalogs:
        raise ContentError(f"{directory}: no content files")
    for catalog in catalogs:
        plural_form(catalog.lang, 1)  # reads the locale's rules now, not while someone waits for a result
    return {c.lang: c for c in catalogs}


@cache
def default_catalogs() -> dict[str, Catalog]:
    return load_catalogs()
