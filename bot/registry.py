"""Every command, declared once: what the engine parses, what /help lists, what Telegram's menu
and Slack's usage show, and what the content check accepts are all read from `REGISTRY`.

A command is conversational (it fires a `trigger` of the flow machine, bot/flows/, and its
`otherwise` handler answers when none of that trigger's transitions may fire) or plain (its
`handler` answers, wherever the person is). A handler is named "part.method" on the
conversation (bot/conversation.py), as the flows name their callbacks.
"""
from __future__ import annotations

from dataclasses import dataclass

from .catalog import Catalog


@dataclass(frozen=True)
class Command:
    """One command. Commands are English words in every language (content names them the same
    way in each, `/team join`, and people type them so); only their help and menu texts are
    translated. `arguments` says what may follow (a bare word typed without its `/` and with
    more after it is read as this command only when it takes some); `group` whether a group or
    channel may use it (anything else moves to a private chat); `help` whether it has a line in
    /help and `menu` whether it is in a platform's command menu: both texts are one content
    entry, `[commands]` under `content_id`; `reasks` whether the open question comes back after it;
    `carried` whether, typed in a group, its button carries it on in a private chat: anyone there
    may press that button, so only a personal command that changes nothing is carried."""

    words: tuple[str, ...]
    trigger: str = ""
    handler: str = ""
    otherwise: str = ""
    arguments: str = ""
    group: bool = False
    help: bool = False
    menu: bool = False
    reasks: bool = True
    carried: bool = False

    @property
    def name(self) -> str:
        return " ".join(self.words)

    @property
    def content_id(self) -> str:
        return "_".join(self.words)

    def __post_init__(self) -> None:
        if bool(self.trigger) == bool(self.handler) or (self.otherwise and not self.trigger):
            raise ValueError(f"/{self.name}: a trigger (and maybe an otherwise) or a handler")


def weekly(word: str, handler: str, arguments: str = "", reasks: bool = True) -> Command:
    """A command of a chat's weekly tips, `/tips <word>`: a group's champions manage them there."""
    return Command(("tips", word), handler=f"weekly.{handler}", arguments=arguments, group=True, reasks=reasks)


REGISTRY = (
    Command(("start",), trigger="start", otherwise="menu.welcome", group=True),
    Command(("assess",), trigger="assess", help=True, menu=True, carried=True),
    Command(("back",), trigger="back", otherwise="questions.explain_not_assessing", help=True),
    Command(("skip",), trigger="skip", otherwise="questions.explain_not_assessing", help=True),
    Command(("restart",), trigger="restart", help=True),
    Command(("result",), trigger="result", otherwise="menu.show_result", help=True, menu=True, carried=True),
    Command(("lang",), handler="menu.change_language", arguments="LANGUAGE", group=True, help=True,
            menu=True),
    Command(("tips",), trigger="tips", otherwise="coaching.offer_quick_check", help=True, menu=True,
            carried=True),
    Command(("tips", "more"), trigger="tips", otherwise="coaching.offer_quick_check"),
    Command(("tips", "why"), handler="coaching.why", arguments="TIP", reasks=False),
    Command(("tips", "done"), handler="coaching.done", arguments="TIP", reasks=False),
    Command(("tips", "dismiss"), trigger="dismiss", otherwise="coaching.explain_no_tip", arguments="TIP"),
    Command(("tips", "quick"), trigger="quick_check"),
    Command(("tips", "stage"), trigger="pick_stage", otherwise="coaching.offer_stage_picker", arguments="STAGE",
            reasks=False),
    Command(("roadmap",), handler="coaching.roadmap", help=True, menu=True, carried=True),
    Command(("roadmap", "done"), handler="coaching.roadmap_done", arguments="MOVE", reasks=False),
    Command(("team",), handler="team.team", group=True, help=True, menu=True, reasks=False),
    Command(("team", "new"), trigger="team_new", otherwise="team.new_here_or_explain", arguments="NAME",
            group=True, reasks=False),
    Command(("team", "join"), trigger="team_join", otherwise="team.explain_join_refused", arguments="CODE",
            group=True),
    Command(("team", "status"), handler="team.status", group=True),
    Command(("team", "close"), handler="team.close", group=True, menu=True),
    Command(("team", "leave"), trigger="team_leave", otherwise="team.leave_or_explain", group=True),
    weekly("weekly", "status"),
    weekly("subscribe", "subscribe", arguments="SETTINGS"),
    weekly("preview", "preview"),
    weekly("now", "send_now"),
    weekly("pause", "pause"),
    weekly("resume", "resume"),
    weekly("stop", "stop"),
    weekly("history", "history"),
    weekly("channel-done", "mark_done", arguments="TIP", reasks=False),
    weekly("channel-dismiss", "mark_dismissed", arguments="TIP", reasks=False),
    Command(("champion",), handler="weekly.add_champion", arguments="@PERSON", group=True),
    Command(("champion", "add"), handler="weekly.add_champion", arguments="@PERSON", group=True),
    Command(("forget",), trigger="forget", help=True, menu=True),
    Command(("help",), handler="menu.show_help", group=True, help=True, menu=True),
    Command(("home",), handler="menu.show_home", reasks=False),
)

COMMANDS = {command.name: command for command in REGISTRY}
# What answers a command this registry does not know, and a group's personal command.
UNKNOWN = Command(("unknown",), handler="menu.explain_unknown", group=True)
PRIVATE_ONLY = Command(("private_only",), handler="menu.suggest_private", group=True, reasks=False)
# What Slack's slash command does with no words after it.
USAGE = COMMANDS["help"]
# The first words that take more after them when typed bare: `tips why`, `lang nl`, `team join X`.
TAKES_ARGUMENTS = frozenset(c.words[0] for c in REGISTRY if c.arguments or len(c.words) > 1)
# What a group's button carries on in a private chat (anything else opens it with the welcome).
CARRIED_ON = frozenset(f"/{c.name}" for c in REGISTRY if c.carried)
# Platforms that take a command as one word join its words with this (Telegram's `/team_close`).
ONE_WORD_JOINER = "_"


def find(name: str, arg: str) -> tuple[Command, str] | None:
    """The command that `/name arg` means, and what follows its words: two words (`/team join X`,
    or spelled as one, `/team_join X`) win over their first; None for a name not registered."""
    first, joined, second = name.partition(ONE_WORD_JOINER)
    if joined and f"{first} {second}" in COMMANDS:
        name, arg = first, f"{second} {arg}".strip()
    word, _, rest = arg.partition(" ")
    two = COMMANDS.get(f"{name} {word.lower()}") if word else None
    if two is not None:
        return two, rest.strip()
    one = COMMANDS.get(name)
    return (one, arg) if one is not None else None


def help_text(catalog: Catalog) -> str:
    """/help: a line for each command that has one, in the registry's order, between the
    content's opening and its word on answering."""
    lines = [catalog.command_text(c.content_id, "help") for c in REGISTRY if c.help]
    return "\n".join([catalog.message("help"), *lines, catalog.message("help_answering")])


def menu(catalog: Catalog, joiner: str = ONE_WORD_JOINER) -> list[tuple[str, str]]:
    """A platform's command menu, (command spelled as one word, description), in registry order."""
    return [(joiner.join(c.words), catalog.command_text(c.content_id, "menu")) for c in REGISTRY if c.menu]
