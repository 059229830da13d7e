"""Exit codes of --rm containers, kept after their records go: the API's `wait` (and Podman's
own exit-code table) answers for a container removed the moment it exited."""

from __future__ import annotations

import os


def keep(run_dir: str, cid: str, code: int) -> None:
    """<runtime>/exits/<id> (config.Paths.exits): written whole or not at all."""
    exits = os.path.join(os.path.dirname(os.path.dirname(run_dir)), "exits")
    try:
        os.makedirs(exits, mode=0o700, exist_ok=True)
        tmp = os.path.join(exits, f".{cid}.{os.getpid()}")
        with open(tmp, "w") as f:
            f.write(str(code))
        os.rename(tmp, os.path.join(exits, cid))
    except OSError:
        pass  # only a waiter's answer is lost: it says 0, as before
