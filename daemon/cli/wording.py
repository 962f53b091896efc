"""Socket vocabulary into command-line vocabulary, for messages a person reads in a terminal.

The catalog modules and the socket API share their error messages, and those
name socket methods ("assets.search lists the ones there are", "rpc.discover
shows the schema"). A person at the terminal has `alice search` and `--help`
instead; this is the one place that says which is which.
"""
from __future__ import annotations

import re

# Socket method -> the command that does the same on the command line.
COMMANDS = {
    "assets.search": "alice search",
    "assets.get": "alice search --content-id",
    "assets.generation": "alice search --content-id",
    "assets.similar": "alice similar",
    "assets.tag": "alice tag",
    "assets.untag": "alice untag",
    "assets.rate": "alice rate",
    "assets.move_to_project": "alice move",
    "organize.scan": "alice organize",
    "projects.list": "alice projects",
    "projects.get": "alice projects",
    "projects.create": "alice move",
    "projects.spending": "alice projects",
    "projects.set_budget": "alice projects set-budget",
    "generate.submit": "alice generate",
    "generate.status": "alice generations",
    "generate.recreate": "alice recreate",
    "daemon.status": "alice status",
    "stats": "alice status",
}

# assets.search params -> `alice search` options.
SEARCH_OPTIONS = {
    "text": "TEXT", "tool": "--tool", "project": "--project", "ai": "--ai/--no-ai", "media": "--media",
    "model": "--model", "seed": "--seed", "stars_min": "--stars", "stars_max": "--stars",
    "since": "--since", "until": "--until", "width_min": "--width", "width_max": "--width",
    "height_min": "--height", "height_max": "--height", "aspect_min": "--aspect", "aspect_max": "--aspect",
    "tags_all": "--tag", "tags_any": "--any-tag", "tags_none": "--not-tag", "content_id": "--content-id",
    "sort": "--sort", "order": "--asc", "limit": "--limit", "cursor": "--cursor",
}

_SCHEMA_HINT = re.compile(r";? ?rpc\.discover shows the schema of ([a-z_.]+)")
_INVALID = re.compile(r"invalid params for ([a-z_.]+): ")
_METHOD = re.compile(r"\b(" + "|".join(re.escape(m) for m in sorted(COMMANDS, key=len, reverse=True)) + r")\b")


def _command(method: str) -> str:
    return COMMANDS.get(method, "alice")


def for_terminal(message: str) -> str:
    """`message` with every socket method named by its command instead."""
    message = _SCHEMA_HINT.sub(lambda m: f"; `{_command(m.group(1))} --help` lists what it takes", message)
    message = _INVALID.sub(lambda m: f"{_command(m.group(1))}: ", message)
    message = message.replace("call rpc.discover for the list", "`alice --help` lists the commands")
    message = message.replace("rpc.discover", "`alice --help`")
    return _METHOD.sub(lambda m: f"`{_command(m.group(1))}`", message)


def search_message(message: str) -> str:
    """A search error with the query's field names given as `alice search` options."""
    def option(m: re.Match[str]) -> str:
        return SEARCH_OPTIONS.get(m.group(1), m.group(0)) if m.group(1) in SEARCH_OPTIONS else m.group(0)

    message = re.sub(r"'([a-z_]+)'", lambda m: (SEARCH_OPTIONS[m.group(1)] if m.group(1) in SEARCH_OPTIONS
                                                else m.group(0)), message)
    message = re.sub(r"(?<![-\w'])(stars_min|stars_max|width_min|width_max|height_min|height_max|aspect_min|"
                     r"aspect_max|tags_all|tags_any|tags_none|content_id)\b", option, message)
    return for_terminal(message)
