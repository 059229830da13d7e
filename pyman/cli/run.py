"""pyman run and pyman create: their typer registration (the functions and their options are
cli/run_command.py's, shared with the fast path of cli/fast.py)."""

from __future__ import annotations

import typer

from pyman.cli import complete_paths, run_command
from pyman.cli import complete_values as cv

# typer evaluates the commands' string annotations in run_command's namespace
vars(run_command).update(typer=typer, cv=cv, complete_paths=complete_paths)

app = typer.Typer(add_completion=False)

RUN_CONTEXT = {"allow_interspersed_args": False, "help_option_names": ["--help"]}

app.command("run", context_settings=RUN_CONTEXT)(run_command.make_command(False))
app.command("create", context_settings=RUN_CONTEXT)(run_command.make_command(True))
