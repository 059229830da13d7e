"""Playing a generated systemd unit without systemd (none runs on the test machines): its
Exec lines parsed as systemd parses them (continuations, quotes, specifiers, $$) and run in
systemd's order in the environment systemd would give them, with a real notify socket."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from notify_util import NotifyListener


@dataclass
class Unit:
    name: str  # with .service
    sections: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def all(self, section: str, key: str) -> list[str]:
        return [v for k, v in self.sections.get(section, []) if k == key]

    def one(self, section: str, key: str) -> str:
        values = self.all(section, key)
        assert len(values) == 1, (key, values)
        return values[0]


def parse_unit(path: Path) -> Unit:
    unit = Unit(path.name)
    section = ""
    pending = ""
    for raw in path.read_text().splitlines():
        if pending:
            raw, pending = pending + " " + raw, ""
        if raw.endswith("\\"):  # a continuation: backslash and newline become a space
            pending = raw[:-1]
            continue
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            unit.sections.setdefault(section, [])
            continue
        key, _, value = line.partition("=")
        unit.sections[section].append((key.strip(), value.strip()))
    return unit


def specifiers(word: str, unit: Unit, runtime: str) -> str:
    out, i = "", 0
    while i < len(word):
        if word[i] == "%" and i + 1 < len(word):
            spec = word[i + 1]
            out += {"%": "%", "t": runtime, "n": unit.name,
                    "N": unit.name.removesuffix(".service")}[spec]
            i += 2
            continue
        out += word[i]
        i += 1
    return out


def exec_argv(line: str, unit: Unit, runtime: str) -> list[str]:
    """systemd's Exec= words: quotes and escapes, then specifiers, then $$ -> $."""
    return [specifiers(w, unit, runtime).replace("$$", "$") for w in shlex.split(line)]


def unit_env(unit: Unit, base: dict[str, str], runtime: str) -> dict[str, str]:
    env = {**base, "XDG_RUNTIME_DIR": runtime}
    for value in unit.all("Service", "Environment"):
        for word in shlex.split(value):
            key, _, val = word.partition("=")
            env[key] = specifiers(val, unit, runtime)
    return env


def private_runtime_dir() -> str:
    """A user runtime dir of our own (0700, short: socket paths live under it)."""
    return tempfile.mkdtemp(prefix="pyman-xdg-", dir="/tmp")


class Player:
    """Runs one unit's start and stop as systemd would, checking every step's status."""

    def __init__(self, path: Path, base_env: dict[str, str], runtime: str) -> None:
        self.unit = parse_unit(path)
        self.runtime = runtime
        self.env = unit_env(self.unit, base_env, runtime)
        self.notify: NotifyListener | None = None
        self.main_pid = 0

    def _run(self, key: str) -> list[subprocess.CompletedProcess[str]]:
        done = []
        for line in self.unit.all("Service", key):
            argv = exec_argv(line, self.unit, self.runtime)
            r = subprocess.run(argv, env=self.env, capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, timeout=120)
            assert r.returncode == 0, (key, argv, r.stdout, r.stderr)
            done.append(r)
        return done

    def start(self) -> int:
        """ExecStartPre, ExecStart; then what systemd waits for: READY=1 (Type=notify) or
        the PIDFile (Type=forking). The service's main pid."""
        kind = self.unit.one("Service", "Type")
        if kind == "notify":
            assert self.unit.one("Service", "NotifyAccess") == "all"
            self.notify = NotifyListener()
            self.env["NOTIFY_SOCKET"] = self.notify.address
        self._run("ExecStartPre")
        self._run("ExecStart")
        if self.notify is not None:
            assert self.notify.wait_for("READY") == "1", self.notify.messages
            self.main_pid = int(self.notify.value("MAINPID") or 0)
        else:
            assert kind == "forking"
            pid_file = specifiers(self.unit.one("Service", "PIDFile"), self.unit,
                                  self.runtime)
            self.main_pid = int(Path(pid_file).read_text().strip())
        return self.main_pid

    def stop(self) -> None:
        self._run("ExecStop")
        self._run("ExecStopPost")
        if self.notify is not None:
            self.notify.close()
            self.notify = None
            self.env.pop("NOTIFY_SOCKET", None)


def verify(paths: list[Path], env: dict[str, str], runtime: str) -> None:
    """systemd-analyze verify --user: quiet means the units are sound (it warns on stderr
    and still exits 0, so both streams must be empty)."""
    v = subprocess.run(["systemd-analyze", "--user", "verify", *map(str, paths)],
                       env={**env, "XDG_RUNTIME_DIR": runtime}, cwd=paths[0].parent,
                       capture_output=True, text=True, timeout=120)
    assert (v.returncode, v.stdout, v.stderr) == (0, "", ""), (v.stdout, v.stderr)


def cleanup_dir(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
    if os.path.exists(path):
        subprocess.run(["unshare", "--map-auto", "--map-root-user", "rm", "-rf", path],
                       capture_output=True, timeout=60)


REAPER = """
import ctypes, json, os, subprocess, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans come to us
argv = json.loads(sys.argv[1])
rc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True).returncode
codes = {}
while True:
    try:
        pid, status = os.wait()
    except ChildProcessError:
        break
    codes[pid] = os.waitstatus_to_exitcode(status)
print(json.dumps({"rc": rc, "codes": codes}))
"""


def run_reaped(argv: list[str], env: dict[str, str]) -> tuple[int, dict[int, int]]:
    """Run ``argv`` under a child subreaper, as systemd is for a unit's processes: returns its
    status and the exit status of every process orphaned to it (the monitor among them)."""
    import json
    import sys

    r = subprocess.run([sys.executable, "-c", REAPER, json.dumps(argv)], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    return out["rc"], {int(k): v for k, v in out["codes"].items()}
