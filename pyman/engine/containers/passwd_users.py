"""The users pyman adds to a container's /etc/passwd (Podman's generatePasswdEntry): the
user running it with plain --userns=keep-id, and every --hostuser. Each one's home is its
host home directory when that (or a directory above it) is a mount in the container, else
the container's working directory; HOME follows it unless the environment sets one."""

from __future__ import annotations

import os
import pwd
from typing import Any

from pyman.errors import PymanError


def home_in_container(host_home: str, destinations: list[str], workdir: str) -> str:
    d = os.path.normpath(host_home or "/")
    dests = {os.path.normpath(x) for x in destinations}
    while d != "/":
        if d in dests:
            return os.path.normpath(host_home)
        d = os.path.dirname(d)
    return workdir


def lookup(user: str, cid: str) -> pwd.struct_passwd:
    """A host user by name, else by uid (Go's user.Lookup then LookupId); Podman's error."""
    try:
        return pwd.getpwnam(user)
    except KeyError:
        pass
    if user.isdigit():
        try:
            return pwd.getpwuid(int(user))
        except KeyError:
            what = f"userid {user}"
    else:
        what = f"user {user}"
    raise PymanError(f"creating temporary passwd file for container {cid}: user: unknown "
                     f"{what}", exit_code=126)


def entry(pw: pwd.struct_passwd, destinations: list[str], workdir: str) -> dict[str, Any]:
    return {"name": pw.pw_name, "uid": pw.pw_uid, "gid": pw.pw_gid,
            "gecos": pw.pw_gecos.split(",")[0],
            "home": home_in_container(pw.pw_dir, destinations, workdir)}


def passwd_users(cid: str, keep_id: bool, hostusers: list[str], destinations: list[str],
                 workdir: str) -> list[dict[str, Any]]:
    users = [entry(lookup(u, cid), destinations, workdir) for u in hostusers]
    if keep_id:
        users.append(entry(pwd.getpwuid(os.getuid()), destinations, workdir))
    return users
