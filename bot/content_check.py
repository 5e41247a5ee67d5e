"""`stagecoach content check`: every defect in the content files, each named by file and id."""
from __future__ import annotations

import string
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from .catalog import CONTENT_DIR, STAGE_COUNT, Catalog, ContentError, parse_catalog, plural_forms
from .commands import mentioned, registered
from .registry import REGISTRY
from .scoring import DEFINING, LISTENING

MAX_TIP = 400
MAX_WHY = 200
MIN_TIPS_PER_CELL = 3
REFERENCE_LANG = "en"


def placeholders(template: str) -> set[str] | None:
    """The named fields of a template, or None when its braces are broken."""
    try:
        return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    except ValueError:
        return None


def check_catalog(catalog: Catalog) -> list[str]:
    """Defects within one language file."""
    name = catalog.path.name
    problems: list[str] = []
    if [s.id for s in catalog.stages] != list(range(1, STAGE_COUNT + 1)):
        problems.append(f"{name}: stages: expected ids 1..{STAGE_COUNT} in order")
    dimensions = {d.id for d in catalog.dimensions}
    for ident, count in Counter(_ids(catalog)).items():
        if count > 1:
            problems.append(f"{name}: {ident}: the id is used {count} times")
    for question in catalog.questions:
        if question.dimension not in dimensions:
            problems.append(f"{name}: {question.id}: unknown dimension '{question.dimension}'")
        if len(question.options) != STAGE_COUNT or not all(o.strip() for o in question.options):
            filled = sum(1 for o in question.options if o.strip())
            problems.append(
                f"{name}: {question.id}: needs exactly {STAGE_COUNT} options, one per stage;"
                f" has {filled} filled of {len(question.options)}"
            )
    for tip in catalog.tips:
        if tip.dimension not in dimensions:
            problems.append(f"{name}: {tip.id}: unknown dimension '{tip.dimension}'")
        if tip.stage not in range(1, STAGE_COUNT + 1):
            problems.append(f"{name}: {tip.id}: stage {tip.stage} is not 1..{STAGE_COUNT}")
        if not tip.text.strip():
            problems.append(f"{name}: {tip.id}: the tip text is empty")
        if len(tip.text) > MAX_TIP:
            problems.append(f"{name}: {tip.id}: the tip is {len(tip.text)} characters (at most {MAX_TIP})")
        if not tip.why.strip() or "\n" in tip.why.strip() or len(tip.why) > MAX_WHY:
            problems.append(f"{name}: {tip.id}: 'why' must be one line of at most {MAX_WHY} characters")
    cells = Counter((t.stage, t.dimension) for t in catalog.tips)
    for stage in range(1, STAGE_COUNT + 1):
        for dimension in catalog.dimensions:
            count = cells[(stage, dimension.id)]
            if count < MIN_TIPS_PER_CELL:
                problems.append(
                    f"{name}: stage {stage} × {dimension.id}: {count} tips (at least {MIN_TIPS_PER_CELL})"
                )
    for ident, text in _plain_texts(catalog):
        if "{" in text or "}" in text:
            problems.append(f"{name}: {ident}: broken placeholder: this text is never filled in")
    for key, template in catalog.messages.items():
        problems.extend(_check_message(catalog, key, template))
    problems.extend(_check_links(catalog))
    problems.extend(_check_commands(catalog))
    return problems


def _check_commands(catalog: Catalog) -> list[str]:
    """Every command a text mentions is registered, in its neutral spelling (`/team join`): the
    adapters spell it for their platform, so a typo or a platform's own spelling is a defect."""
    name = catalog.path.name
    texts = list(_plain_texts(catalog))
    for key, template in catalog.messages.items():
        forms = template.items() if isinstance(template, dict) else [("", template)]
        texts += [(f"messages.{key}" + (f".{form}" if form else ""), text) for form, text in forms]
    for command, parts in catalog.commands.items():
        texts += [(f"commands.{command}.{part}", text) for part, text in parts.items()]
    problems = [f"{name}: {ident}: '/{word}' is not a command; name commands as the content does, like '/team join'"
                for ident, text in texts for word in dict.fromkeys(mentioned(text)) if not registered(word)]
    return problems + _check_command_texts(catalog)


def _check_command_texts(catalog: Catalog) -> list[str]:
    """Each command's one entry has the texts its declaration asks for (a /help line, a menu
    description), and no others; an entry for no command is a leftover."""
    name = catalog.path.name
    wanted = {c.content_id: {part for part, needed in (("help", c.help), ("menu", c.menu)) if needed}
              for c in REGISTRY}
    problems = [f"{name}: commands.{command}.{part}: missing (/{command.replace('_', ' ')} needs it)"
                for command, parts in wanted.items() for part in sorted(parts - set(catalog.commands.get(command, {})))]
    problems += [f"{name}: commands.{command}: no registered command of that name"
                 for command in catalog.commands if command not in wanted]
    problems += [f"{name}: commands.{command}.{part}: not asked for by /{command.replace('_', ' ')}"
                 for command, parts in catalog.commands.items() if command in wanted
                 for part in sorted(set(parts) - wanted[command])]
    return problems


def _check_message(catalog: Catalog, key: str, template: object) -> list[str]:
    """A message is text, or a table of the plural forms its language needs (CLDR)."""
    name = catalog.path.name
    if isinstance(template, dict):
        needed = set(plural_forms(catalog.lang)) | {"other"}
        problems = [f"{name}: messages.{key}: plural form '{form}' is missing"
                    for form in sorted(needed - set(template))]
        problems += [f"{name}: messages.{key}: '{form}' is not a plural form of {catalog.lang}"
                     for form in sorted(set(template) - needed)]
        for form, text in template.items():
            problems.extend(_check_message(catalog, f"{key}.{form}", text))
        return problems
    if not isinstance(template, str) or not template.strip():
        return [f"{name}: messages.{key}: empty or not text"]
    if placeholders(template) is None:
        return [f"{name}: messages.{key}: broken placeholder (unbalanced braces)"]
    return []


def _check_links(catalog: Catalog) -> list[str]:
    """Roadmap moves and tips name real questions, and each stage's roadmap covers every
    defining practice that the next stage needs, and listening, so that it names whatever holds
    a person."""
    name = catalog.path.name
    questions = {q.id: q for q in catalog.questions}
    problems = [f"{name}: scoring: defining practice '{q}' is not a question" for q in DEFINING if q not in questions]
    for stage in catalog.stages:
        linked = {item.question for item in stage.checklist}
        for item in stage.checklist:
            if item.question is not None and item.question not in questions:
                problems.append(f"{name}: {item.id}: unknown question '{item.question}'")
        if stage.id < STAGE_COUNT:
            problems += [
                f"{name}: stage {stage.id}: no roadmap move for the defining practice '{q}'"
                for q, first in DEFINING.items() if first <= stage.id + 1 and q not in linked
            ]
            if not any(questions[q].dimension == LISTENING for q in linked if q in questions):
                problems.append(f"{name}: stage {stage.id}: no roadmap move for listening")
    for tip in catalog.tips:
        if (tip.question is None) != (tip.level is None):
            problems.append(f"{name}: {tip.id}: a tip names both a question and a level, or neither")
        elif tip.level is not None and tip.level not in range(2, STAGE_COUNT + 1):
            problems.append(f"{name}: {tip.id}: level {tip.level} is not 2..{STAGE_COUNT}")
        if tip.question is None:
            continue
        question = questions.get(tip.question)
        if question is None:
            problems.append(f"{name}: {tip.id}: unknown question '{tip.question}'")
        elif question.dimension != tip.dimension:
            problems.append(f"{name}: {tip.id}: question '{tip.question}' is not of dimension '{tip.dimension}'")
    return problems


def compare(reference: Catalog, other: Catalog) -> list[str]:
    """Ids present in one language and missing in the other, and placeholders that differ."""
    problems: list[str] = []
    ours, theirs = _ids(reference), _ids(other)
    for ident in sorted(set(ours) - set(theirs)):
        problems.append(f"{other.path.name}: {ident}: missing (present in {reference.path.name})")
    for ident in sorted(set(theirs) - set(ours)):
        problems.append(f"{reference.path.name}: {ident}: missing (present in {other.path.name})")
    if [q.id for q in reference.questions] != [q.id for q in other.questions]:
        problems.append(f"{other.path.name}: questions: not in the same order as {reference.path.name}")
    for a, b in zip(reference.questions, other.questions, strict=False):
        if a.id == b.id and a.dimension != b.dimension:
            problems.append(f"{other.path.name}: {b.id}: dimension differs from {reference.path.name}")
    tips = {t.id: t for t in other.tips}
    for tip in reference.tips:
        twin = tips.get(tip.id)
        if twin and (twin.stage, twin.dimension, twin.question, twin.level) != (
                tip.stage, tip.dimension, tip.question, tip.level):
            problems.append(f"{other.path.name}: {tip.id}: stage, dimension, question or level differs"
                            f" from {reference.path.name}")
    for key, template in reference.messages.items():
        if key in other.messages:
            if isinstance(template, dict) != isinstance(other.messages[key], dict):
                problems.append(f"{other.path.name}: messages.{key}: plural forms in one language only")
                continue
            want, have = placeholders(_other_form(template)), placeholders(_other_form(other.messages[key]))
            if want is not None and have is not None and want != have:
                problems.append(
                    f"{other.path.name}: messages.{key}: broken placeholder: has {{{', '.join(sorted(have))}}},"
                    f" {reference.path.name} has {{{', '.join(sorted(want))}}}"
                )
    return problems


def check(directory: Path = CONTENT_DIR) -> tuple[list[str], str]:
    """All defects in a content directory, and a one-line summary of what was counted."""
    catalogs: list[Catalog] = []
    problems: list[str] = []
    for path in sorted(directory.glob("*.toml")):
        try:
            catalogs.append(parse_catalog(path, strict=False))
        except ContentError as error:
            problems.append(str(error))
    if not catalogs:
        return problems or [f"{directory}: no content files"], "content: nothing to count"
    for catalog in catalogs:
        problems.extend(check_catalog(catalog))
    reference = next((c for c in catalogs if c.lang == REFERENCE_LANG), catalogs[0])
    for catalog in catalogs:
        if catalog is not reference:
            problems.extend(compare(reference, catalog))
    cells = Counter((t.stage, t.dimension) for t in reference.tips)
    fewest = min((cells[(s, d.id)] for s in range(1, STAGE_COUNT + 1) for d in reference.dimensions), default=0)
    summary = (
        f"{'content ok' if not problems else f'{len(problems)} problems'}:"
        f" {len(catalogs)} languages ({', '.join(c.lang for c in catalogs)}),"
        f" {len(reference.stages)} stages, {len(reference.dimensions)} dimensions,"
        f" {len(reference.questions)} questions, {len(reference.tips)} tips per language"
        f" (at least {fewest} per stage × dimension), {len(reference.messages)} messages"
    )
    return problems, summary


def _other_form(template: str | dict[str, str]) -> str:
    """The form whose placeholders every language shares: the plain text, or the plural "other"."""
    return template.get("other", "") if isinstance(template, dict) else template


def _ids(catalog: Catalog) -> list[str]:
    ids = [f"stage.{s.id}" for s in catalog.stages]
    ids += [c.id for s in catalog.stages for c in s.checklist]
    ids += [f"dimension.{d.id}" for d in catalog.dimensions]
    ids += [q.id for q in catalog.questions]
    ids += [t.id for t in catalog.tips]
    ids += [f"messages.{k}" for k in catalog.messages]
    return ids


def _plain_texts(catalog: Catalog) -> Iterable[tuple[str, str]]:
    for stage in catalog.stages:
        for field in ("name", "tagline", "meaning", "holds"):
            yield f"stage.{stage.id}.{field}", getattr(stage, field)
        for item in stage.checklist:
            yield item.id, item.text
    for dimension in catalog.dimensions:
        yield f"dimension.{dimension.id}", dimension.name + dimension.about
    for question in catalog.questions:
        yield question.id, question.text + "".join(question.options)
    for tip in catalog.tips:
        yield tip.id, tip.text + tip.why


KINDS = {"tip": "tip", "question": "question", "roadmap": "roadmap item", "dimension": "dimension"}


def stored_ids_gone(catalogs: Iterable[Catalog], stored: dict[str, set[str]]) -> list[str]:
    """Ids a database refers to (Store.stored_content_ids) that some language no longer has: a
    tip, question, roadmap move or dimension renamed or removed since it was stored. The bot
    shows these as no longer available; this names them, so that they can be mapped or let go."""
    known: dict[str, set[str]] = {}
    for catalog in catalogs:
        mine = {
            "tip": {t.id for t in catalog.tips},
            "question": {q.id for q in catalog.questions},
            "roadmap": {c.id for s in catalog.stages for c in s.checklist},
            "dimension": {d.id for d in catalog.dimensions},
        }
        for kind, ids in mine.items():
            known[kind] = known[kind] & ids if kind in known else ids
    return [f"{KINDS[kind]} '{ident}': stored, but no longer in the content"
            for kind in KINDS for ident in sorted(stored.get(kind, set()) - known.get(kind, set()))]
