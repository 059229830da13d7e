"""`pyman system check`: every prerequisite of a rootless run, tried here, each with its fix.

A check is ``ok``, ``warn`` (something optional is missing: limits, lingering, speed) or
``fail`` (a plain `pyman run` cannot work without it). The namespace probes run in a child
(rootless/probe.py), the OCI runtime's in its own trial (runtime/detect.py), so what is
reported is what the kernel and the tools answered, not what a config file promises.
The host checks (session, cgroups, filesystems) are in syscheck_host.py.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import pyman
from pyman.config import Paths
from pyman.rootless.packages import install_command

MIN_IDS = 65536  # ids 0..65535: what images' files and users are made of


@dataclass
class Check:
    name: str
    status: Literal["ok", "warn", "fail"]
    detail: str  # what was found; for warn/fail, also the fix

    def line(self) -> str:
        return f"{self.status:<5} {self.name + ':':<17} {self.detail}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def check_subids(kind: str, path: str) -> Check:
    from pyman.errors import PymanError
    from pyman.rootless.subid import free_range, subid_ranges

    user = _user()
    own = os.getuid() if kind == "subuid" else os.getgid()
    flag = "--add-subuids" if kind == "subuid" else "--add-subgids"
    try:
        ranges = subid_ranges(Path(path), user, own, kind)
    except PymanError as exc:
        return Check(f"{kind}s", "fail", str(exc))
    try:
        text = Path(path).read_text()
    except OSError:
        text = ""
    fix = f"as root run `usermod {flag} {free_range(text)} {user}`"
    total = sum(r.count for r in ranges)
    shown = ", ".join(f"{r.start}-{r.start + r.count - 1}" for r in ranges)
    if total + 1 < MIN_IDS:
        return Check(f"{kind}s", "warn",
                     f"{user} has {total} {kind}s in {path} ({shown}): images whose files or "
                     f"users have ids up to 65535 need {MIN_IDS - 1}; {fix}")
    return Check(f"{kind}s", "ok", f"{shown} ({total} ids) for {user} in {path}")


def check_idmap_tool(name: str) -> Check:
    from pyman.rootless.userns import find_tool, privilege_problem

    path = find_tool(name)
    if path is None:
        return Check(name, "fail", f"{name} is not installed: as root run "
                                   f"`{install_command('uidmap')}`")
    problem = privilege_problem(path)
    if problem:
        return Check(name, "fail", problem)
    return Check(name, "ok", path)


def probe_namespaces(store: str) -> dict[str, str]:
    """rootless/probe.py's verdicts (see there), run as its own process."""
    script = os.path.join(os.path.dirname(os.path.abspath(pyman.__file__)), "rootless",
                          "probe.py")
    try:
        proc = subprocess.run([sys.executable, "-I", "-S", script, store], capture_output=True,
                              timeout=30, check=False)
        data = json.loads(proc.stdout.decode(errors="replace").strip().splitlines()[-1])
        return {k: str(v) for k, v in data.items()}
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired) as exc:
        why = f"the probe failed: {exc}"
        return {"userns": why, "mount": "-", "overlay": "-"}


def _sysctl(name: str) -> str | None:
    try:
        with open("/proc/sys/" + name.replace(".", "/")) as f:
            return f.read().strip()
    except OSError:
        return None


def check_userns(probe: dict[str, str], sysctl: Callable[[str], str | None] | None = None
                 ) -> Check:
    """``sysctl``: reads a sysctl by name (the host's by default)."""
    import errno

    sysctl = sysctl or _sysctl
    from pyman.rootless.enter import explain_unshare_error

    err = probe.get("userns", "")
    if err:
        name = err.split(":", 1)[0]
        code = getattr(errno, name, errno.EPERM) if name.isupper() else errno.EPERM
        return Check("user namespaces", "fail", str(explain_unshare_error(OSError(code, err))))
    if probe.get("mount"):
        if sysctl("kernel.apparmor_restrict_unprivileged_userns") == "1":
            return Check("user namespaces", "fail",
                         "AppArmor lets unprivileged user namespaces be made but takes their "
                         "capabilities (kernel.apparmor_restrict_unprivileged_userns = 1): as "
                         "root run `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` "
                         "(persist it in /etc/sysctl.d/), or give pyman's python an AppArmor "
                         "profile with `userns,`")
        return Check("user namespaces", "fail",
                     f"a mount inside a new user namespace fails ({probe['mount']}): a "
                     "security module (AppArmor, SELinux) or a seccomp filter restricts "
                     "user namespaces for this user")
    return Check("user namespaces", "ok", f"allowed (user.max_user_namespaces = "
                                          f"{sysctl('user.max_user_namespaces') or '?'})")


def fuse_usable() -> str:
    """"" when /dev/fuse can be opened for reading and writing, else why not."""
    try:
        os.close(os.open("/dev/fuse", os.O_RDWR))
        return ""
    except OSError as exc:
        return f"/dev/fuse cannot be opened: {exc.strerror}"


def check_overlay(paths: Paths, probe: dict[str, str]) -> list[Check]:
    """Kernel overlay in a user namespace on the store's filesystem, else fuse-overlayfs (and
    /dev/fuse, which keep-id containers need in any case)."""
    import shutil

    fuse = paths.mount_program or shutil.which("fuse-overlayfs") or ""
    fuse_err = fuse_usable()
    dev = Check("/dev/fuse", "ok", "usable (fuse-overlayfs)") if not fuse_err else None
    if paths.driver == "vfs":
        main = Check("overlay", "ok", "not needed: storage.conf's driver is vfs (a full copy "
                                      "of the layers per container)")
        return [main, dev or Check("/dev/fuse", "warn", f"{fuse_err}: --userns=keep-id "
                                   "needs fuse-overlayfs; as root run `chmod 0666 /dev/fuse`")]
    kernel = probe.get("overlay", "-")
    install = f"as root run `{install_command('fuse-overlayfs')}`"
    vfs = ('or set driver = "vfs" under [storage] in '
           f'{paths.config / "storage.conf"} (slower, more space)')
    if not fuse:
        fuse_part = "fuse-overlayfs is not installed"
    elif not os.access(fuse, os.X_OK):
        fuse_part = f"{fuse} cannot be run"
    else:
        fuse_part = ""
    if kernel == "" and not paths.mount_program:
        main = Check("overlay", "ok", f"kernel overlay in a user namespace on {paths.data}")
        if fuse_part:
            dev = Check("fuse-overlayfs", "warn", f"{fuse_part}: --userns=keep-id needs it; "
                                                  f"{install}")
            return [main, dev]
        return [main, dev or Check("/dev/fuse", "warn", f"{fuse_err}: --userns=keep-id "
                                   "needs it; as root run `chmod 0666 /dev/fuse`")]
    why = ("storage.conf sets mount_program" if paths.mount_program else
           f"kernel overlay fails in a user namespace on {paths.data} ({kernel})")
    if fuse_part:
        return [Check("overlay", "fail", f"{why} and {fuse_part}: {install}, {vfs}")]
    if fuse_err:
        return [Check("overlay", "ok", f"{why}: fuse-overlayfs ({fuse}) is used"),
                Check("/dev/fuse", "fail", f"{fuse_err}, so fuse-overlayfs cannot run: as "
                                           f"root run `chmod 0666 /dev/fuse`, {vfs}")]
    return [Check("overlay", "ok", f"{why}: fuse-overlayfs ({fuse}) is used"), dev
            or Check("/dev/fuse", "ok", "usable")]


def check_runtime(paths: Paths, explicit: str | None) -> Check:
    from pyman.errors import PymanError
    from pyman.runtime.select import runtime_report

    try:
        report = runtime_report(paths, explicit)
    except PymanError as exc:
        return Check("OCI runtime", "fail", str(exc))
    install = f"as root run `{install_command('crun')}` or `{install_command('runc')}`"
    if report.get("error"):
        return Check("OCI runtime", "fail", str(report["error"]))
    if not report["name"]:
        rejected = "; ".join(f"{r['name']}: {r['reason']}" for r in report["rejected"])
        if rejected:
            return Check("OCI runtime", "fail", f"no runtime could start a container here "
                                                f"({rejected}): {install}")
        return Check("OCI runtime", "fail", f"neither crun nor runc is installed: {install}")
    if report.get("chosenBy"):  # named by --runtime or containers.conf: used without a trial
        origin = report["chosenBy"]
        reason = _trial_verdict(paths, report)
        if reason:
            return Check("OCI runtime", "fail",
                         f"{report['name']} (set by {origin}) cannot start a container here: "
                         f"{reason}; name another runtime there ({report['summary']})")
        return Check("OCI runtime", "ok", f"{report['name']} ({report['path']}, set by "
                                          f"{origin}); trial: {report['summary']}")
    return Check("OCI runtime", "ok", f"{report['summary']} starts containers here "
                                      f"({report['path']})")


def _trial_verdict(paths: Paths, report: dict[str, Any]) -> str:
    """Why the runtime ``report`` names failed its trial ("" when it passed): the cached
    verdict for runc and crun, a trial of its own for any other."""
    from pyman.runtime.detect import trial_runtime

    path = os.path.realpath(report["path"])
    for r in report["rejected"]:
        if os.path.realpath(r["path"]) == path:
            return str(r["reason"])
    if path in {os.path.realpath(p) for p in report.get("tried", [])}:
        return ""  # passed its trial (it is not among the rejected)
    status = trial_runtime(report["path"], str(paths.runtime))
    return "" if status.ok else status.reason
