"""--cap-add, --cap-drop, --privileged and --security-opt: checked and normalized at create,
so a bad value is refused before anything is written."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pyman.errors import PymanError

# Podman accepts these without SELinux/AppArmor and ignores them; pyman does the same
IGNORED_KEYS = ("label", "apparmor", "proc-opts")


@dataclass
class Security:
    """A container's capabilities, seccomp, masks and labels, as asked."""

    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    no_new_privileges: bool = False
    seccomp: str = ""  # "": pyman's default profile; "unconfined"; or a profile's path
    mask: list[str] = field(default_factory=list)
    unmask: list[str] = field(default_factory=list)  # paths, or ["ALL"]
    security_opt: list[str] = field(default_factory=list)  # as inspect shows them


def capabilities(add: list[str], drop: list[str]) -> tuple[list[str], list[str]]:
    from pyman.runtime.capabilities import UnknownCapability, normalize_all

    try:
        return normalize_all(add), normalize_all(drop)
    except UnknownCapability as exc:
        raise PymanError(f'"{exc}": unknown capability') from None


def parse(cap_add: list[str], cap_drop: list[str], privileged: bool,
          security_opt: list[str]) -> Security:
    sec = Security(privileged=privileged)
    sec.cap_add, sec.cap_drop = capabilities(cap_add, cap_drop)
    labels: list[str] = []
    for opt in security_opt:
        if opt == "no-new-privileges":
            sec.no_new_privileges = True
            continue
        key, eq, value = opt.partition("=")
        if not eq:  # Podman also takes the older key:value form
            key, eq, value = opt.partition(":")
        if not eq:
            raise PymanError(f'invalid --security-opt 1: "{opt}"')
        if key == "no-new-privileges" and value in ("true", "false"):
            sec.no_new_privileges = value == "true"
        elif key == "seccomp":
            sec.seccomp = _seccomp(value)
        elif key == "systempaths" and value == "unconfined":
            sec.unmask = ["ALL"]
        elif key in ("mask", "unmask"):
            paths = [p for p in value.split(":") if p]
            bad = [p for p in paths if not (p.startswith("/") or (key, p) == ("unmask", "ALL"))]
            if bad or not paths:
                raise PymanError(f'invalid --security-opt {key}: "{value}": paths must be '
                                 "absolute, separated by ':'")
            getattr(sec, key).extend(paths)
        elif key in IGNORED_KEYS:
            labels.append(opt)
        else:
            raise PymanError(f'invalid --security-opt 2: "{opt}"')
    shown = ["no-new-privileges"] if sec.no_new_privileges else []
    shown += labels
    if sec.seccomp:
        shown.append(f"seccomp={sec.seccomp}")
    shown += [f"mask={p}" for p in sec.mask] + [f"unmask={p}" for p in sec.unmask]
    sec.security_opt = shown
    return sec


def _seccomp(value: str) -> str:
    if value == "unconfined":
        return value
    from pyman.runtime.seccomp import ProfileError, load_profile

    path = os.path.abspath(value)
    try:
        load_profile(path)
    except OSError as exc:
        raise PymanError(f"opening seccomp profile failed: open {value}: "
                         f"{exc.strerror.lower() if exc.strerror else exc}") from None
    except ProfileError as exc:
        raise PymanError(f"loading seccomp profile ({value}) failed: {exc}") from None
    return path
