"""The `system` group's host and store commands: check, reset, prune, migrate, renumber
(registered on pyman.cli.system's group)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from pyman.cli.system import CTX, group


@group.command("check", context_settings=CTX)
def check(
    fmt: Annotated[str | None, typer.Option("--format", help="json")] = None,
) -> None:
    """Check this host's prerequisites for rootless containers, each with its fix"""
    from pyman.cli.context import GLOBAL
    from pyman.config import paths
    from pyman.engine.syscheck_host import run_checks

    checks = run_checks(paths(), GLOBAL.get("runtime"))
    if fmt == "json":
        print(json.dumps([c.as_dict() for c in checks], indent=2))
    else:
        for c in checks:
            print(c.line())
    failed = [c.name for c in checks if c.status == "fail"]
    if failed:
        from pyman.errors import PymanError

        raise PymanError(f"{len(failed)} prerequisite(s) of a rootless run missing "
                         f"({', '.join(failed)}): see the fixes above")
