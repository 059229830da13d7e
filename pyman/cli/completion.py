"""pyman completion bash|zsh|fish: the script a shell sources (pyman/completions/ holds
copies, shipped in the wheel). Each begins with a comment saying where to put it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pyman.cli import complete_values as cv

app = typer.Typer(add_completion=False)
SHELLS = ("bash", "zsh", "fish")


# typer's bash script, plus the line up to the cursor (bash splits COMP_WORDS at ':' and '=',
# which would cut container:NAME and CONTAINER:PATH apart; complete_values.PymanBash reads it)
# and no space after a lone answer that ends in ':' (CONTAINER: for cp)
BASH = """_pyman_completion() {
    local IFS=$'\\n'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" \\
                   COMP_CWORD=$COMP_CWORD \\
                   _PYMAN_COMP_LINE="${COMP_LINE:0:COMP_POINT}" \\
                   %(var)s=complete_bash $1 ) )
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *: ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}

complete -o default -F _pyman_completion pyman
"""


# where each shell looks for a user's completion scripts (first line: a comment in the script)
WHERE = {
    "bash": "# pyman's bash completion: save it as ~/.local/share/bash-completion/completions/"
            "pyman\n#   pyman completion bash > ~/.local/share/bash-completion/completions/"
            "pyman\n# (or /usr/share/bash-completion/completions/pyman for everyone; needs "
            "the bash-completion package)\n",
    "zsh": "# pyman's zsh completion: save it as _pyman in a directory on $fpath, e.g.\n"
           "#   mkdir -p ~/.zfunc && pyman completion zsh > ~/.zfunc/_pyman\n"
           "# with `fpath=(~/.zfunc $fpath)` before `compinit` in ~/.zshrc\n",
    "fish": "# pyman's fish completion: save it as ~/.config/fish/completions/pyman.fish\n"
            "#   pyman completion fish > ~/.config/fish/completions/pyman.fish\n",
}


def script(shell: str) -> str:
    """The script, with the comment saying where it goes (after zsh's #compdef line, which
    must stay first)."""
    text = _script(shell)
    if text.startswith("#compdef"):
        first, _, rest = text.partition("\n")
        return f"{first}\n{WHERE[shell]}{rest}"
    return WHERE[shell] + text


def _script(shell: str) -> str:
    from typer._completion_shared import get_completion_script

    from pyman.cli.main import COMPLETE_VAR

    if shell == "bash":
        return BASH % {"var": COMPLETE_VAR}
    return get_completion_script(prog_name="pyman", complete_var=COMPLETE_VAR,
                                 shell=shell) + "\n"


@app.command("completion", context_settings={"help_option_names": ["--help"]})
def completion(
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.",
                                                autocompletion=cv.shells)],
    file: Annotated[Path | None, typer.Option("--file", "-f",
                                              help="Write to this file instead of stdout.")
                    ] = None,
) -> None:
    """Generate a shell completion script.

    Its first lines say where to save it: bash ~/.local/share/bash-completion/completions/pyman,
    zsh _pyman in a directory on $fpath, fish ~/.config/fish/completions/pyman.fish. Copies
    ship inside the pyman package (pyman/completions/).
    """
    from pyman.errors import PymanError

    if shell not in SHELLS:
        raise PymanError(f"unsupported shell {shell!r}: choose one of {', '.join(SHELLS)}")
    text = script(shell)
    if file is None:
        print(text, end="")
    else:
        file.write_text(text)
