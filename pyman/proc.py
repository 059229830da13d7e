"""The one way pyman runs helper tools (runc, newuidmap, slirp4netns ...).

Logs the command line at debug level and turns a failure into a PymanError that quotes the
tool's own stderr, so users see why, not just that, something failed.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
from collections.abc import Sequence

from pyman.errors import ToolError

log = logging.getLogger("pyman.proc")


def run_tool(
    argv: Sequence[str],
    *,
    what: str | None = None,
    input: bytes | None = None,
    timeout: float | None = 60,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` to completion; raise ToolError quoting stderr when it fails."""
    log.debug("exec: %s", shlex.join(argv))
    label = what or argv[0]
    try:
        proc = subprocess.run(
            list(argv), input=input, capture_output=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise ToolError(f"{label}: {argv[0]} not found: install it or add it to PATH") from exc
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{label}: {argv[0]} did not finish within {timeout} s") from exc
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        last = err.splitlines()[-1] if err else f"exit status {proc.returncode}"
        raise ToolError(f"{label}: {last}", proc.returncode, err)
    return proc
