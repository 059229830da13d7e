"""The OCI process spec of an exec session (``runc exec --process``), derived from the
container's own process in its bundle config.json, so the exec'd command gets what the
container's got (capabilities, rlimits, no-new-privileges, umask, AppArmor ...) unless asked
otherwise. Pure functions over plain data; stdlib only.
"""

from __future__ import annotations

import copy

from pyman.runtime.capabilities import kernel_caps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from pyman.runtime.users import ExecUser

def _set_env(env: list[str], key: str, value: str) -> list[str]:
    return [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]


def exec_env(container_env: Sequence[str], extra: Sequence[str], hostname: str = "",
             home: str | None = None) -> list[str]:
    """The container's environment without the HOSTNAME the runtime added for its init (as
    Podman: exec sessions do not get it), then ``home`` as HOME (the ``--user``'s, from its
    passwd entry), then ``extra`` (``--env-file``, then ``-e``), each later one winning."""
    env = [e for e in container_env if not (hostname and e == f"HOSTNAME={hostname}")]
    if home is not None:
        env = _set_env(env, "HOME", home)
    for item in extra:
        key, sep, value = item.partition("=")
        if key and sep:
            env = _set_env(env, key, value)
    return env


def exec_process(
    base: dict[str, Any],
    args: Sequence[str],
    *,
    env: Sequence[str],
    cwd: str | None = None,
    user: ExecUser | None = None,
    terminal: bool = False,
    privileged: bool = False,
    user_caps: Sequence[str] = (),
    console_size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """``base`` is the container's ``process`` object; ``user`` None keeps its user.
    Capabilities follow the container's rules (runtime/spec.py): root holds the bounding set;
    a non-root user only ``user_caps`` (the container's --cap-add, ``ALL`` for all), as
    ambient ones so they survive execve; ``privileged`` bounds by every capability there is."""
    proc = copy.deepcopy(base)
    proc["args"] = list(args)
    proc["env"] = list(env)
    proc["terminal"] = terminal
    if cwd:
        proc["cwd"] = cwd
    proc.setdefault("cwd", "/")
    if user is not None:
        spec_user: dict[str, Any] = {"uid": user.uid, "gid": user.gid}
        umask = (base.get("user") or {}).get("umask")
        if umask is not None:
            spec_user["umask"] = umask
        if user.additional_gids:
            spec_user["additionalGids"] = list(user.additional_gids)
        proc["user"] = spec_user
    uid = int((proc.get("user") or {}).get("uid", 0))
    caps = dict(proc.get("capabilities") or {})
    bounding = kernel_caps() if privileged else list(caps.get("bounding") or [])
    if uid == 0:
        proc["capabilities"] = {"bounding": bounding, "effective": list(bounding),
                                "permitted": list(bounding)}
    else:
        given = [c for c in bounding if "ALL" in user_caps or c in user_caps]
        proc["capabilities"] = {"bounding": bounding, "effective": given,
                                "permitted": list(given)}
        if given:
            proc["capabilities"]["inheritable"] = list(given)
            proc["capabilities"]["ambient"] = list(given)
    if console_size is not None and terminal:
        proc["consoleSize"] = {"height": console_size[0], "width": console_size[1]}
    else:
        proc.pop("consoleSize", None)
    return proc
