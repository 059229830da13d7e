"""Which OCI runtime works on this host, and why the others do not.

Each installed runtime is tried for real once (pyman.runtime.trial: ``create`` + ``delete``
of a tiny container as root in a user namespace, as the monitor will run it). The verdicts are
cached as JSON in the runtime dir, keyed by each binary's path, mtime and size, the cgroup
layout and the kernel, so a `pyman run` pays a few stats, not a trial. Example verdict on a
cgroup v1 host whose unified hierarchy still holds a controller: crun 1.8.1 refuses with
``cgroups in hybrid mode not supported, drop all controllers from cgroupv2``, runc works.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from pyman.errors import RuntimeNotFoundError
from pyman.runtime.oci import OCIRuntime, error_from_output

CACHE_NAME = "oci-runtimes.json"
CACHE_VERSION = 1
KNOWN = ("runc", "crun")
SEARCH_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def install_hint() -> str:
    from pyman.rootless.packages import install_command

    return f"install crun or runc: `{install_command('crun')}` or `{install_command('runc')}`"


@dataclass
class RuntimeStatus:
    """One OCI runtime found on the host, and whether it works here."""

    name: str
    path: str
    version: str
    ok: bool
    reason: str = ""  # the runtime's own words when it failed the trial


@dataclass
class Detection:
    """The OCI runtimes found on the host (cached between commands)."""

    statuses: list[RuntimeStatus] = field(default_factory=list)
    cached: bool = False

    @property
    def chosen(self) -> RuntimeStatus | None:
        return next((s for s in self.statuses if s.ok), None)

    def summary(self) -> str:
        """One line for `pyman info`: ``runc (crun 1.8.1 rejected: <reason>)``."""
        chosen = self.chosen
        rejected = [f"{s.name} {s.version} rejected: {s.reason}".replace("  ", " ")
                    for s in self.statuses if not s.ok]
        head = chosen.name if chosen else "none"
        return f"{head} ({'; '.join(rejected)})" if rejected else head


Trial = Callable[[str, str], RuntimeStatus]


def search_path() -> list[str]:
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    return dirs + [d for d in SEARCH_DIRS if d not in dirs]


def find_binary(name: str) -> str | None:
    """``name`` on PATH or in the sbin dirs (often missing from a user's PATH); an explicit
    path is taken as it is."""
    if os.sep in name:
        return name if os.access(name, os.X_OK) and os.path.isfile(name) else None
    return shutil.which(name, path=os.pathsep.join(search_path()))


def cgroup_layout(mountinfo: str = "/proc/self/mountinfo") -> str:
    """``v2``, ``v1``, or ``hybrid:<controllers of the unified hierarchy>`` (what crun
    checks: it refuses hybrid mode while cgroup v2 holds controllers)."""
    types: dict[str, str] = {}
    try:
        with open(mountinfo) as f:
            for line in f:
                left, _, right = line.partition(" - ")
                point = left.split()[4] if len(left.split()) > 4 else ""
                fstype = right.split()[0] if right else ""
                if point == "/sys/fs/cgroup" or point.startswith("/sys/fs/cgroup/"):
                    types[point] = fstype
    except OSError:
        return "unknown"
    if types.get("/sys/fs/cgroup") == "cgroup2":
        return "v2"
    unified = [p for p, t in types.items() if t == "cgroup2"]
    if not unified:
        return "v1" if types else "none"
    try:
        with open(os.path.join(unified[0], "cgroup.controllers")) as f:
            controllers = ",".join(f.read().split())
    except OSError:
        controllers = "?"
    return f"hybrid:{controllers}"


def preferred_order(layout: str) -> tuple[str, ...]:
    # Podman's default: crun on cgroup v2, runc on v1 and hybrid hosts
    return ("crun", "runc") if layout == "v2" else ("runc", "crun")


def runtime_version(path: str) -> str:
    """``1.1.5+ds1`` from ``runc version 1.1.5+ds1``; "" when it does not say."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, timeout=10,
                             check=False).stdout.decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        return ""
    for line in out.splitlines():
        words = line.split()
        if len(words) >= 3 and words[1] == "version":
            return words[2]
    return ""


def cache_key(binaries: dict[str, str], layout: str) -> dict[str, object]:
    stamps: dict[str, list[int]] = {}
    for name, path in sorted(binaries.items()):
        try:
            st = os.stat(path)
            stamps[name] = [st.st_mtime_ns, st.st_size]
        except OSError:
            stamps[name] = [0, 0]
    return {"version": CACHE_VERSION, "binaries": dict(sorted(binaries.items())),
            "stamps": stamps, "cgroups": layout, "kernel": os.uname().release}


def trial_runtime(path: str, work_dir: str) -> RuntimeStatus:
    """Create and delete a container with ``path`` for real (in a child process)."""
    from pyman.runtime.spec import SpecOptions, build_spec

    name = os.path.basename(path)
    version = runtime_version(path)
    os.makedirs(work_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".trial-{name}-", dir=work_dir)
    try:
        rootfs = os.path.join(tmp, "rootfs")
        os.mkdir(rootfs)
        # an empty executable: create checks it exists and may run; nothing is ever started
        fd = os.open(os.path.join(rootfs, "true"), os.O_CREAT | os.O_WRONLY, 0o755)
        os.close(fd)
        # only the caller's own uid is mapped in the trial's namespace: no gid 5 for devpts
        spec = build_spec(SpecOptions(rootfs=rootfs, args=["/true"], hostname="trial",
                                      devpts_gid=None))
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(spec, f)
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "trial.py")
        argv = [sys.executable, "-I", "-S", script, path, tmp, os.path.join(tmp, "state"),
                f"pyman-trial-{os.getpid()}"]
        proc = subprocess.run(argv, capture_output=True, timeout=60, check=False)
        out = proc.stdout.decode(errors="replace").strip().splitlines()
        try:
            verdict = json.loads(out[-1]) if out else {}
        except ValueError:
            verdict = {}
        if not verdict:
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            last = err[-1] if err else f"exit status {proc.returncode}"
            return RuntimeStatus(name, path, version, False, f"trial failed: {last}")
        ok = bool(verdict.get("ok"))
        reason = "" if ok else error_from_output(str(verdict.get("error", ""))) or "failed"
        return RuntimeStatus(name, path, version, ok, reason)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return RuntimeStatus(name, path, version, False, f"trial failed: {exc}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _load(cache: str, key: dict[str, object]) -> list[RuntimeStatus] | None:
    try:
        with open(cache) as f:
            data = json.load(f)
        if data.get("key") != key:
            return None
        return [RuntimeStatus(**s) for s in data["results"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _store(cache: str, key: dict[str, object], results: list[RuntimeStatus]) -> None:
    tmp = f"{cache}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w") as f:
            json.dump({"key": key, "results": [asdict(s) for s in results]}, f, indent=1)
        os.replace(tmp, cache)
    except OSError:
        pass  # a cache we cannot write only costs the next run another trial


def _installed(layout: str) -> tuple[dict[str, str], str]:
    return {n: p for n in preferred_order(layout) if (p := find_binary(n))}, layout


def detect(runtime_dir: str, *, trial: Trial = trial_runtime) -> Detection:
    """Try every installed runtime (once per cache key) in preference order."""
    binaries, layout = _installed(cgroup_layout())
    key = cache_key(binaries, layout)
    cache = os.path.join(runtime_dir, CACHE_NAME)
    cached = _load(cache, key)
    if cached is not None:
        return Detection(cached, cached=True)
    results = [trial(path, runtime_dir) for path in binaries.values()]
    _store(cache, key, results)
    return Detection(results)


def select(runtime_dir: str, runtime_root: str, explicit: str | None = None,
           *, trial: Trial = trial_runtime) -> OCIRuntime:
    """The runtime to use. An explicit choice (``--runtime``, containers.conf ``runtime``) is
    honoured as given, without a trial; otherwise the first that passed its trial."""
    if explicit:
        path = find_binary(explicit)
        if path is None:
            raise RuntimeNotFoundError(
                f'default OCI runtime "{explicit}" not found (looked in '
                f"{os.pathsep.join(search_path())}): {install_hint()}, or choose another "
                "with --runtime")
        known = _load(os.path.join(runtime_dir, CACHE_NAME),
                      cache_key(_installed(cgroup_layout())[0], cgroup_layout()))
        version = next((s.version for s in known or [] if s.path == path), "")
        return OCIRuntime(path, runtime_root, name=os.path.basename(path), version=version)
    found = detect(runtime_dir, trial=trial)
    chosen = found.chosen
    if chosen is None:
        if not found.statuses:
            raise RuntimeNotFoundError(f"no OCI runtime found: {install_hint()}")
        why = "; ".join(f"{s.name}: {s.reason}" for s in found.statuses)
        raise RuntimeNotFoundError(f"no working OCI runtime ({why}): {install_hint()}")
    return OCIRuntime(chosen.path, runtime_root, name=chosen.name, version=chosen.version)
