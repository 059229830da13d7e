"""The start-up path of the everyday commands imports only what they use: each module on it
costs every invocation (issue 14). Read off the real console script with
PYTHONPROFILEIMPORTTIME, so a module pulled in by any route counts."""

from __future__ import annotations

import pytest

# never on the path of run, ps or exec: registry, archives, TLS, YAML, rich output, other
# commands' engines
HEAVY = {"ssl", "http.client", "urllib.request", "tarfile", "gzip", "zstandard", "rich",
         "yaml", "asyncio", "email", "xml", "concurrent.futures", "argparse", "pydantic",
         "pyman.image.registry_client", "pyman.image.pull", "pyman.storage.unpack",
         "pyman.engine.kube.spec", "pyman.engine.kube.generate", "pyman.quadlet",
         "pyman.engine.systemd.generate", "pyman.cli.images", "pyman.cli.template"}
# and per command, what it has no use for (run's, exec's and ps's everyday lines are parsed
# without typer: cli/fast.py)
NOT_FOR = {
    "ps": {"pyman.runtime.spec", "pyman.runtime.detect", "pyman.netns.helpers",
           "pyman.image.reference", "pyman.engine.containers.config", "typer",
           "pyman.cli.containers"},
    "exec": {"pyman.engine.containers.operations", "pyman.netns.helpers",
             "pyman.engine.images.operations", "pyman.storage.layers", "hashlib", "typer",
             "pyman.cli.exec"},
    "run": {"pyman.engine.containers.exec", "pyman.engine.copy.cp",
            "pyman.engine.containers.logs", "typer", "pyman.cli.run",
            "pyman.cli.complete_values"},
}


def imported(run_pyman, env: dict[str, str], *args: str) -> set[str]:  # type: ignore[no-untyped-def]
    proc = run_pyman(*args, env={**env, "PYTHONPROFILEIMPORTTIME": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {line.split("|")[2].strip() for line in proc.stderr.splitlines()
            if line.startswith("import time:") and line.count("|") == 2}


@pytest.fixture
def sleeper(run_pyman) -> str:  # type: ignore[no-untyped-def]
    proc = run_pyman("run", "-d", "--network", "none", "alpine", "sleep", "300")
    assert proc.returncode == 0, proc.stderr
    yield proc.stdout.strip()
    run_pyman("rm", "-f", "-t", "0", proc.stdout.strip())


@pytest.mark.parametrize("command", ["ps", "exec", "run"])
def test_start_up_imports_only_what_the_command_uses(run_pyman, pyman_env, sleeper: str,
                                                     command: str) -> None:
    argv = {"ps": ["ps", "-a"], "exec": ["exec", sleeper, "true"],
            "run": ["run", "--rm", "--network", "none", "alpine", "true"]}[command]
    mods = imported(run_pyman, pyman_env, *argv)
    assert "pyman.cli.main" in mods, "the import list was not read"  # the reading works
    unwanted = {m for m in mods
                if m in HEAVY | NOT_FOR[command]
                or any(m.startswith(h + ".") for h in HEAVY | NOT_FOR[command])}
    assert not unwanted, f"`pyman {' '.join(argv)}` imports {sorted(unwanted)}"
