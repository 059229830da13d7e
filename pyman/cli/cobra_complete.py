"""`pyman __complete ARGS... WORD` and `__completeNoDesc`: cobra's completion protocol, the
one Podman's shell scripts (and its BATS tests) speak. One candidate a line (`value\\thelp`
with descriptions), then `:<directive>`; on stderr `Completion ended with directive: ...`.
The candidates come from the same click completion callbacks the `completion` scripts use.
"""

from __future__ import annotations

import sys
from typing import Any

from pyman.cli.complete_paths import DEFAULT, DIRECTIVE, NO_FILE_COMP

_NAMES = ((1, "ShellCompDirectiveError"), (2, "ShellCompDirectiveNoSpace"),
          (4, "ShellCompDirectiveNoFileComp"), (8, "ShellCompDirectiveFilterFileExt"),
          (16, "ShellCompDirectiveFilterDirs"), (32, "ShellCompDirectiveKeepOrder"))


def directive_names(directive: int) -> str:
    names = [name for bit, name in _NAMES if directive & bit]
    return ", ".join(names) or "ShellCompDirectiveDefault"


def _candidates(words: list[str], incomplete: str) -> tuple[list[Any], int]:
    from typer._click.core import Parameter
    from typer._click.shell_completion import _resolve_context, _resolve_incomplete

    from pyman.cli.main import build_app, invoked_command

    name = invoked_command(words)
    command = build_app(name, "" if name is not None else incomplete)
    ctx = _resolve_context(command, {}, "pyman", list(words))
    obj, incomplete = _resolve_incomplete(ctx, list(words), incomplete)
    items = obj.shell_complete(ctx, incomplete)
    if DIRECTIVE:  # the callback said how to go on
        return items, DIRECTIVE[-1]
    if isinstance(obj, Parameter) and getattr(obj, "_custom_shell_complete", None) is None:
        return items, DEFAULT  # a value with no list of its own: a path, say
    return items, NO_FILE_COMP  # commands, flags, names from the store


def complete(words: list[str], descriptions: bool) -> int:
    words, incomplete = (words[:-1], words[-1]) if words else ([], "")
    try:
        items, directive = _candidates(words, incomplete)
    except Exception as exc:  # resilient parsing still met something it cannot read
        print(f"[Debug] [Error] {exc}", file=sys.stderr)
        items, directive = [], DEFAULT
    for item in items:
        text = " ".join(str(item.help or "").split()) if descriptions else ""
        print(f"{item.value}\t{text}" if text else item.value)
    print(f":{directive}", flush=True)  # before stderr's line, as cobra's order is
    print(f"Completion ended with directive: {directive_names(directive)}", file=sys.stderr)
    return 0
