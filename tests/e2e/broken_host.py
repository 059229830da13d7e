"""Running pyman on a host with one prerequisite broken on purpose, harming nobody else.

The test user becomes root of a user namespace of its own with a private mount namespace
(`unshare -r -m`), changes what it needs there (binds over /etc/subuid, /dev/fuse or a tool,
mounts a tmpfs or an overlay, lowers user.max_user_namespaces, which is per user namespace),
then maps itself back to its own uid in a nested user namespace and runs pyman: pyman sees
its own uid and files, and the host as broken, while the machine stays as it was.
Root's files look owned by nobody there (unmapped), so checks that look at owners
(setuid newuidmap) fail in every such run: tests look only at the line they break.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path


def run_broken(pyman_bin: Path, env: dict[str, str], setup: str, *args: str,
               timeout: float = 120, wrap: Sequence[str] = ()
               ) -> subprocess.CompletedProcess[str]:
    """``setup``: shell lines run as root of the outer namespace before pyman runs;
    ``wrap``: a command that runs pyman (its arguments follow), as the test user."""
    inner = (f"exec unshare --user --map-user={os.getuid()} --map-group={os.getgid()} "
             f"{shlex.join(wrap)} {shlex.quote(str(pyman_bin))} {shlex.join(args)}")
    script = f"set -e\n{setup}\n{inner}\n"
    return subprocess.run(["unshare", "-r", "-m", "--propagation", "private", "sh", "-c",
                           script], env=env, capture_output=True, text=True, timeout=timeout)


def line(out: str, name: str) -> str:
    """The check's line of `system check` (its name is followed by ':')."""
    for ln in out.splitlines():
        words = ln.split(None, 1)
        if len(words) == 2 and words[1].startswith(name + ":"):
            return ln
    raise AssertionError(f"no {name!r} line in:\n{out}")
