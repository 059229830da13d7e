"""pyman exec: its typer registration (the function and its options are cli/exec_command.py's,
shared with the fast path of cli/fast.py)."""

from __future__ import annotations

import typer

from pyman.cli import complete_values as cv
from pyman.cli import exec_command

# typer evaluates exec_'s string annotations in exec_command's namespace
vars(exec_command).update(typer=typer, cv=cv)

app = typer.Typer(add_completion=False)

EXEC_CONTEXT = {"allow_interspersed_args": False, "help_option_names": ["--help"]}

app.command("exec", context_settings=EXEC_CONTEXT)(exec_command.exec_)
