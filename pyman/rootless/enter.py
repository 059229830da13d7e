"""The child half of entering a fully mapped user namespace.

Kept lean (no dataclasses, typing, pathlib): the monitor imports it on the path of every
`pyman run`, where each import costs start-up time.
"""

from __future__ import annotations

import errno
import os

from pyman.errors import RootlessSetupError
from pyman.rootless import libc


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def explain_unshare_error(err: OSError) -> RootlessSetupError:
    """Turn a raw EPERM/ENOSPC from unshare(CLONE_NEWUSER) into the exact fix."""
    if _read("/proc/sys/user/max_user_namespaces") == "0":
        return RootlessSetupError(
            "user namespaces are disabled (user.max_user_namespaces = 0): as root run "
            "`sysctl -w user.max_user_namespaces=28633` and persist it in /etc/sysctl.d/"
        )
    if _read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        return RootlessSetupError(
            "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0): "
            "as root run `sysctl -w kernel.unprivileged_userns_clone=1`"
        )
    if _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
        return RootlessSetupError(
            "AppArmor restricts unprivileged user namespaces "
            "(kernel.apparmor_restrict_unprivileged_userns = 1): as root run "
            "`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`, or add an AppArmor "
            "profile granting `userns,` to pyman's python"
        )
    if err.errno == errno.ENOSPC:
        return RootlessSetupError(
            "too many user namespaces (user.max_user_namespaces reached): raise it with "
            "`sysctl -w user.max_user_namespaces=28633`"
        )
    return RootlessSetupError(f"cannot create a user namespace: {os.strerror(err.errno or 0)}")


def _unshare(flags: int, to_parent: int) -> None:
    try:
        libc.unshare(libc.CLONE_NEWUSER | flags)
    except OSError as exc:
        os.write(to_parent, b"E" + str(exc.errno).encode())
        raise explain_unshare_error(exc) from None
    os.write(to_parent, b"U")


# unshare_early's outcome: False (not done), True, or the error child_enter raises
_unshared: bool | BaseException = False


def unshare_early(flags: int, to_parent: int) -> None:
    """child_enter's first half, done by a process before its other imports: the parent
    writes the id maps while they load. child_enter then only waits (or raises the error)."""
    global _unshared
    try:
        _unshare(flags, to_parent)
        _unshared = True
    except Exception as exc:  # noqa: BLE001 - raised again by child_enter
        _unshared = exc


def child_enter(flags: int, to_parent: int, from_parent: int) -> None:
    """Child half: unshare, tell the parent, wait for the maps, become root inside."""
    global _unshared
    early, _unshared = _unshared, False  # used once: a later call unshares again
    if isinstance(early, BaseException):
        raise early
    if not early:
        _unshare(flags, to_parent)
    if os.read(from_parent, 1) != b"M":
        raise RootlessSetupError("the id maps for the user namespace were not written")
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    try:
        os.setgroups([])
    except OSError:
        pass  # setgroups may be denied; the unmapped groups stay "nobody"




def join_enter(userns: str, flags: int, mntns: str = "") -> None:
    """Join the user namespace at ``userns`` (another container's monitor holds it, with its
    maps already written), then unshare ``flags`` there. Root in it at once: the host user
    is uid 0 of every namespace pyman makes."""
    try:
        fd = os.open(userns, os.O_RDONLY)
    except OSError as exc:
        raise RootlessSetupError(
            f"cannot join the user namespace of the container to share ({userns}): "
            f"{os.strerror(exc.errno or 0)}; is it still running?") from None
    try:
        libc.setns(fd, libc.CLONE_NEWUSER)
    except OSError as exc:
        raise RootlessSetupError(
            f"cannot join the user namespace {userns}: {os.strerror(exc.errno or 0)}") from None
    finally:
        os.close(fd)
    if mntns:  # a pod member: a copy of the infra monitor's mounts (its /dev/shm tmpfs)
        try:
            fd = os.open(mntns, os.O_RDONLY)
            try:
                libc.setns(fd, libc.CLONE_NEWNS)
            finally:
                os.close(fd)
        except OSError as exc:
            raise RootlessSetupError(
                f"cannot join the mount namespace {mntns}: {os.strerror(exc.errno or 0)}; "
                "is the pod's infra container still running?") from None
    libc.unshare(flags)
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
