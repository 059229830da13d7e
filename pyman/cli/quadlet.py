"""pyman quadlet [--user] [--dryrun] [-v] [OUTPUT_DIR]: the Quadlet generator, by hand.

The same program systemd runs as a generator (``pyman-quadlet``, pyman/quadlet): with
--dryrun it prints the units it would write, each under ``---name.service---``. Anyone but
root gets the user's dirs (a user cannot run system units anyway).
"""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(add_completion=False)


@app.command("quadlet", context_settings={"help_option_names": ["--help"]})
def quadlet(
    output_dirs: Annotated[list[str] | None, typer.Argument(
        help="Where to write the units (systemd passes three; the first is used).")] = None,
    user: Annotated[bool, typer.Option(
        "--user", help="Read the user's Quadlet dirs, not the system's (the default for "
        "anyone but root).")] = False,
    dryrun: Annotated[bool, typer.Option(
        "--dryrun", help="Print the units instead of writing them.")] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Name each file read.")] = False,
) -> None:
    """Generate systemd units from .container, .volume and .pod files."""
    import os

    from pyman.quadlet.__main__ import run

    user = user or os.getuid() != 0
    args = [*(["--user"] if user else []), *(["--dryrun"] if dryrun else []),
            *(["-v"] if verbose else []), *(output_dirs or [])]
    rc = run(args, "pyman quadlet", False)
    if rc:
        raise typer.Exit(rc)
