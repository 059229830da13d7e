"""Shell completion: the shipped files are what `pyman completion` prints, and they work."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

COMPLETIONS = Path(__file__).resolve().parents[2] / "completions"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shipped_files_are_in_sync(run_pyman, shell: str) -> None:
    r = run_pyman("completion", shell)
    assert r.returncode == 0, r.stderr
    assert (COMPLETIONS / f"pyman.{shell}").read_text() == r.stdout, (
        f"completions/pyman.{shell} is stale: regenerate with `pyman completion {shell} "
        f"-f completions/pyman.{shell}`")


def test_unknown_shell_is_refused(run_pyman) -> None:
    r = run_pyman("completion", "tcsh")
    assert r.returncode == 125 and "tcsh" in r.stderr and "bash" in r.stderr


@pytest.mark.parametrize(("words", "expected"), [
    ("pyman ru", "run"),
    ("pyman run --ne", "--network"),
    ("pyman rm", "rmi"),
])
def test_bash_completes_commands_and_flags(pyman_env, words: str, expected: str) -> None:
    script = (f"source {COMPLETIONS}/pyman.bash; COMP_WORDS=({words}); "
              "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _pyman_completion pyman; "
              "printf '%s\\n' \"${COMPREPLY[@]}\"")
    r = subprocess.run(["bash", "-c", script], env=pyman_env, capture_output=True, text=True,
                       timeout=30)
    assert expected in r.stdout.split(), r.stdout + r.stderr
