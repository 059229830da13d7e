"""Seccomp profiles -> the OCI spec's linux.seccomp object (stdlib only: the monitor uses it).

Profiles are in the containers/Docker format (``defaultAction``, ``archMap``, ``syscalls``
whose entries may carry ``includes``/``excludes`` conditions on capabilities, architectures
and kernel versions); files already in the OCI shape (``architectures``) are taken too.
pyman's own default is ``seccomp_default.json`` next to this file, read only when a container
starts with it.
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

DEFAULT_PROFILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "seccomp_default.json")
# uname -m -> libseccomp's name of the native architecture
NATIVE_ARCH = {
    "x86_64": "SCMP_ARCH_X86_64", "i386": "SCMP_ARCH_X86", "i686": "SCMP_ARCH_X86",
    "aarch64": "SCMP_ARCH_AARCH64", "armv7l": "SCMP_ARCH_ARM", "armv6l": "SCMP_ARCH_ARM",
    "ppc64le": "SCMP_ARCH_PPC64LE", "ppc64": "SCMP_ARCH_PPC64", "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64", "mips64": "SCMP_ARCH_MIPS64",
}


class ProfileError(ValueError):
    pass


def load_profile(path: str) -> dict[str, Any]:
    """A profile file, parsed and checked for shape (not yet resolved for a container)."""
    with open(path) as f:
        try:
            data = json.load(f)
        except ValueError as exc:
            raise ProfileError(f"decoding seccomp profile failed: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("syscalls", []), list):
        raise ProfileError("decoding seccomp profile failed: not a seccomp profile object")
    return data


def _kernel_at_least(version: str, release: str) -> bool:
    def parts(v: str) -> tuple[int, ...]:
        out = []
        for p in v.split("-")[0].split(".")[:2]:
            digits = "".join(ch for ch in p if ch.isdigit())
            out.append(int(digits or 0))
        return tuple(out)

    return parts(release) >= parts(version)


def _applies(entry: dict[str, Any], caps: set[str], machine: str, release: str) -> bool:
    inc = entry.get("includes") or {}
    exc = entry.get("excludes") or {}
    if inc.get("caps") and not all(c in caps for c in inc["caps"]):
        return False
    if inc.get("arches") and machine not in inc["arches"]:
        return False
    if inc.get("minKernel") and not _kernel_at_least(inc["minKernel"], release):
        return False
    if exc.get("caps") and any(c in caps for c in exc["caps"]):
        return False
    if exc.get("arches") and machine in exc["arches"]:
        return False
    return True


def _architectures(profile: dict[str, Any], machine: str) -> list[str]:
    if "architectures" in profile:  # already the OCI shape
        return list(profile["architectures"] or [])
    native = NATIVE_ARCH.get(machine)
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == native:
            return [native, *(entry.get("subArchitectures") or [])]
    return [native] if native and profile.get("archMap") else []


def to_oci(profile: dict[str, Any], capabilities: Sequence[str], *,
           machine: str | None = None, release: str | None = None) -> dict[str, Any] | None:
    """linux.seccomp for a container holding ``capabilities`` (its bounding set) on this
    machine; None for a profile without a default action (Podman applies no filter then)."""
    if not profile.get("defaultAction"):
        return None
    uname = os.uname()
    machine = machine or uname.machine
    release = release or uname.release
    caps = set(capabilities)
    default_errno = profile.get("defaultErrnoRet")
    out: dict[str, Any] = {"defaultAction": profile["defaultAction"]}
    if default_errno is not None:
        out["defaultErrnoRet"] = default_errno
    arches = _architectures(profile, machine)
    if arches:
        out["architectures"] = arches
    if profile.get("flags"):
        out["flags"] = list(profile["flags"])
    syscalls = []
    for entry in profile.get("syscalls") or []:
        if not _applies(entry, caps, machine, release):
            continue
        names = list(entry.get("names") or [])
        if entry.get("name"):
            names.append(entry["name"])
        if not names:
            continue
        rule: dict[str, Any] = {"names": names, "action": entry.get("action", "")}
        errno = entry.get("errnoRet", default_errno if "ERRNO" in rule["action"] else None)
        if errno is not None:
            rule["errnoRet"] = errno
        if entry.get("args"):
            rule["args"] = [{"index": a["index"], "value": a.get("value", 0),
                             "valueTwo": a.get("valueTwo", 0), "op": a["op"]}
                            for a in entry["args"]]
        syscalls.append(rule)
    if syscalls:
        out["syscalls"] = syscalls
    return out


def container_seccomp(setting: str, capabilities: Sequence[str]) -> dict[str, Any] | None:
    """``setting``: "" (pyman's default profile), "unconfined" (none) or a profile's path."""
    if setting == "unconfined":
        return None
    return to_oci(load_profile(setting or DEFAULT_PROFILE), capabilities)
