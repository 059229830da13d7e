"""pyman completion bash|zsh|fish: the script a shell sources (completions/ holds copies)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False)
SHELLS = ("bash", "zsh", "fish")


def script(shell: str) -> str:
    from typer._completion_shared import get_completion_script

    from pyman.cli.main import COMPLETE_VAR

    return get_completion_script(prog_name="pyman", complete_var=COMPLETE_VAR,
                                 shell=shell) + "\n"


@app.command("completion", context_settings={"help_option_names": ["--help"]})
def completion(
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.")],
    file: Annotated[Path | None, typer.Option("--file", "-f",
                                              help="Write to this file instead of stdout.")
                    ] = None,
) -> None:
    """Generate a shell completion script."""
    from pyman.errors import PymanError

    if shell not in SHELLS:
        raise PymanError(f"unsupported shell {shell!r}: choose one of {', '.join(SHELLS)}")
    text = script(shell)
    if file is None:
        print(text, end="")
    else:
        file.write_text(text)
